"""Puzzle generation: unique puzzles of a chosen level, from nothing but a seed.

A complete grid comes from three random boxes on the diagonal (they share no row, column or box, so
any three permutations fit together), completed by the exact solver and then moved by a random
symmetry of Sudoku (sudoku/augment.py), so that the solver's own digit order leaves no trace. Givens
are then removed in random order, each removal kept only while the puzzle stays unique and solvable
at or below the asked level (sudoku/logic.py `LEVELS`); a puzzle that ends below its level (removal
never needed the harder step) is dropped and another grid drawn. Levels are checked by the same
kernels `check` grades with, so a generated puzzle always grades as its level.

No torch here (augment.py's numpy path imports none): generation runs on a fresh machine without data files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from sudoku_trm.sudoku import augment, solver
from sudoku_trm.sudoku.grid import CELLS, SIZE
from sudoku_trm.sudoku.logic import LEVELS, levels, logic_rounds

DIAGONAL_BOXES = (0, 4, 8)


@dataclass(frozen=True)
class Generated:
    puzzle: np.ndarray  # (81,) uint8, 0 blank
    solution: np.ndarray  # (81,) uint8
    level: str  # one of LEVELS
    attempts: int  # grids drawn for it (those that ended below the level were dropped)


def box_cells(box: int) -> np.ndarray:
    row, col = 3 * (box // 3), 3 * (box % 3)
    return np.array([(row + r) * SIZE + col + c for r in range(3) for c in range(3)])


def random_grid(rng: np.random.Generator) -> np.ndarray:
    """A complete valid grid (81,) uint8."""
    seeded = np.zeros(CELLS, dtype=np.uint8)
    for box in DIAGONAL_BOXES:
        seeded[box_cells(box)] = rng.permutation(SIZE) + 1
    grid = solver.solve(seeded)
    assert grid is not None  # three diagonal boxes never conflict, and every such start completes
    moved = augment.apply(grid[None], augment.random_symmetries(1, rng))
    return np.asarray(moved[0], dtype=np.uint8)


def _within(puzzle: np.ndarray, level: str) -> bool:
    """Unique and solvable at or below `level`. Logic's deductions are sound, so a puzzle it solves has
    exactly that one solution; only `guesses` needs the search to prove uniqueness."""
    if level == "singles":
        return bool(logic_rounds(puzzle[None], locked=False)[1][0])
    if level == "logic":
        return bool(logic_rounds(puzzle[None])[1][0])
    return solver.count_solutions(puzzle, limit=2) == 1


def carve(grid: np.ndarray, level: str, rng: np.random.Generator) -> np.ndarray:
    """Remove givens from a complete `grid` in random order while the puzzle stays within `level`."""
    puzzle = grid.copy()
    for cell in rng.permutation(CELLS):
        puzzle[cell] = 0
        if not _within(puzzle, level):
            puzzle[cell] = grid[cell]
    return puzzle


def generate(count: int, level: str, seed: int | None = None) -> Iterator[Generated]:
    """`count` unique puzzles of `level` (one of LEVELS); the same seed gives the same puzzles, and
    the first k of any count are the same k."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    # The level joins the seed, so that one seed does not give every level the same first grid.
    rng = np.random.default_rng(None if seed is None else [seed, LEVELS.index(level)])
    for _ in range(count):
        attempts = 0
        while True:
            attempts += 1
            grid = random_grid(rng)
            puzzle = carve(grid, level, rng)
            if levels(puzzle[None])[0] == level:
                yield Generated(puzzle, grid, level, attempts)
                break


# -- generated puzzle sets: training data that needs no file ------------------------------------------

GENERATED_PREFIX = "generated:"  # a data source `generated:LEVEL:COUNT[:SEED]`, made here instead of read


@dataclass(frozen=True)
class GeneratedSource:
    """`count` puzzles of `level` from `seed`: what a `generated:LEVEL:COUNT[:SEED]` data source names."""

    level: str
    count: int
    seed: int = 0

    @property
    def name(self) -> str:
        return f"generated-{self.level}-{self.count}-seed{self.seed}"


def generated_source(spec: str) -> GeneratedSource | None:
    """The source a `generated:LEVEL:COUNT[:SEED]` spec names, None for anything else (a file); a spec
    that starts so but names no level or count is a ValueError saying what is expected."""
    if not spec.startswith(GENERATED_PREFIX):
        return None
    parts = spec[len(GENERATED_PREFIX) :].split(":")
    expected = f"expected generated:LEVEL:COUNT[:SEED], LEVEL one of {', '.join(LEVELS)}"
    if len(parts) not in (2, 3) or parts[0] not in LEVELS:
        raise ValueError(f"{spec}: {expected}")
    try:
        numbers = [int(part) for part in parts[1:]]
    except ValueError:
        raise ValueError(f"{spec}: {expected}") from None
    if numbers[0] < 1 or (len(numbers) == 2 and numbers[1] < 0):
        raise ValueError(f"{spec}: COUNT must be >= 1 and SEED >= 0")
    return GeneratedSource(parts[0], *numbers)
