"""Where a run stands, as progress from 0 to 1, and what follows from it: the learning-rate factor and,
under a time budget, when to stop.

Progress drives PDC's depth (training/curriculum.py) and the learning-rate schedule. A run by steps has
progress step / steps. A run under a time budget has progress elapsed time / the time left for training
(the budget less a reserve for the final evaluation, save and export), so the whole schedule fits in the
budget however fast the machine turns out to be. In both, the run's last step runs at progress 1: a
cosine ends exactly on its floor and PDC's last stage is always reached (under a budget: the step
foreseen as the last; see `TimeBudget` for when a stall ends a run before it).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Iterator

import torch


def lr_factor(schedule: str, progress: float, step: int, warmup_steps: int, floor: float) -> float:
    """What each group's base learning rate is multiplied by at 0-based `step` and `progress`: a linear
    warm-up over the first `warmup_steps` steps (counted in steps under a time budget too: it is there
    for the optimiser's first moments, not for the schedule's shape), times the schedule, `constant` (1)
    or `cosine` (1 at progress 0, `floor` at progress 1)."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    if schedule == "constant":
        return warm
    if schedule == "cosine":
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
        return warm * (floor + (1.0 - floor) * cosine)
    raise ValueError(f"lr_schedule must be constant or cosine, got {schedule!r}")


class Clock:
    """Seconds of the run so far, carried over a resume (`add`).

    On CUDA the host queues work ahead of the GPU, so a host clock alone would read early. `step_done`
    records an event per step and waits for the previous step's, so the host is never more than one
    step ahead: the clock is honest to within a step, and the GPU's queue never runs dry."""

    def __init__(self, device: torch.device, started: float | None = None):
        """`started`: the `time.perf_counter()` reading the run began at (default: now)."""
        self.start = time.perf_counter() if started is None else started
        self.cuda = device.type == "cuda"
        self.pending: torch.cuda.Event | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def add(self, seconds: float) -> None:
        """Count `seconds` spent before this process started (a resumed run's earlier time)."""
        self.start -= seconds

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count (a benchmark's evaluations between steps)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.start += time.perf_counter() - started

    def step_done(self) -> None:
        if not self.cuda:
            return
        event = torch.cuda.Event()
        event.record()
        if self.pending is not None:
            self.pending.synchronize()
        self.pending = event


class TimeBudget:
    """A run's wall-time budget, shared out so that the run ends inside it whatever the machine's load.

    - Evaluations get shares of the budget and are cut to them (the first puzzles that fit:
      inference/scores.py `evaluate`): the first (the starting point, which also times evaluation) at
      most FIRST_EVAL_SHARE, periodic ones each as much and together at most PERIODIC_EVAL_SHARE, the
      final one at most FINAL_EVAL_SHARE (less when the whole dev set took less at the start).
    - The reserve is the work after the last step: the final evaluation, checkpoint and export (each
      of the last two about one checkpoint's time, counted twice over for a busy machine), plus GRACE.
    - Training gets the rest: progress is elapsed time over the horizon (budget less reserve). Judged
      by the last step's duration, the step after which no other would fit before the horizon is the
      last, and runs at progress 1; a step that would end past the horizon does not start (a stall
      then ends the run without a step at progress 1: see Trainer.run).
    - The final evaluation is cut to the time actually left (`final_eval_seconds`), so a slow last step
      or a load spike shortens it instead of running past the budget."""

    FIRST_EVAL_SHARE = 0.05
    PERIODIC_EVAL_SHARE = 0.10
    FINAL_EVAL_SHARE = 0.10
    SAVE_FACTOR = 2.0  # a checkpoint or an export takes at most this many times the first checkpoint
    GRACE = 1.0  # seconds kept free at the very end (returning from the trainer, exiting)
    FULL_EVAL_MARGIN = 1.25  # the final evaluation of the whole dev set may take this much longer than the first
    STEP_MARGIN = 1.25  # a step may take this much longer than the one before it (a busy machine)

    def __init__(self, minutes: float, clock: Clock):
        self.seconds = 60.0 * minutes
        self.clock = clock
        self.reserve = 0.0
        self.final_eval = 0.0  # seconds planned for the final evaluation
        self.save_seconds = 0.0  # the first checkpoint's time
        self.periodic_spent = 0.0  # seconds spent on periodic evaluations
        self.step_seconds = 0.0  # the last step's duration
        self.last = False  # the last step has been started

    @property
    def horizon(self) -> float:
        """Seconds from the run's start to the end of its last step."""
        return self.seconds - self.reserve

    def left(self) -> float:
        return self.seconds - self.clock.elapsed()

    def first_eval_seconds(self) -> float:
        """The starting point's evaluation: its share, and never more than a quarter of what is left."""
        return max(0.0, min(self.FIRST_EVAL_SHARE * self.seconds, 0.25 * self.left()))

    def set_reserve(self, eval_seconds: float | None, save_seconds: float) -> None:
        """Plan the final work from the first evaluation and checkpoint as timed on this machine:
        `eval_seconds` is what the whole dev set took (None: the first evaluation was cut short, or 0
        without a dev set), `save_seconds` what the checkpoint took."""
        cap = self.FINAL_EVAL_SHARE * self.seconds
        self.final_eval = cap if eval_seconds is None else min(cap, self.FULL_EVAL_MARGIN * eval_seconds)
        self.save_seconds = save_seconds
        self.reserve = self.final_eval + 2 * self.SAVE_FACTOR * save_seconds + self.GRACE

    def periodic_eval_seconds(self) -> float:
        """A periodic evaluation's time: its share, what the periodic share has left, and never past the horizon."""
        return max(
            0.0,
            min(
                self.FIRST_EVAL_SHARE * self.seconds,
                self.PERIODIC_EVAL_SHARE * self.seconds - self.periodic_spent,
                self.horizon - self.clock.elapsed(),
            ),
        )

    def final_eval_seconds(self) -> float:
        """The final evaluation's time, after the final checkpoint: the plan, or what is left once the
        export and the grace are kept back."""
        return max(0.0, min(self.final_eval, self.left() - self.SAVE_FACTOR * self.save_seconds - self.GRACE))

    def progress(self) -> float:
        return min(1.0, self.clock.elapsed() / self.horizon) if self.horizon > 0 else 1.0

    def next_progress(self) -> float | None:
        """The progress the next step runs at, or None when the budget for training is spent."""
        elapsed = self.clock.elapsed()
        if self.last or elapsed + self.STEP_MARGIN * self.step_seconds > self.horizon:
            return None  # a step now would end past the horizon (the first, of unknown length, always runs)
        # The step after this one would not start (it would end past the horizon): this one is the last.
        self.last = elapsed + (1.0 + self.STEP_MARGIN) * self.step_seconds > self.horizon
        return 1.0 if self.last else elapsed / self.horizon
