"""Commit decoding: keep what the model is sure of, and run it again on the narrower puzzle.

A round runs the model on every unfinished puzzle, each to its own halting step. An answer that passes
the exact check ends its puzzle. Otherwise the blank cells whose probability reaches `threshold` and
whose digit breaks no rule (not with the puzzle's digits, not with another sure cell of the same round)
become givens, and the next round starts from the model's initial state on that puzzle. A puzzle stops
when it is solved, when a round finds nothing new to commit, or after `max_rounds`. No guess, no copy,
no exact solver: every digit in the answer is the model's. The first round is the model alone, a single
pass (`single`), which eval reports beside.

A wrong commit is not undone here (guided search, which branches and backtracks, builds on this); it
shows as an answer that fails the check, never as a valid one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from sudoku_trm.inference.engine import InferenceConfig, Pass, Solutions, Step, as_grids, finish, solve_steps
from sudoku_trm.inference.found import COMMIT_DECODING, MODEL_ALONE, UNSOLVED
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.grid import BLANK, CELLS, UNITS, valid_solutions

DEFAULT_THRESHOLD = 0.9
DEFAULT_MAX_ROUNDS = 20


@dataclass(frozen=True)
class CommitConfig:
    threshold: float = DEFAULT_THRESHOLD  # a cell is committed when the model's probability reaches this
    max_rounds: int = DEFAULT_MAX_ROUNDS  # model runs per puzzle at most (the first is the model alone)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"the commit threshold must lie in (0, 1], got {self.threshold}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {self.max_rounds}")


@dataclass
class CommitSolutions:
    """Commit decoding of N puzzles: the final answers, the model alone, and what each round did."""

    solutions: Solutions  # the last round's answers; `steps` are model steps summed over every round
    single: Solutions  # the first round: the model alone, one pass
    rounds: np.ndarray  # (N,) int: model runs per puzzle
    committed: np.ndarray  # (N,) int: cells the model committed as givens over all rounds
    solved_round: np.ndarray  # (N,) int: the round whose answer passed the check, 0 if none did

    def found_by(self) -> list[str]:
        """Per puzzle: "model alone" (round 1), "commit decoding" (a later round) or "unsolved"."""
        names = {0: UNSOLVED, 1: MODEL_ALONE}
        return [names.get(int(r), COMMIT_DECODING) for r in self.solved_round]


def sure_cells(grids: np.ndarray, answers: np.ndarray, confidence: np.ndarray, threshold: float) -> np.ndarray:
    """(N, 81) bool: the blank cells of `grids` worth committing. Their probability reaches `threshold`, and
    their digit appears nowhere in a unit they share with a digit of the grid or with another sure cell.
    Two sure cells of one unit with the same digit contradict each other: neither is committed."""
    grids = np.asarray(grids).reshape(-1, CELLS)
    candidate = (grids == BLANK) & (confidence >= threshold) & (answers > 0)
    proposed = np.where(candidate, answers, 0).astype(np.int64)
    placed = grids.astype(np.int64)
    # Per unit and digit: how many givens and how many candidates hold it.
    one_hot_placed = np.zeros((len(grids), CELLS, 10), dtype=np.int16)
    one_hot_proposed = np.zeros_like(one_hot_placed)
    rows = np.arange(len(grids))[:, None]
    cells = np.arange(CELLS)[None, :]
    one_hot_placed[rows, cells, placed] = 1
    one_hot_proposed[rows, cells, proposed] = 1
    in_unit_placed = one_hot_placed[:, UNITS].sum(2)  # (N, 27, 10)
    in_unit_proposed = one_hot_proposed[:, UNITS].sum(2)
    clash_by_unit = (in_unit_placed > 0) | (in_unit_proposed > 1)  # (N, 27, 10)
    clash = np.zeros((len(grids), CELLS), dtype=bool)
    for unit in range(len(UNITS)):  # 27 units: each of its cells clashes if its digit clashes there
        members = UNITS[unit]
        clash[:, members] |= np.take_along_axis(clash_by_unit[:, unit], proposed[:, members], axis=1)
    return candidate & ~clash


@dataclass(frozen=True)
class RoundStep:
    """One engine event of a round, for the puzzles `rows` (indices into the whole batch) it ran on."""

    round: int  # 1-based
    rows: np.ndarray  # (R,) the batch's puzzles this engine run holds, in its row order
    event: Step | Pass


@dataclass(frozen=True)
class Committed:
    """The end of a round: which cells became givens, and which puzzles run again."""

    round: int
    rows: np.ndarray  # (R,) the puzzles that ran this round
    cells: np.ndarray  # (R, 81) bool: committed now
    grids: np.ndarray  # (R, 81) uint8: their puzzles with every commit so far
    solved: np.ndarray  # (R,) bool: this round's answer passed the check
    again: np.ndarray  # (R,) bool: runs another round


def commit_steps(
    model: TRM,
    puzzles,
    config: CommitConfig = CommitConfig(),
    inference: InferenceConfig = InferenceConfig(),
) -> Generator[RoundStep | Committed, None, CommitSolutions]:
    """Commit decoding of `puzzles` (an (N, 81) array, 0 = blank, or strings as `solve` takes them), yielding
    every engine step of every round (in batches of `inference.batch_size`) and every round's commits as
    they happen; returns the `CommitSolutions`. `solve_committed` drains it."""
    puzzles = as_grids(puzzles)
    count = len(puzzles)
    grids = puzzles.copy()  # the puzzles with every committed cell
    rounds = np.zeros(count, dtype=np.int64)
    committed = np.zeros(count, dtype=np.int64)
    solved_round = np.zeros(count, dtype=np.int64)
    model_steps = np.zeros(count, dtype=np.int64)
    final: Solutions | None = None
    single: Solutions | None = None
    active = np.arange(count)
    for round_number in range(1, config.max_rounds + 1):
        parts = []
        for start in range(0, len(active), inference.batch_size):
            rows = active[start : start + inference.batch_size]
            parts.append((yield from _tagged(solve_steps(model, grids[rows], inference), round_number, rows)))
        result = parts[0] if len(parts) == 1 else Solutions.concat(parts)
        rounds[active] = round_number
        model_steps[active] += result.steps
        if single is None:
            single = result
            final = _with_puzzles(result, puzzles)
        else:
            assert final is not None
            _write_rows(final, result, active)
        valid = valid_solutions(puzzles[active], result.answers)
        solved_round[active[valid]] = round_number
        sure = sure_cells(grids[active], result.answers, result.confidence, config.threshold)
        sure[valid] = False
        grids[active] = np.where(sure, result.answers, grids[active])
        committed[active] += sure.sum(1)
        again = ~valid & sure.any(1) & (round_number < config.max_rounds)
        yield Committed(round_number, active, sure, grids[active].copy(), valid, again)
        active = active[again]
        if not len(active):
            break
    assert final is not None and single is not None
    final.steps = model_steps
    return CommitSolutions(final, single, rounds, committed, solved_round)


def solve_committed(
    model: TRM,
    puzzles,
    config: CommitConfig = CommitConfig(),
    inference: InferenceConfig = InferenceConfig(),
) -> CommitSolutions:
    """Commit decoding of `puzzles`, drained: see `commit_steps`."""
    return finish(commit_steps(model, puzzles, config, inference))


def _tagged(run: Generator[Step | Pass, None, Solutions], round_number: int, rows: np.ndarray):
    """The engine run's events tagged with their round and puzzles; returns what the run returns."""
    while True:
        try:
            event = next(run)
        except StopIteration as done:
            return done.value
        yield RoundStep(round_number, rows, event)


def _with_puzzles(result: Solutions, puzzles: np.ndarray) -> Solutions:
    """A copy of the first round's solutions that later rounds overwrite row by row; `puzzles` are the
    original questions (later rounds see more givens, which are the model's, not the puzzle's)."""
    return Solutions(
        puzzles.copy(),
        result.answers.copy(),
        result.confidence.copy(),
        result.steps.copy(),
        result.halted.copy(),
        result.halt_probabilities.copy(),
        result.seconds,
        step_limit=result.step_limit,
    )


def _write_rows(final: Solutions, result: Solutions, rows: np.ndarray) -> None:
    """The rows' latest answers; committed cells count as the model's answers (confidence as committed)."""
    final.answers[rows] = result.answers
    given = final.puzzles[rows] > 0
    final.confidence[rows] = np.where(given, 1.0, result.confidence)  # committed cells: 1, as givens of the round
    final.halted[rows] = result.halted
    width = max(final.halt_probabilities.shape[1], result.halt_probabilities.shape[1])
    if width > final.halt_probabilities.shape[1]:
        pad = np.full((len(final), width - final.halt_probabilities.shape[1]), np.nan, dtype=np.float32)
        final.halt_probabilities = np.concatenate([final.halt_probabilities, pad], axis=1)
    final.halt_probabilities[rows] = np.nan
    final.halt_probabilities[rows, : result.halt_probabilities.shape[1]] = result.halt_probabilities
    final.seconds += result.seconds
