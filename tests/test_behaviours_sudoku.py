"""Rounds of logic (sudoku/logic.py) against hand-worked grids, one technique at a time (naked single, hidden
single in a row, a column, a box, locked candidates), and the generator's levels and seeds
(sudoku/generate.py): what `check`, `generate` and the per-step targets rely on."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import at, grid_with

from sudoku_trm.inference.search import legal_digits
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.generate import carve, generate, random_grid
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.logic import LEVELS, levels, logic_rounds


def transposed(grid: np.ndarray) -> np.ndarray:
    return grid.reshape(9, 9).T.ravel().copy()


def first_round(grid: np.ndarray, locked: bool = True) -> list[int]:
    """The cells logic places in round 1."""
    rounds, _, stall = logic_rounds(grid[None], locked=locked)
    assert stall[0] >= 0  # no contradiction
    return np.flatnonzero(rounds[0] == 1).tolist() if stall[0] >= 1 else []


def candidates(grid: np.ndarray, cell: int) -> int:
    return int(legal_digits(grid)[0, cell].sum())


# r5c5 sees 1 2 3 in its row, 4 5 6 in its column, 7 8 in its box: only 9 is left (nowhere else is 9 forced).
NAKED = grid_with(r5c1=1, r5c2=2, r5c3=3, r1c5=4, r2c5=5, r3c5=6, r4c4=7, r6c6=8)

# Row 2's 5 has one place, r2c2: r2c1 r2c3 r2c7 r2c8 r2c9 are filled and box 2's 5 (r1c5) strikes r2c4..6.
# Its column (r3c2 ... r9c2) and its box (row 3) keep other places for 5, and r2c2 has four candidates.
HIDDEN_IN_ROW = grid_with(r2c1=1, r2c3=2, r2c7=3, r2c8=4, r2c9=6, r1c5=5)

# Box 1's 5 has one place, r2c2: row 1's 5 (r1c5) strikes r1c1..3, column 1's (r5c1) r2c1 and r3c1, and
# r2c3 r3c2 r3c3 are filled. Row 2 keeps r2c7..9 and column 2 keeps r7c2..9 for it; r2c2 has six candidates.
HIDDEN_IN_BOX = grid_with(r1c5=5, r5c1=5, r2c3=1, r3c2=2, r3c3=3)

# Box 1 holds 1..6 in rows 2 and 3, so its 7 8 9 are locked in row 1: row 1 loses 9 outside box 1, and
# box 3's 9, which could go to r1c7 or r2c8, has one place left, r2c8. Singles alone see two.
LOCKED = grid_with(r2c1=1, r2c2=2, r2c3=3, r3c1=4, r3c2=5, r3c3=6, r3c7=7, r3c8=8, r3c9=1, r2c7=4, r1c8=2, r5c9=9)


def test_a_naked_single_is_placed_in_round_one():
    assert candidates(NAKED, at(5, 5)) == 1
    for locked in (False, True):
        assert first_round(NAKED, locked) == [at(5, 5)]


@pytest.mark.parametrize(
    "grid, cell",
    [
        (HIDDEN_IN_ROW, at(2, 2)),
        (transposed(HIDDEN_IN_ROW), at(2, 2)),  # the same in column 2
        (HIDDEN_IN_BOX, at(2, 2)),
        (transposed(HIDDEN_IN_BOX), at(2, 2)),
    ],
    ids=["row", "column", "box", "box-transposed"],
)
def test_a_hidden_single_is_placed_in_round_one_in_each_unit_kind(grid, cell):
    assert candidates(grid, cell) >= 4  # not a naked single
    for locked in (False, True):
        assert first_round(grid, locked) == [cell]
    rounds, _, _ = logic_rounds(grid[None])
    assert (rounds[0][grid > 0] == 0).all() and (rounds[0][grid == 0] >= 1).all()


def test_locked_candidates_let_a_single_through_that_singles_alone_miss():
    target = at(2, 8)
    assert candidates(LOCKED, target) >= 2
    assert target not in first_round(LOCKED, locked=False)
    assert target in first_round(LOCKED, locked=True)


def test_rounds_are_waves_each_computed_from_the_grid_as_the_round_starts():
    """Placing round 1's cells as givens turns round 2's cells into round 1's."""
    rounds, _, stall = logic_rounds(NAKED[None])
    placed = rounds[0] == 1
    solution = solver.solve(NAKED)
    assert solution is not None
    after = np.where(placed | (NAKED > 0), solution, 0).astype(np.uint8)
    again, _, _ = logic_rounds(after[None])
    later = (rounds[0] >= 2) & (rounds[0] <= stall[0])
    assert (again[0][later] == rounds[0][later] - 1).all()


# -- levels and the generator -----------------------------------------------------------------------------


def test_each_level_draws_its_own_grids_from_one_seed():
    for seed in (0, 5):
        solutions = [next(generate(1, level, seed=seed)).solution for level in LEVELS]
        assert len({s.tobytes() for s in solutions}) == len(LEVELS)


def test_seeds_are_repeatable_per_level_and_differ_between_seeds():
    for level in LEVELS:
        a = [m.puzzle.tobytes() for m in generate(2, level, seed=7)]
        assert a == [m.puzzle.tobytes() for m in generate(2, level, seed=7)]
        assert set(a).isdisjoint(m.puzzle.tobytes() for m in generate(2, level, seed=8))


@pytest.mark.parametrize("level", LEVELS)
def test_every_given_left_is_needed_at_its_level(level):
    """Carving stops only when no given can go: removing any one leaves the level (several solutions, or
    logic of that level no longer finishes)."""
    made = next(generate(1, level, seed=4))
    puzzle = made.puzzle
    assert levels(puzzle[None]) == [level] and valid_solutions(puzzle[None], made.solution[None])[0]
    for cell in np.flatnonzero(puzzle):
        fewer = puzzle.copy()
        fewer[cell] = 0
        if level == "guesses":
            assert solver.count_solutions(fewer, limit=2) == 2
        else:
            easier = LEVELS[: LEVELS.index(level) + 1]
            assert solver.count_solutions(fewer, limit=2) == 2 or levels(fewer[None])[0] not in easier


def test_carving_a_grid_at_the_singles_level_keeps_it_solvable_by_singles():
    rng = np.random.default_rng(3)
    grid = random_grid(rng)
    puzzle = carve(grid, "singles", rng)
    assert (puzzle > 0).sum() < 45  # many givens went
    assert ((puzzle == 0) | (puzzle == grid)).all()
    assert logic_rounds(puzzle[None], locked=False)[1][0]


def test_the_attempts_count_the_grids_drawn(monkeypatch):
    import sudoku_trm.sudoku.generate as generate_module

    drawn = []
    real = generate_module.random_grid
    monkeypatch.setattr(generate_module, "random_grid", lambda rng: drawn.append(1) or real(rng))
    made = list(generate(4, "logic", seed=2))
    assert all(m.attempts >= 1 for m in made) and sum(m.attempts for m in made) == len(drawn)


def test_bad_requests_are_refused_and_zero_puzzles_is_none():
    assert list(generate(0, "singles", seed=1)) == []
    with pytest.raises(ValueError, match="level must be one of singles, logic, guesses, got 'hard'"):
        list(generate(1, "hard"))
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        list(generate(-1, "logic"))
