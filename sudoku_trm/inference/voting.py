"""Test-time voting: solve symmetric copies of each puzzle and keep the answer they support best.

A Sudoku symmetry (relabel digits, permute bands/stacks, rows/columns within them, transpose) turns
a puzzle into an equivalent one, and the model sees it afresh. Copy 0 of every puzzle is the puzzle
itself, so the single-copy answer is always available for comparison. Each copy's answer is mapped
back with the inverse symmetry; a candidate that obeys every rule and given wins (the one most
copies agree on, then the most confident); without one, each cell takes its majority digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from sudoku_trm.inference.engine import InferenceConfig, Solutions, solve
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.grid import CELLS, valid_solutions


@dataclass
class VoteResult:
    solutions: Solutions  # the chosen answers (and the chosen copy's steps, halting and trace)
    single: Solutions  # copy 0 alone: what solving without votes gives
    votes: int
    agreeing: np.ndarray  # (N,) copies whose answer equals the chosen one
    valid_candidates: np.ndarray  # (N,) copies whose answer is a valid solution
    majority: np.ndarray  # (N,) bool: no copy was valid, so cells were voted one by one


def symmetric_copies(puzzles: np.ndarray, votes: int, seed: int) -> tuple[np.ndarray, augment.Symmetries]:
    """(N*votes, 81) copies, puzzle by puzzle; copy 0 of each is the identity."""
    count = len(puzzles)
    symmetries = augment.random_symmetries(count * votes, np.random.default_rng(seed))
    plain = augment.identity(count)
    symmetries.cells[::votes] = plain.cells
    symmetries.digits[::votes] = plain.digits
    return augment.apply(np.repeat(puzzles, votes, axis=0), symmetries), symmetries


def _undo(values: np.ndarray, undo: augment.Symmetries, digits: bool) -> np.ndarray:
    """Move (N, 81) values back to their original cells; relabel them too when they are digits."""
    if digits:
        return augment.apply(values, undo)
    return np.take_along_axis(values, undo.cells.astype(np.intp), axis=1)


def _undo_steps(values: np.ndarray | None, undo: augment.Symmetries, digits: bool) -> np.ndarray | None:
    """The same for (N, S, 81) per-step values: each copy's symmetry repeated over its steps."""
    if values is None:
        return None
    count, steps, _ = values.shape
    repeated = augment.Symmetries(np.repeat(undo.cells, steps, 0), np.repeat(undo.digits, steps, 0))
    return _undo(values.reshape(count * steps, CELLS), repeated, digits).reshape(values.shape)


def _undo_passes(values: np.ndarray | None, undo: augment.Symmetries, digits: bool) -> np.ndarray | None:
    """The same for (N, S, P, 81) per-pass values: steps and passes folded into one axis and back."""
    if values is None:
        return None
    count, steps, passes, _ = values.shape
    folded = _undo_steps(values.reshape(count, steps * passes, CELLS), undo, digits)
    return folded.reshape(values.shape)


def map_back(solutions: Solutions, symmetries: augment.Symmetries) -> Solutions:
    """Every per-cell array of `solutions` (of the copies) in the original puzzles' orientation."""
    undo = augment.inverse(symmetries)
    return Solutions(
        _undo(solutions.puzzles, undo, True),
        _undo(solutions.answers, undo, True),
        _undo(solutions.confidence, undo, False),
        solutions.steps,
        solutions.halted,
        solutions.halt_probabilities,
        solutions.seconds,
        _undo_steps(solutions.trace_answers, undo, True),
        _undo_steps(solutions.trace_confidence, undo, False),
        solutions.step_limit,
        _undo_passes(solutions.pass_answers, undo, True),
        _undo_passes(solutions.pass_confidence, undo, False),
    )


def choose(puzzle: np.ndarray, answers: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Pick from one puzzle's (K, 81) candidate answers: (answer, index of the chosen copy or None).

    None means no candidate was valid and the answer is the per-cell majority (ties: summed confidence).
    """
    valid = valid_solutions(np.broadcast_to(puzzle, answers.shape), answers)
    if valid.any():
        candidates = np.flatnonzero(valid)
        support = [(int((answers == answers[i]).all(1).sum()), float(confidence[i].mean()), -i) for i in candidates]
        best = candidates[max(range(len(candidates)), key=lambda j: support[j])]
        return answers[best], int(best)
    digits = np.arange(1, 10)[:, None, None]
    chosen = answers[None] == digits  # (9, K, 81)
    score = chosen.sum(1) + (chosen * confidence[None]).sum(1) / (len(answers) + 1)  # counts, then confidence
    return (score.argmax(0) + 1).astype(np.uint8), None


def solve_with_votes(
    model: TRM,
    puzzles: np.ndarray,
    votes: int,
    config: InferenceConfig = InferenceConfig(),
    seed: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> VoteResult:
    """Solve `votes` symmetric copies of each puzzle and choose per puzzle (see the module doc)."""
    if votes < 1:
        raise ValueError(f"votes must be at least 1, got {votes}")
    puzzles = np.asarray(puzzles, dtype=np.uint8).reshape(-1, CELLS)
    copies, symmetries = symmetric_copies(puzzles, votes, seed)

    def progress(done_copies: int) -> None:
        if on_progress is not None:
            on_progress(done_copies // votes)

    raw = solve(model, copies, config, progress)
    back = map_back(raw, symmetries)
    count = len(puzzles)
    answers = back.answers.reshape(count, votes, CELLS)
    confidence = back.confidence.reshape(count, votes, CELLS)
    chosen_rows = np.arange(count) * votes  # copy 0 unless a better one is found
    final = answers[:, 0].copy()
    agreeing = np.zeros(count, dtype=np.int64)
    majority = np.zeros(count, dtype=bool)
    valid = valid_solutions(np.repeat(puzzles, votes, axis=0), back.answers).reshape(count, votes)
    for i in range(count):
        final[i], copy = choose(puzzles[i], answers[i], confidence[i])
        majority[i] = copy is None
        if copy is not None:
            chosen_rows[i] += copy
        agreeing[i] = int((answers[i] == final[i]).all(1).sum())
    chosen = back.select(chosen_rows)
    chosen.puzzles = puzzles
    chosen.answers = final
    # A majority grid was no copy's answer: its confidence is the share of copies agreeing per cell.
    share = (answers == final[:, None]).mean(1).astype(np.float32)
    chosen.confidence = np.where(majority[:, None], share, chosen.confidence)
    if votes > 1:  # the chosen copy's steps are what the answer cost; the time covers all copies
        chosen.seconds = raw.seconds
    single = back.select(chosen_rows - (chosen_rows % votes))
    return VoteResult(chosen, single, votes, agreeing, valid.sum(1), majority)
