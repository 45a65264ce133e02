"""Measure a model on a puzzle set at full depth: accuracy at its own halting step and after all steps.

A puzzle stops at the first supervision step whose halting logit is positive (or at the last step);
its answer is the prediction of that step. Halting accuracy asks whether that decision was right:
halted by the head and correct, or never halted and still wrong.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass

import torch

from sudoku_trm.data import PuzzleSet
from sudoku_trm.tokens import to_tokens
from sudoku_trm.model import TRM


@dataclass
class EvalResult:
    puzzles: int
    grid_accuracy: float  # whole grid right at the halting step
    cell_accuracy: float
    halting_accuracy: float
    mean_steps: float
    grid_accuracy_all_steps: float  # whole grid right after every step ran (the reference's protocol)
    puzzles_per_second: float

    def to_dict(self) -> dict:
        return asdict(self)


def autocast_for(device: torch.device, bf16: bool = True):
    """bf16 autocast on CUDA (TRM trains and evaluates in bf16) unless `bf16` is off; full precision elsewhere."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: TRM, puzzles: PuzzleSet, batch_size: int = 256, max_steps: int | None = None) -> EvalResult:
    device = next(model.parameters()).device
    max_steps = max_steps or model.config.halt_max_steps
    was_training = model.training
    model.eval()
    totals = torch.zeros(6, dtype=torch.float64, device=device)
    started = time.perf_counter()
    for start in range(0, len(puzzles), batch_size):
        inputs = to_tokens(torch.from_numpy(puzzles.questions[start : start + batch_size]).to(device).long())
        labels = to_tokens(torch.from_numpy(puzzles.answers[start : start + batch_size]).to(device).long())
        count = len(inputs)
        carry = model.initial_carry(count, device)
        answer = torch.zeros_like(labels)
        halted = torch.zeros(count, dtype=torch.bool, device=device)
        halted_by_head = torch.zeros_like(halted)
        steps_used = torch.full((count,), max_steps, device=device)
        for step in range(1, max_steps + 1):
            with autocast_for(device):
                carry, logits, halt_logit = model(carry, inputs)
            prediction = logits.argmax(-1)
            stops_now = ~halted & ((halt_logit > 0) | (step == max_steps))
            answer = torch.where(stops_now[:, None], prediction, answer)
            halted_by_head |= stops_now & (halt_logit > 0)
            steps_used = torch.where(stops_now & (halt_logit > 0), step, steps_used)
            halted |= stops_now  # all steps still run: the all-steps figure needs the last one
        correct = (answer == labels).all(-1)
        totals += torch.stack(
            [
                torch.tensor(count, device=device, dtype=torch.float64),
                correct.sum(),
                (answer == labels).float().mean(-1).sum(),
                (halted_by_head == correct).sum(),
                steps_used.sum(),
                (prediction == labels).all(-1).sum(),
            ]
        ).double()
    seconds = time.perf_counter() - started
    model.train(was_training)
    n, grid, cells, halting, steps, all_steps = totals.tolist()
    return EvalResult(int(n), grid / n, cells / n, halting / n, steps / n, all_steps / n, n / seconds)
