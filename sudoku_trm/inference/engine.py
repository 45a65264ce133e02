"""The inference engine: run a model on puzzles one supervision step at a time.

Every step yields the predicted grid, a confidence per cell and the halting head's probability. A
puzzle stops at the first step whose halting probability passes one half (or at `max_steps`);
`steps` forces a fixed count instead. Stopped puzzles leave the batch, so a batch of easy puzzles
does not pay for the hard ones. Givens are never overwritten in the answers shown or scored.

`solve_steps` is the engine: a generator that yields each step (and, on request, the answer after
each recursion pass inside a step) the moment the model has computed it, and returns the batch's
`Solutions`. `solve_batch` and `solve` drain it; `solve --animate` draws what it yields, live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generator, TypeVar

import numpy as np
import torch

from sudoku_trm.errors import InputError
from sudoku_trm.model.devices import autocast_for
from sudoku_trm.model.readout import best_digits, digit_probabilities, says_halt
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.grid import CELLS, valid_solutions
from sudoku_trm.sudoku.puzzles import parse_grid_string


@dataclass(frozen=True)
class InferenceConfig:
    max_steps: int | None = None  # supervision steps at most; None: the model's halt_max_steps
    steps: int | None = None  # run exactly this many steps, whatever the halting head says
    batch_size: int = 256
    bf16: bool = True  # bf16 autocast on CUDA, as the model was trained
    trace: bool = False  # keep every step's grid and confidences (for display)
    passes: bool = False  # also decode the answer after each recursion pass within a step (Pass events; traced too)
    probabilities: bool = False  # keep every digit's probability at each puzzle's last step (guided search's order)
    settle: int | None = None  # also stop a puzzle whose answer has not changed for this many steps in a row
    keep_state: bool = False  # keep each puzzle's recursive state (y, z) at its last step (a later run's start)
    time_limit: float | None = None  # also stop a puzzle once its share of the engine's time reaches this (seconds)

    def __post_init__(self) -> None:
        if self.settle is not None and self.settle < 1:
            raise ValueError(f"settle must be at least 1 step, got {self.settle}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"the time limit must be positive, got {self.time_limit}")

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
    step_limit: int | None = None  # the most steps a puzzle could run (S may be less: all stopped sooner)
    pass_answers: np.ndarray | None = None  # (N, S, H-1, 81) uint8: after each pass but the last, per step
    pass_confidence: np.ndarray | None = None  # (N, S, H-1, 81) float16
    probabilities: np.ndarray | None = None  # (N, 81, 9) float32: digits 1..9 at the last step run (on request)
    state: tuple[np.ndarray, np.ndarray] | None = (
        None  # (y, z), (N, L, hidden) float32 each, at the last step (on request)
    )
    puzzle_seconds: np.ndarray | None = None  # (N,) float64: each puzzle's share of the engine's time, with its past

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
            self.step_limit,
            pick(self.pass_answers),
            pick(self.pass_confidence),
            pick(self.probabilities),
            None if self.state is None else (self.state[0][rows], self.state[1][rows]),
            pick(self.puzzle_seconds),
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
        passes = all(p.pass_answers is not None for p in parts)
        probabilities = all(p.probabilities is not None for p in parts)
        states = all(p.state is not None for p in parts)
        timed = all(p.puzzle_seconds is not None for p in parts)
        limits = [p.step_limit for p in parts if p.step_limit is not None]
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
            max(limits) if limits else None,
            np.concatenate([steps_axis(p.pass_answers, None) for p in parts]) if passes else None,
            np.concatenate([steps_axis(p.pass_confidence, None) for p in parts]) if passes else None,
            np.concatenate([p.probabilities for p in parts]) if probabilities else None,
            tuple(np.concatenate([p.state[i] for p in parts]) for i in (0, 1)) if states else None,  # type: ignore[index]
            np.concatenate([p.puzzle_seconds for p in parts]) if timed else None,  # type: ignore[misc]
        )


def as_grids(puzzles) -> np.ndarray:
    """(N, 81) uint8 grids from an array, a puzzle string of 81 cells or a list of them.

    Strings take any blank mark puzzle files take (`.` `0` `_` ...); a bad one is an InputError naming
    which puzzle and why, never numpy's ValueError.
    """
    if isinstance(puzzles, str):
        puzzles = [puzzles]
    if isinstance(puzzles, (list, tuple)) and any(isinstance(p, str) for p in puzzles):
        grids = []
        for i, text in enumerate(puzzles):
            if not isinstance(text, str):
                raise TypeError(f"puzzle {i}: mix of strings and grids; pass one kind")
            try:
                grids.append(parse_grid_string(text))
            except InputError as error:
                raise InputError(error.message, "<puzzle>" if len(puzzles) == 1 else f"<puzzle {i}>") from None
        return np.stack(grids)
    grids = np.asarray(puzzles)
    if grids.size % CELLS or (grids.size and (grids.min() < 0 or grids.max() > 9)):
        raise ValueError(f"puzzles must be rows of {CELLS} cells 0..9 (0 = blank), got shape {grids.shape}")
    return grids.astype(np.uint8).reshape(-1, CELLS)


@dataclass(frozen=True)
class Step:
    """One supervision step of a batch, yielded by `solve_steps` as soon as the model has computed it.

    Arrays are numpy on the CPU; `rows` are the batch's puzzles that ran this step (the others stopped
    earlier and keep their answers in `answers`).
    """

    step: int  # 1-based
    limit: int  # the step limit: the most steps any puzzle may run (with `steps`, exactly that many)
    rows: np.ndarray  # (R,) int: the batch rows that ran this step
    answers: np.ndarray  # (B, 81) uint8: every puzzle's answer now, givens kept
    confidence: np.ndarray  # (B, 81) float32: the probability of each answer digit (1 for givens)
    halt_probability: np.ndarray  # (R,) float32: the halting head's probability for the rows that ran
    halts: np.ndarray  # (R,) bool: the head said halt (p > 1/2)
    stops: np.ndarray  # (R,) bool: the row runs no further (halted, the step limit, or the fixed count done)


@dataclass(frozen=True)
class Pass:
    """The answer decoded after one of the first H-1 recursion passes inside a supervision step: the latent
    refinement between steps, which the halting head does not judge. The last pass is the step itself."""

    step: int  # the supervision step it belongs to, 1-based
    limit: int
    number: int  # 1-based pass within the step
    passes: int  # passes per step (the model's H_cycles)
    rows: np.ndarray  # (R,) the batch rows that ran this step
    answers: np.ndarray  # (B, 81) uint8: rows that ran hold this pass's answer, the others their last one
    confidence: np.ndarray  # (B, 81) float32


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


@torch.no_grad()
def solve_steps(
    model: TRM,
    puzzles: np.ndarray | str | list[str],
    config: InferenceConfig = InferenceConfig(),
    start: tuple[np.ndarray, np.ndarray] | None = None,
    spent: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> Generator[Step | Pass, None, Solutions]:
    """Run one batch of (B, 81) puzzles (0 = blank; or strings, as `solve` takes them) step by step,
    yielding each `Step` (and, with `config.passes`, each `Pass` before its step) as soon as it is
    computed; returns the `Solutions`.

    `solve_batch` drains this generator: there is one engine, watched or not. `start`: each puzzle's recursive
    state (y, z) to begin from, as an earlier run kept it (`keep_state`), instead of the model's initial one.
    Each step's time is shared equally by the puzzles it ran; `spent`: the seconds each puzzle spent before
    (earlier calls of a search), counted against `config.time_limit` and into `puzzle_seconds`. `groups`: (B,) ints;
    once a row's answer passes the exact check, every row of its group stops at that step (a search's probes of
    one puzzle: one valid answer is the puzzle's, so its siblings need not run on).
    """
    puzzles = as_grids(puzzles)
    groups = None if groups is None else np.asarray(groups).reshape(len(puzzles))
    device = next(model.parameters()).device
    limit = config.step_limit(model)
    resumed, busy = time.perf_counter(), 0.0  # `seconds` counts the engine's own time, not the consumer's
    grids = torch.from_numpy(np.ascontiguousarray(puzzles, dtype=np.uint8)).to(device).long()
    count = len(grids)
    inputs = to_tokens(grids)
    given = grids > 0
    passes = model.config.H_cycles
    prefix = model.config.puzzle_emb_len
    watch_passes = config.passes and passes > 1

    answers = grids.clone()
    confidence = given.float()
    steps = torch.full((count,), limit, dtype=torch.long, device=device)
    halted = torch.zeros(count, dtype=torch.bool, device=device)
    halt_probabilities = torch.full((count, limit), float("nan"), device=device)
    trace_answers = torch.empty((count, limit, CELLS), dtype=torch.uint8, device=device) if config.trace else None
    trace_confidence = torch.empty((count, limit, CELLS), dtype=torch.float16, device=device) if config.trace else None
    trace_passes = config.trace and watch_passes
    pass_shape = (count, limit, passes - 1, CELLS)
    pass_answers = torch.empty(pass_shape, dtype=torch.uint8, device=device) if trace_passes else None
    pass_confidence = torch.empty(pass_shape, dtype=torch.float16, device=device) if trace_passes else None
    digits = torch.zeros((count, CELLS, 9), device=device) if config.probabilities else None
    unchanged = torch.zeros(count, dtype=torch.long, device=device)  # steps in a row the answer stood (settle)
    puzzle_seconds = np.zeros(count) if spent is None else np.array(spent, dtype=np.float64)

    was_training = model.training
    model.eval()
    try:
        active = torch.arange(count, device=device)  # puzzles still running
        carry = model.initial_carry(count, device)
        if start is not None:  # warm: where an earlier run on (nearly) the same puzzles left off
            carry = type(carry)(*(torch.from_numpy(part).to(device, carry.y.dtype) for part in start))
        final = [carry.y.float().clone(), carry.z.float().clone()] if config.keep_state else None
        pass_logits: list[torch.Tensor] = []  # this step's, decoded by keep_pass while the model runs

        def keep_pass(number: int, y: torch.Tensor) -> None:
            pass_logits.append(model.lm_head(y[:, prefix:]))

        for step in range(1, limit + 1):
            pass_logits.clear()
            step_began = busy + time.perf_counter() - resumed
            with autocast_for(device, config.bf16):
                if watch_passes:
                    carry, logits, halt_logit = model(carry, inputs[active], on_pass=keep_pass)
                else:
                    carry, logits, halt_logit = model(carry, inputs[active])
            keep_given = given[active]
            for number, pass_logit in enumerate(pass_logits, 1):
                probability, digit = best_digits(pass_logit, model.config.readout)
                seen = answers.index_put((active,), torch.where(keep_given, grids[active], digit))
                sure = confidence.index_put((active,), torch.where(keep_given, 1.0, probability))
                if trace_passes:
                    pass_answers[:, step - 1, number - 1] = seen.to(torch.uint8)
                    pass_confidence[:, step - 1, number - 1] = sure.half()
                event = Pass(step, limit, number, passes, _numpy(active), _numpy(seen.to(torch.uint8)), _numpy(sure))
                busy += time.perf_counter() - resumed
                yield event
                resumed = time.perf_counter()
            if digits is None:
                probability, digit = best_digits(logits, model.config.readout)
            else:
                every = digit_probabilities(logits, model.config.readout)
                probability, index = every.max(-1)
                digit = index + 1
                digits = digits.index_put((active,), every)
            # Out of place: a Step already yielded keeps the arrays it was given.
            before = answers[active]
            answers = answers.index_put((active,), torch.where(keep_given, grids[active], digit))
            if step > 1:
                same = (answers[active] == before).all(1)
                unchanged[active] = torch.where(same, unchanged[active] + 1, 0)
            confidence = confidence.index_put((active,), torch.where(keep_given, 1.0, probability))
            halt_probability = torch.sigmoid(halt_logit)
            halt_probabilities[active, step - 1] = halt_probability
            halting = says_halt(halt_logit)
            halted[active] = halting
            if config.trace:
                trace_answers[:, step - 1] = answers.to(torch.uint8)
                trace_confidence[:, step - 1] = confidence.half()
            stops = torch.full_like(halting, step == limit) if config.steps else halting | (step == limit)
            if config.settle is not None and not config.steps:
                stops = stops | (unchanged[active] >= config.settle)
            running_rows = _numpy(active)
            puzzle_seconds[running_rows] += (busy + time.perf_counter() - resumed - step_began) / len(running_rows)
            if config.time_limit is not None and not config.steps:
                out_of_time = torch.from_numpy(puzzle_seconds[running_rows] >= config.time_limit)
                stops = stops | out_of_time.to(device)
            if groups is not None:
                solved = valid_solutions(puzzles[running_rows], _numpy(answers[active]))
                stops = stops | torch.from_numpy(np.isin(groups[running_rows], groups[running_rows][solved])).to(device)
            steps[active[stops]] = step
            if final is not None:  # out of place, as the carry leaves the batch row by row
                final = [
                    final[0].index_put((active[stops],), carry.y[stops].float()),
                    final[1].index_put((active[stops],), carry.z[stops].float()),
                ]
            event = Step(
                step,
                limit,
                running_rows,
                _numpy(answers.to(torch.uint8)),
                _numpy(confidence),
                _numpy(halt_probability.float()),
                _numpy(halting),
                _numpy(stops),
            )
            busy += time.perf_counter() - resumed
            yield event
            resumed = time.perf_counter()
            running = ~stops
            if not running.any():  # all stopped: keep only the steps that ran
                halt_probabilities = halt_probabilities[:, :step]
                if config.trace:
                    trace_answers, trace_confidence = trace_answers[:, :step], trace_confidence[:, :step]
                if trace_passes:
                    pass_answers, pass_confidence = pass_answers[:, :step], pass_confidence[:, :step]
                break
            if not running.all():
                active = active[running]
                carry = type(carry)(carry.y[running], carry.z[running])
    finally:
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
        limit,
        numpy(pass_answers),
        numpy(pass_confidence),
        numpy(digits),
        None if final is None else (final[0].float().cpu().numpy(), final[1].float().cpu().numpy()),
        puzzle_seconds,
    )
    result.seconds = busy + time.perf_counter() - resumed  # after the copies: includes the device sync
    return result


Event = TypeVar("Event")
Result = TypeVar("Result")


def finish(run: Generator[Event, None, Result], on_event: Callable[[Event], None] | None = None) -> Result:
    """Drain a run (`solve_steps`, `adaptive.adaptive_steps`), handing each event to `on_event`; returns
    what the run returns."""
    while True:
        try:
            event = next(run)
        except StopIteration as done:
            return done.value
        if on_event is not None:
            on_event(event)


def solve_batch(model: TRM, puzzles: np.ndarray, config: InferenceConfig = InferenceConfig()) -> Solutions:
    """Run one batch of (B, 81) puzzles (0 = blank) through the model, step by step."""
    return finish(solve_steps(model, puzzles, config))


def solve(
    model: TRM,
    puzzles: np.ndarray | str | list[str],
    config: InferenceConfig = InferenceConfig(),
    on_progress: Callable[[int], None] | None = None,
) -> Solutions:
    """Solve any number of puzzles in batches of `config.batch_size`; `on_progress(done)` after each.

    `puzzles`: an (N, 81) array (0 = blank), one puzzle string of 81 cells, or a list of them.
    """
    puzzles = as_grids(puzzles)
    if len(puzzles) == 0:
        raise ValueError("no puzzles to solve")
    parts = []
    for start in range(0, len(puzzles), config.batch_size):
        parts.append(solve_batch(model, puzzles[start : start + config.batch_size], config))
        if on_progress is not None:
            on_progress(min(start + config.batch_size, len(puzzles)))
    return parts[0] if len(parts) == 1 else Solutions.concat(parts)
