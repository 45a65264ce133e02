"""`python -m sudoku_trm` runs the same command-line app as `sudoku-trm`."""

from sudoku_trm.cli.app import main

main()
