"""The Python API, as simple as the command: `from sudoku_trm import solve, check, generate, load_model`.

    from sudoku_trm import solve
    result = solve("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
    print(result.answer, result.valid, result.found_by)

One puzzle in (an 81-character string with `.` or `0` for blanks, or a 9x9 or 81-cell array), one result
out; a list (or an (N, 81) array) in, a list out. A puzzle that is not one raises the one-line
`InputError` the command prints (`<puzzle>: expected 81 cells, found 80`). `solve` takes the command's
efforts and settings (inference/settings.py) and runs them as the command does (inference/solving.py);
`check` is the exact solver's verdict of `sudoku-trm check`, `generate` the puzzles of `sudoku-trm
generate`. Each is a thin layer over those modules: this one only turns inputs and results into plain
Python. Torch is imported when a model is loaded or run, never by `check` and `generate`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku.grid import CELLS, SIZE, cell_name, valid_solutions
from sudoku_trm.sudoku.puzzles import Puzzle, format_line, parse_grid_string

if TYPE_CHECKING:
    from sudoku_trm.inference.solving import SolvedBatch
    from sudoku_trm.model.trm import TRM


@dataclass(frozen=True)
class Solution:
    """One puzzle solved: the answer, whether the rules accept it, and what it took."""

    puzzle: str  # as posed, `.` for blanks
    answer: str  # 81 digits (a cell the model left unsure still holds its best digit)
    valid: bool  # a full grid that breaks no rule and keeps every given
    found_by: str  # "model alone", "commit decoding", "guided search", "exact solver", ... (inference/found.py)
    steps: int  # model steps, over every call, round or chain
    model_calls: int  # runs of the model from a fresh start: search calls, commit rounds, chains, vote copies
    guesses: int  # digits guided search tried at branch points
    trace: tuple[str, ...] | None = None  # with trace=True: the answer after each step


@dataclass(frozen=True)
class Check:
    """The exact solver's verdict on one puzzle, as `sudoku-trm check --json` reports it."""

    puzzle: str
    verdict: str  # "unique", "several solutions" or "no solution"
    solutions: int  # 0, 1, or 2 meaning two or more
    guesses: int  # the exact solver's, to find the solutions and prove their count
    level: str | None  # a unique puzzle's level: "singles", "logic" or "guesses"
    solution: str | None  # a unique puzzle's solution


@dataclass(frozen=True)
class Generated:
    """A new puzzle with exactly one solution, of the level asked."""

    puzzle: str
    solution: str
    level: str


def solve(
    puzzles: Any,
    effort: str = "auto",
    model: TRM | str | Path | None = None,
    *,
    trace: bool = False,
    **settings: Any,
) -> Solution | list[Solution]:
    """Solve as `sudoku-trm solve --effort EFFORT` does. `effort`: auto (guided search; the model alone
    where `trace`, `steps` or `votes` ask to watch it), off, commit, search, fast, default or thorough.
    `settings`: SolveSettings' fields (steps, max_steps, votes, seed, batch_size, bf16, budget,
    commit_threshold). `model`: None for the shipped default (loaded once and kept), a loaded TRM, or a
    directory or Hub repo id for `load_model`. A puzzle without a solution is an InputError, as the
    command reports it; settings that cannot go together are a ValueError."""
    from sudoku_trm.inference.settings import SolveSettings
    from sudoku_trm.inference.solving import solve_puzzles

    grids, one = _grids(puzzles)
    chosen = SolveSettings(effort=effort, **settings)
    chosen = chosen.resolved(watch_alone=trace or chosen.steps is not None or chosen.votes > 1)
    problem = chosen.conflict(trace)
    if problem is not None:
        raise ValueError(problem)
    _refuse_unsolvable(grids, one)
    if not len(grids):
        return []
    batch = solve_puzzles(_model(model), grids, chosen, trace=trace)
    results = _solutions(batch)
    return results[0] if one else results


def check(puzzles: Any) -> Check | list[Check]:
    """The exact solver's verdict, as `sudoku-trm check` gives it: solutions, guesses, level."""
    from sudoku_trm.sudoku.checking import check_puzzles

    grids, one = _grids(puzzles)
    records, _ = check_puzzles([Puzzle(grid, None, "<puzzle>", i + 1) for i, grid in enumerate(grids)])
    fields = Check.__dataclass_fields__
    results = [Check(**{k: v for k, v in r.to_json().items() if k in fields}) for r in records]
    return results[0] if one else results


def generate(count: int | None = None, level: str = "singles", seed: int | None = None) -> Generated | list[Generated]:
    """New puzzles with one solution each, of `level` (singles, logic or guesses), as `sudoku-trm
    generate` makes them: one when `count` is None, else a list of `count`; the same seed, the same puzzles."""
    from sudoku_trm.sudoku.generate import generate as make

    wanted = 1 if count is None else count
    made = [Generated(format_line(g.puzzle), format_line(g.solution), g.level) for g in make(wanted, level, seed)]
    return made[0] if count is None else made


@functools.cache
def default_model() -> TRM:
    """The shipped default (or $SUDOKU_TRM_WEIGHTS), loaded on the first call and kept for the process."""
    from sudoku_trm.pretrained import load_model

    return load_model()


def _model(model: TRM | str | Path | None) -> TRM:
    """`solve`'s model argument as a model: a name or path is loaded (each call: pass the TRM to keep it)."""
    if model is None:
        return default_model()
    if isinstance(model, (str, Path)):
        from sudoku_trm.pretrained import load_model

        return load_model(model)
    return model


def _solutions(batch: SolvedBatch) -> list[Solution]:
    solutions = batch.solutions
    found, calls, guesses = batch.found_by(), batch.model_calls(), batch.guesses()
    valid = valid_solutions(solutions.puzzles, solutions.answers)
    results = []
    for i in range(len(batch)):
        steps = int(solutions.steps[i])
        trace = None
        if solutions.trace_answers is not None:
            trace = tuple(format_line(a) for a in solutions.trace_answers[i, :steps])
        puzzle, answer = format_line(solutions.puzzles[i]), format_line(solutions.answers[i])
        results.append(Solution(puzzle, answer, bool(valid[i]), found[i], steps, int(calls[i]), int(guesses[i]), trace))
    return results


# -- puzzles in ------------------------------------------------------------------------------------------


def _grids(puzzles: Any) -> tuple[np.ndarray, bool]:
    """(N, 81) uint8 grids, and whether one puzzle was given (then one result goes out)."""
    if isinstance(puzzles, str):
        return _grid(puzzles, "<puzzle>")[None], True
    try:
        array = np.asarray(puzzles)
    except ValueError:  # a ragged list: puzzles of different sizes, each judged below
        array = None
    if array is not None and array.ndim >= 1 and len(array) == 0:  # no puzzles: no results
        return np.zeros((0, CELLS), np.uint8), False
    if array is not None and (array.ndim == 0 or array.dtype.kind in "iuf"):
        if array.ndim <= 1 or array.shape == (SIZE, SIZE):
            return _grid(array, "<puzzle>")[None], True
        if array.ndim == 3 and array.shape[1:] == (SIZE, SIZE):
            array = array.reshape(len(array), CELLS)
    items = list(puzzles) if array is None or array.ndim != 2 else list(array)
    where = ["<puzzle>"] if len(items) == 1 else [f"<puzzle {i}>" for i in range(len(items))]
    return np.stack([_grid(item, name) for item, name in zip(items, where)]), False


def _grid(puzzle: Any, where: str) -> np.ndarray:
    """One puzzle as uint8[81]; anything else is the one-line InputError the command prints for it."""
    try:
        if isinstance(puzzle, str):
            return parse_grid_string(puzzle)
        cells = np.asarray(puzzle)
        if cells.dtype.kind not in "iuf" or (cells != np.round(cells)).any():
            raise InputError(f"expected a puzzle string or 81 whole-number cells, found {type(puzzle).__name__}")
        if cells.size != CELLS:
            raise InputError(f"expected 81 cells, found {cells.size}")
        cells = cells.reshape(CELLS)
        bad = np.flatnonzero((cells < 0) | (cells > SIZE))
        if len(bad):
            cell = int(bad[0])
            raise InputError(f"{cell_name(cell)} holds {cells[cell]}: a cell is 0 (blank) or a digit 1..9")
        return parse_grid_string(format_line(cells.astype(np.uint8)))  # conflicting givens, said as for text
    except InputError as error:
        raise InputError(error.message, where) from None


def _refuse_unsolvable(grids: np.ndarray, one: bool) -> None:
    """A puzzle without a solution, as `solve` reports it (the exact solver decides, as for the command)."""
    from sudoku_trm.sudoku.solver import analyse_batch

    if not len(grids):
        return
    _, counts, _ = analyse_batch(grids, limit=1)
    for i in np.flatnonzero(counts == 0):
        raise InputError("puzzle has no solution", "<puzzle>" if one or len(grids) == 1 else f"<puzzle {i}>")
