"""sudoku-trm: a Tiny Recursive Model that solves Sudoku, trained with the CGAR curriculum."""

__version__ = "0.1.0"
