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

from sudoku_trm.errors import UserError


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
    """A run's wall-time budget. The reserve is kept back for the work after the last step; progress is
    elapsed time over the rest (the horizon). Judged by the last step's duration, the step after which
    no other would fit before the horizon is the last, and runs at progress 1. A step slower than the
    one before it can leave the next no room: that one still runs, as the last, ending at most a step
    past the horizon, inside the reserve. Once the horizon has passed, no step starts."""

    # The work after the last step is one dev evaluation, one checkpoint and one export (smaller than a
    # checkpoint). The reserve is twice that: a periodic evaluation or checkpoint that lands just before
    # the end, or a last step past the horizon, can take as much again.
    RESERVE_FACTOR = 2.0

    def __init__(self, minutes: float, clock: Clock):
        self.seconds = 60.0 * minutes
        self.clock = clock
        self.reserve = 0.0
        self.step_seconds = 0.0  # the last step's duration
        self.last = False  # the last step has been started

    @property
    def horizon(self) -> float:
        """Seconds from the run's start to the end of its last step."""
        return self.seconds - self.reserve

    def set_reserve(self, eval_seconds: float, save_seconds: float) -> None:
        """Keep back time for the final evaluation, save and export, as timed on this machine."""
        self.reserve = self.RESERVE_FACTOR * (eval_seconds + 2.0 * save_seconds)
        if self.horizon <= self.clock.elapsed():
            raise UserError(
                f"a time budget of {self.seconds / 60:g} minutes leaves no time to train: "
                f"{self.clock.elapsed():.1f} s are spent and the final evaluation and save need "
                f"about {self.reserve:.1f} s"
            )

    def progress(self) -> float:
        return min(1.0, self.clock.elapsed() / self.horizon) if self.horizon > 0 else 1.0

    def next_progress(self) -> float | None:
        """The progress the next step runs at, or None when the budget for training is spent."""
        elapsed = self.clock.elapsed()
        if self.last or elapsed >= self.horizon:
            return None
        self.last = elapsed + 2.0 * self.step_seconds > self.horizon  # the step after it would not fit
        return 1.0 if self.last else elapsed / self.horizon
