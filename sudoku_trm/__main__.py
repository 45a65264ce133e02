"""`python -m sudoku_trm` runs the same program as `sudoku-trm`."""

from sudoku_trm.cli.app import script

script()
