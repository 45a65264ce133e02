"""The inference engine: run a model on puzzles one supervision step at a time.

Every step yields the predicted grid, a confidence per cell and the halting head's probability. A
puzzle stops at the first step whose halting probability passes one half (or at `max_steps`);
`steps` forces a fixed count instead. Stopped puzzles leave the batch, so a batch of easy puzzles
does not pay for the hard ones. Givens are never overwritten in the answers shown or scored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from sudoku_trm.model.devices import autocast_for
from sudoku_trm.model.readout import best_digits, says_halt
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.grid import CELLS


@dataclass(frozen=True)
class InferenceConfig:
    max_steps: int | None = None  # supervision steps at most; None: the model's halt_max_steps
    steps: int | None = None  # run exactly this many steps, whatever the halting head says
    batch_size: int = 256
    bf16: bool = True  # bf16 autocast on CUDA, as the model was trained
    trace: bool = False  # keep every step's grid and confidences (for display)

    def step_limit(self, model: TRM) -> int:
        limit = self.steps or self.max_steps or model.config.halt_max_steps
        if limit < 1:
            raise ValueError(f"the step count must be at least 1, got {limit}")
        return limit


@dataclass
class Solutions:
    """What the model made of N puzzles. Arrays are numpy, on the CPU."""

    puzzles: np.ndarray  # (N, 81) uint8, the questions
    answers: np.ndarray  # (N, 81) uint8: the answer of the last step run, givens kept
    confidence: np.ndarray  # (N, 81) float32: the model's probability of each answer digit (1 for givens)
    steps: np.ndarray  # (N,) int: supervision steps run
    halted: np.ndarray  # (N,) bool: the head said "stop" at the last step run (else: out of steps)
    halt_probabilities: np.ndarray  # (N, S) float32 per step run; NaN after a puzzle stopped
    seconds: float  # wall time of the model work
    trace_answers: np.ndarray | None = None  # (N, S, 81) uint8 per step; a stopped puzzle repeats its last
    trace_confidence: np.ndarray | None = None  # (N, S, 81) float16

    def __len__(self) -> int:
        return len(self.answers)

    def select(self, rows: np.ndarray) -> "Solutions":
        def pick(a):
            return None if a is None else a[rows]

        return Solutions(
            self.puzzles[rows],
            self.answers[rows],
            self.confidence[rows],
            self.steps[rows],
            self.halted[rows],
            self.halt_probabilities[rows],
            self.seconds,
            pick(self.trace_answers),
            pick(self.trace_confidence),
        )

    @staticmethod
    def concat(parts: list["Solutions"]) -> "Solutions":
        width = max(p.halt_probabilities.shape[1] for p in parts)

        def steps_axis(a: np.ndarray, fill) -> np.ndarray:
            """Pad axis 1 to `width`: NaN for probabilities, the last step for traces."""
            missing = width - a.shape[1]
            if not missing:
                return a
            pad = (
                np.full((a.shape[0], missing) + a.shape[2:], fill, a.dtype)
                if fill is not None
                else np.repeat(a[:, -1:], missing, axis=1)
            )
            return np.concatenate([a, pad], axis=1)

        traced = all(p.trace_answers is not None for p in parts)
        return Solutions(
            np.concatenate([p.puzzles for p in parts]),
            np.concatenate([p.answers for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.steps for p in parts]),
            np.concatenate([p.halted for p in parts]),
            np.concatenate([steps_axis(p.halt_probabilities, np.nan) for p in parts]),
            sum(p.seconds for p in parts),
            np.concatenate([steps_axis(p.trace_answers, None) for p in parts]) if traced else None,
            np.concatenate([steps_axis(p.trace_confidence, None) for p in parts]) if traced else None,
        )


@torch.no_grad()
def solve_batch(model: TRM, puzzles: np.ndarray, config: InferenceConfig = InferenceConfig()) -> Solutions:
    """Run one batch of (B, 81) puzzles (0 = blank) through the model, step by step."""
    device = next(model.parameters()).device
    limit = config.step_limit(model)
    started = time.perf_counter()
    grids = torch.from_numpy(np.ascontiguousarray(puzzles, dtype=np.uint8)).to(device).long()
    count = len(grids)
    inputs = to_tokens(grids)
    given = grids > 0

    answers = grids.clone()
    confidence = given.float()
    steps = torch.full((count,), limit, dtype=torch.long, device=device)
    halted = torch.zeros(count, dtype=torch.bool, device=device)
    halt_probabilities = torch.full((count, limit), float("nan"), device=device)
    trace_answers = torch.empty((count, limit, CELLS), dtype=torch.uint8, device=device) if config.trace else None
    trace_confidence = torch.empty((count, limit, CELLS), dtype=torch.float16, device=device) if config.trace else None

    was_training = model.training
    model.eval()
    active = torch.arange(count, device=device)  # puzzles still running
    carry = model.initial_carry(count, device)
    for step in range(1, limit + 1):
        with autocast_for(device, config.bf16):
            carry, logits, halt_logit = model(carry, inputs[active])
        probability, digit = best_digits(logits)
        keep_given = given[active]
        answers[active] = torch.where(keep_given, grids[active], digit)
        confidence[active] = torch.where(keep_given, 1.0, probability)
        halt_probability = torch.sigmoid(halt_logit)
        halt_probabilities[active, step - 1] = halt_probability
        halting = says_halt(halt_logit)
        halted[active] = halting
        if config.trace:
            trace_answers[:, step - 1] = answers.to(torch.uint8)
            trace_confidence[:, step - 1] = confidence.half()
        stops = torch.full_like(halting, step == limit) if config.steps else halting | (step == limit)
        steps[active[stops]] = step
        running = ~stops
        if not running.any():  # all stopped: keep only the steps that ran
            halt_probabilities = halt_probabilities[:, :step]
            if config.trace:
                trace_answers, trace_confidence = trace_answers[:, :step], trace_confidence[:, :step]
            break
        if not running.all():
            active = active[running]
            carry = type(carry)(carry.y[running], carry.z[running])
    model.train(was_training)

    def numpy(t):
        return None if t is None else t.cpu().numpy()

    result = Solutions(
        np.asarray(puzzles, dtype=np.uint8),
        numpy(answers.to(torch.uint8)),
        numpy(confidence),
        numpy(steps),
        numpy(halted),
        numpy(halt_probabilities),
        0.0,
        numpy(trace_answers),
        numpy(trace_confidence),
    )
    result.seconds = time.perf_counter() - started  # after the copies: includes the device sync
    return result


def solve(
    model: TRM,
    puzzles: np.ndarray,
    config: InferenceConfig = InferenceConfig(),
    on_progress: Callable[[int], None] | None = None,
) -> Solutions:
    """Solve any number of puzzles in batches of `config.batch_size`; `on_progress(done)` after each."""
    puzzles = np.asarray(puzzles, dtype=np.uint8).reshape(-1, CELLS)
    if len(puzzles) == 0:
        raise ValueError("no puzzles to solve")
    parts = []
    for start in range(0, len(puzzles), config.batch_size):
        parts.append(solve_batch(model, puzzles[start : start + config.batch_size], config))
        if on_progress is not None:
            on_progress(min(start + config.batch_size, len(puzzles)))
    return parts[0] if len(parts) == 1 else Solutions.concat(parts)
