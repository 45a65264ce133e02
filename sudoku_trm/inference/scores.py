"""Score a model's answers against known solutions: the figures `eval` prints and training logs.

- grid accuracy: the whole answer equals the solution;
- cell accuracy: share of the *blank* cells filled correctly (givens are kept, so they would only
  flatter the figure);
- valid: the answer obeys every rule and given (for a unique puzzle that means correct);
- halted: share of puzzles the halting head stopped (the rest ran to the step limit);
- halt precision: of the puzzles it stopped, the share whose answer is correct; None when none halted;
- halting accuracy: the head's decision was right, i.e. it halted exactly when the answer is correct.
  A head that never halts scores 100% on it when the model solves nothing, so `eval` reports halted
  and halt precision instead; training logs it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from sudoku_trm.inference.engine import InferenceConfig, Solutions, solve
from sudoku_trm.model.readout import HALT_PROBABILITY
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet


@dataclass
class Scores:
    puzzles: int
    grid_accuracy: float
    cell_accuracy: float
    valid: float
    halting_accuracy: float
    halted: float
    halt_precision: float | None  # None: nothing halted
    mean_steps: float
    max_steps: int
    puzzles_per_second: float
    grid_accuracy_all_steps: float | None = None  # after every step ran (the reference's protocol)

    def to_dict(self) -> dict:
        return asdict(self)


def score(solutions: Solutions, labels: np.ndarray) -> Scores:
    """Scores of `solutions` against `labels` (N, 81), the puzzles' solutions."""
    if len(solutions) != len(labels) or not len(labels):
        raise ValueError(f"need one label per answer and at least one, got {len(labels)} for {len(solutions)}")
    right = solutions.answers == labels
    correct = right.all(1)
    blanks = solutions.puzzles == 0
    return Scores(
        puzzles=len(labels),
        grid_accuracy=float(correct.mean()),
        cell_accuracy=float((right & blanks).sum() / max(int(blanks.sum()), 1)),
        valid=float(valid_solutions(solutions.puzzles, solutions.answers).mean()),
        halting_accuracy=float((solutions.halted == correct).mean()),
        halted=float(solutions.halted.mean()),
        halt_precision=float(correct[solutions.halted].mean()) if solutions.halted.any() else None,
        mean_steps=float(solutions.steps.mean()),
        max_steps=int(solutions.steps.max()),
        puzzles_per_second=len(labels) / solutions.seconds if solutions.seconds > 0 else float("inf"),
    )


def at_halting_step(solutions: Solutions) -> Solutions:
    """From a fixed-step traced run, the answers as if each puzzle had stopped where its head first said halt."""
    if solutions.trace_answers is None:
        raise ValueError("at_halting_step needs a run with trace=True")
    says_halt = solutions.halt_probabilities > HALT_PROBABILITY
    last = solutions.steps - 1
    stop = np.where(says_halt.any(1), says_halt.argmax(1), last)
    rows = np.arange(len(solutions))
    return Solutions(
        solutions.puzzles,
        solutions.trace_answers[rows, stop],
        solutions.trace_confidence[rows, stop].astype(np.float32),
        stop + 1,
        says_halt.any(1),
        solutions.halt_probabilities,
        solutions.seconds,
        step_limit=solutions.step_limit,
    )


def evaluate(
    model: TRM,
    puzzles: PuzzleSet,
    batch_size: int = 256,
    max_steps: int | None = None,
    seconds: float | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> Scores | None:
    """Training's dev figures: every step runs (for the all-steps accuracy), halting read from the trace.

    With `seconds`, a time limit read on `now`: only the first puzzles that fit are scored (`puzzles`
    says how many), None if not even one did. Batches start at one puzzle and double up to `batch_size`
    while the last batch's time per puzzle, taken as constant (batching only makes it fall), predicts
    that the next batch ends in time: on a loaded machine the evaluation shrinks instead of overrunning."""
    steps = max_steps or model.config.halt_max_steps
    config = InferenceConfig(steps=steps, batch_size=batch_size, trace=True)
    if seconds is None:
        full = solve(model, puzzles.questions, config)
    else:
        parts = _within(model, puzzles.questions, config, seconds, now)
        if not parts:
            return None
        full = parts[0] if len(parts) == 1 else Solutions.concat(parts)
        puzzles = puzzles.subset(slice(0, len(full)))
    result = score(at_halting_step(full), puzzles.answers)
    result.grid_accuracy_all_steps = float((full.answers == puzzles.answers).all(1).mean())
    return result


def _within(
    model: TRM, questions: np.ndarray, config: InferenceConfig, seconds: float, now: Callable[[], float]
) -> list[Solutions]:
    """The first puzzles solved in batches of 1, 2, 4 ... (up to `config.batch_size`), each started only
    if the last one's time per puzzle says it ends within `seconds` of the start."""
    deadline, parts, done, size, per_puzzle = now() + seconds, [], 0, 1, 0.0
    while seconds > 0 and done < len(questions) and size >= 1 and now() + size * per_puzzle <= deadline:
        started = now()
        parts.append(solve(model, questions[done : done + size], config))
        done += size
        per_puzzle = (now() - started) / size
        fits = int((deadline - now()) / per_puzzle) if per_puzzle > 0 else config.batch_size
        size = min(2 * size, config.batch_size, len(questions) - done, fits)
    return parts
