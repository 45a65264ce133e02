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

from dataclasses import asdict, dataclass

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


def evaluate(model: TRM, puzzles: PuzzleSet, batch_size: int = 256, max_steps: int | None = None) -> Scores:
    """Training's dev figures: every step runs (for the all-steps accuracy), halting read from the trace."""
    steps = max_steps or model.config.halt_max_steps
    config = InferenceConfig(steps=steps, batch_size=batch_size, trace=True)
    full = solve(model, puzzles.questions, config)
    result = score(at_halting_step(full), puzzles.answers)
    result.grid_accuracy_all_steps = float((full.answers == puzzles.answers).all(1).mean())
    return result
