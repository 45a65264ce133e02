"""Sudoku geometry and rule checks shared by the parser, the solver and evaluation.

A grid is a numpy uint8 array of 81 cells in row-major order, 0 for a blank and 1..9 for a digit.
Cells are named the way solvers' literature does: r1c1 is the top-left cell, r9c9 the bottom-right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 9
CELLS = 81
BLANK = 0


# Module-level tables, built once at import: rows, then columns, then boxes, 9 cell indices each.
_ROWS = [[r * 9 + c for c in range(9)] for r in range(9)]
_COLUMNS = [[r * 9 + c for r in range(9)] for c in range(9)]
_BOXES = [[(br * 3 + r) * 9 + bc * 3 + c for r in range(3) for c in range(3)] for br in range(3) for bc in range(3)]
UNITS = np.array(_ROWS + _COLUMNS + _BOXES, dtype=np.int64)  # (27, 9) cell indices
UNIT_NAMES = tuple(
    [f"row {i + 1}" for i in range(9)] + [f"column {i + 1}" for i in range(9)] + [f"box {i + 1}" for i in range(9)]
)


def cell_name(cell: int) -> str:
    """r{row}c{column}, both 1-based."""
    return f"r{cell // 9 + 1}c{cell % 9 + 1}"


_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


@dataclass(frozen=True)
class Conflict:
    """A digit that appears more than once in one unit."""

    unit: str
    digit: int
    cells: tuple[int, ...]

    def __str__(self) -> str:
        where = ", ".join(cell_name(c) for c in self.cells)
        count = _COUNT_WORDS.get(len(self.cells), str(len(self.cells)))
        return f"{self.unit} has {count} {self.digit}s ({where})"


def find_conflicts(grid: np.ndarray) -> list[Conflict]:
    """Every digit repeated within a row, column or box; blanks are ignored."""
    grid = np.asarray(grid).reshape(CELLS)
    conflicts = []
    for unit, name in zip(UNITS, UNIT_NAMES):
        values = grid[unit]
        counts = np.bincount(values, minlength=10)
        for digit in np.flatnonzero(counts[1:] > 1) + 1:
            cells = tuple(int(c) for c in unit[values == digit])
            conflicts.append(Conflict(name, int(digit), cells))
    return conflicts


def changed_givens(puzzle: np.ndarray, answer: np.ndarray) -> list[int]:
    """Cells where the answer differs from a digit given in the puzzle."""
    puzzle = np.asarray(puzzle).reshape(CELLS)
    answer = np.asarray(answer).reshape(CELLS)
    return [int(c) for c in np.flatnonzero((puzzle != BLANK) & (puzzle != answer))]


def answer_problems(puzzle: np.ndarray, answer: np.ndarray) -> list[str]:
    """Why `answer` is not a valid solution of `puzzle`; an empty list means it is one."""
    answer = np.asarray(answer).reshape(CELLS)
    problems = []
    blanks = np.flatnonzero(answer == BLANK)
    if blanks.size:
        problems.append(f"{blanks.size} cells left blank (first {cell_name(int(blanks[0]))})")
    for cell in changed_givens(puzzle, answer):
        problems.append(
            f"given {cell_name(cell)}={int(np.asarray(puzzle).reshape(CELLS)[cell])} changed to {int(answer[cell])}"
        )
    problems.extend(str(c) for c in find_conflicts(answer))
    return problems


def is_valid_solution(puzzle: np.ndarray, answer: np.ndarray) -> bool:
    return not answer_problems(puzzle, answer)


def valid_solutions(puzzles: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Vectorised `is_valid_solution` over a batch: (N, 81) puzzles and answers -> (N,) bool."""
    puzzles = np.asarray(puzzles).reshape(-1, CELLS)
    answers = np.asarray(answers).reshape(-1, CELLS)
    keeps_givens = ((puzzles == BLANK) | (puzzles == answers)).all(axis=1)
    by_unit = np.sort(answers[:, UNITS], axis=2)  # (N, 27, 9): each unit must read 1..9
    complete_units = (by_unit == np.arange(1, 10)).all(axis=(1, 2))
    return keeps_givens & complete_units


def has_conflicts(grids: np.ndarray) -> np.ndarray:
    """Vectorised test for `find_conflicts` over (N, 81) grids -> (N,) bool: some digit repeats in a unit.

    As bit masks, a unit's sum equals its OR exactly when no digit repeats.
    """
    grids = np.asarray(grids).reshape(-1, CELLS)
    bits = np.where(grids > 0, np.left_shift(1, grids.astype(np.uint16)), 0).astype(np.uint16)
    by_unit = bits[:, UNITS]  # (N, 27, 9)
    return (by_unit.sum(axis=2, dtype=np.uint16) != np.bitwise_or.reduce(by_unit, axis=2)).any(axis=1)
