"""cli"""

from sudoku_trm.cli.app import app, main

__all__ = ["app", "main"]
