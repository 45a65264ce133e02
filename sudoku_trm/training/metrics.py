"""What training logs: running sums by name on the device, the log lines and metrics.jsonl.

Every figure keeps one name from the sum to the log line and the metrics.jsonl record: "loss",
"cell_accuracy", "grid_accuracy" (means over every slot, averaged over the steps since the last log),
"finished" (puzzles that halted), "halting_accuracy" and "mean_steps" (over those puzzles: None, "n/a" in
the log line, when none finished).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import Tensor

from sudoku_trm.model.readout import says_halt
from sudoku_trm.training.losses import StepLoss
from sudoku_trm.training.slots import Slots

PER_STEP = ("loss", "cell_accuracy", "grid_accuracy")
PER_FINISHED = ("halting_accuracy", "mean_steps")


class RunningMetrics:
    """Named sums kept on the device between log lines, so a log line costs one host sync."""

    def __init__(self, device: torch.device):
        names = (*PER_STEP, "finished", *PER_FINISHED)
        self.sums = {name: torch.zeros((), dtype=torch.float64, device=device) for name in names}
        self.updates = 0

    def add(self, loss: StepLoss, halt_logit: Tensor, slots: Slots) -> None:
        """One step's figures; `slots.halted` marks the puzzles that finished at this step."""
        done = slots.halted
        values = {
            "loss": loss.total.detach(),
            "cell_accuracy": loss.cell_correct.float().mean(),
            "grid_accuracy": loss.grid_correct.float().mean(),
            "finished": done.sum(),
            "halting_accuracy": (done & (says_halt(halt_logit) == loss.grid_correct)).sum(),  # right calls
            "mean_steps": (slots.steps * done).sum(),  # steps used
        }
        for name, value in values.items():
            self.sums[name] += value
        self.updates += 1

    def flush(self) -> dict[str, float | None]:
        """The means since the last flush, and start again."""
        totals = dict(zip(self.sums, torch.stack(list(self.sums.values())).tolist()))  # the one sync
        updates, finished = max(self.updates, 1), totals["finished"]
        out: dict[str, float | None] = {name: totals[name] / updates for name in PER_STEP}
        out["finished"] = int(finished)
        out.update({name: totals[name] / finished if finished else None for name in PER_FINISHED})
        for total in self.sums.values():
            total.zero_()
        self.updates = 0
        return out


class Throughput:
    """Training samples per second since `restart`: restart it after evaluations and checkpoints."""

    def __init__(self, step: int, batch_size: int):
        self.batch_size = batch_size
        self.restart(step)

    def restart(self, step: int) -> None:
        self.since, self.since_step = time.perf_counter(), step

    def samples_per_s(self, step: int) -> float:
        return (step - self.since_step) * self.batch_size / (time.perf_counter() - self.since)


def step_line(record: dict, total_steps: int | None) -> str:
    """The log line of a record; `total_steps` None for a run under a time budget, which shows progress."""
    h, l = record["depth"]
    where = f"{record['step']}/{total_steps}" if total_steps else f"{record['step']} ({record['progress']:.0%})"
    return (
        f"step {where}  loss {record['loss']:.4f}  "
        f"cell {record['cell_accuracy']:.3f}  grid {record['grid_accuracy']:.3f}  "
        f"halt {_or_na(record['halting_accuracy'], '.3f')}  steps {_or_na(record['mean_steps'], '.1f')}  "
        f"depth ({h},{l})  {record['samples_per_s']:,.0f} samples/s"
    )


def _or_na(value: float | None, spec: str) -> str:
    """A figure over finished puzzles, or "n/a" when none finished (0.000 would read as a bad result)."""
    return "n/a" if value is None else format(value, spec)


def eval_line(step: int, result: dict) -> str:
    return (
        f"eval step {step}: grid {result['grid_accuracy']:.4f} (all steps "
        f"{result['grid_accuracy_all_steps']:.4f})  blank cells {result['cell_accuracy']:.4f}  "
        f"halt {result['halting_accuracy']:.3f}  steps {result['mean_steps']:.2f}"
    )


METRICS_NAME = "metrics.jsonl"  # in the run folder, beside the checkpoint


def append_record(path: Path, record: dict) -> None:
    """One JSON line in metrics.jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
