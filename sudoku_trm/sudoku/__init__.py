"""sudoku"""
