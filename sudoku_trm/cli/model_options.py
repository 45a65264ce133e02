"""What `solve` and `eval` share: the flags that pick a model and say how it solves, and the work they do with them.

`@with_model_options` puts the flags into a command's signature in place of its `model: ModelOptions`
parameter and hands the command what was parsed as one `ModelOptions`. `load_model` and `solve_puzzles`
then load the weights and solve (with --votes: symmetric copies and a vote; with --effort or --budget:
adaptive solving, inference/adaptive.py). Torch is imported only when they run, so `--help` stays fast.

CPU threads: `cpu_threads` runs batches of fewer than SINGLE_THREAD_BELOW puzzles on one torch thread.
Small batches gain little from a second thread, and torch's threads wait for each other by spinning,
which costs dearly when another process holds a core. Measured on this project's 2-core machine (the
shipped model; other sessions kept the load at 2 to 7): with a busy loop on one core, the whole
`solve puzzles/easy.txt --json` took 5.3-5.6 s on one thread and 10-39 s on torch's default two (about
4 s either way without the loop); the model time of 1 / 16 / 64 puzzles (4 steps) was 0.09 / 1.4 / 7.3 s
on one thread against 4.3 / 7.7 / 12.6 s on two. Two threads won once, at 64 puzzles on a quieter
machine (43 s against 52 s, 16 steps), so batches of 32 and more keep torch's default. OMP_NUM_THREADS,
when set, is left alone.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import typer

if TYPE_CHECKING:
    import numpy as np

    from sudoku_trm.inference.adaptive import AdaptiveSolutions, Budget
    from sudoku_trm.inference.commit import CommitSolutions
    from sudoku_trm.inference.engine import InferenceConfig, Solutions
    from sudoku_trm.inference.search import SearchConfig, SearchSolutions
    from sudoku_trm.inference.voting import VoteResult
    from sudoku_trm.model.trm import TRM

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # as devices.resolve_device reads them (not imported: torch)
# auto (solve's default), off, commit decoding (inference/commit.py), guided search (inference/search.py),
# then inference/adaptive.py's presets (not imported: torch)
EFFORTS = ("auto", "off", "commit", "search", "fast", "default", "thorough")
SEARCH_BUDGET = 16  # inference/search.py DEFAULT_BUDGET (model calls per puzzle), repeated: --help imports no torch
COMMIT_THRESHOLD = 0.9  # inference/commit.py DEFAULT_THRESHOLD, repeated here so --help imports no torch


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise typer.BadParameter(f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _probability(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise typer.BadParameter(f"must lie in (0, 1], not {value:g}")
    return value


def device_name(value: str) -> str:
    """A --device that names no device is bad usage (exit 2); a named one that is absent is exit 1, later."""
    if value not in DEVICE_NAMES:
        raise typer.BadParameter(f"must be one of {', '.join(DEVICE_NAMES)}, not {value!r}")
    return value


@dataclass(frozen=True)
class ModelOptions:
    """The model flags as parsed: which weights on which device, how many steps, voting, batching."""

    weights: Path | None = None  # None: $SUDOKU_TRM_WEIGHTS, else the shipped default
    device: str = "auto"
    steps: int | None = None  # exactly this many steps, whatever the halting head says
    max_steps: int | None = None  # None: the model's own limit
    votes: int = 1
    seed: int = 0  # of the symmetries drawn for votes
    batch_size: int = 256
    bf16: bool = True
    effort: str = "off"  # "off": the model alone; "commit": commit decoding; "search": guided search; else
    # adaptive solving's preset; "auto" until `resolved`
    budget: int | None = None  # adaptive: model steps per puzzle at most (alone: the default preset); search: calls
    commit_threshold: float = COMMIT_THRESHOLD  # --effort commit: a cell this sure becomes a given

    @property
    def commit(self) -> bool:
        return self.effort == "commit"

    @property
    def search(self) -> bool:
        return self.effort == "search"

    @property
    def adaptive(self) -> bool:
        return self.effort in ("fast", "default", "thorough") or (self.effort == "off" and self.budget is not None)

    def resolved(self, watch_alone: bool) -> "ModelOptions":
        """`auto` made concrete: guided search, which answers every valid puzzle validly, unless the flags ask
        to watch the model alone (`watch_alone`: --steps, --votes, --trace, --svg, --show-passes) and no
        --budget is given."""
        if self.effort != "auto":
            return self
        return replace(self, effort="off" if watch_alone and self.budget is None else "search")

    def search_config(self) -> SearchConfig:
        from sudoku_trm.inference.search import SearchConfig

        return SearchConfig(self.budget or SEARCH_BUDGET, self.commit_threshold)

    def adaptive_budget(self, model: TRM) -> Budget:
        """The preset --effort names (default when only --budget is given), capped at --budget."""
        from sudoku_trm.errors import UserError
        from sudoku_trm.inference.adaptive import preset

        horizon = self.inference().step_limit(model)
        plan = preset("default" if self.effort == "off" else self.effort, horizon)
        if self.budget is None:
            return plan
        try:
            return replace(plan, work=self.budget).resolve(horizon)
        except ValueError as error:
            raise UserError(f"--budget: {error}") from None

    def inference(self, trace: bool = False, passes: bool = False) -> InferenceConfig:
        from sudoku_trm.inference.engine import InferenceConfig

        return InferenceConfig(
            max_steps=self.max_steps,
            steps=self.steps,
            batch_size=self.batch_size,
            bf16=self.bf16,
            trace=trace,
            passes=passes,
        )


_FLAGS = (  # (parameter, type, declaration) in the order --help lists them
    (
        "weights",
        Optional[Path],
        typer.Option(
            ModelOptions.weights,
            "--weights",
            help="Model directory (config.json + model.safetensors); default: weights/.",
        ),
    ),
    (
        "device",
        str,
        typer.Option(ModelOptions.device, "--device", callback=device_name, help="auto | cpu | cuda | mps."),
    ),
    (
        "steps",
        Optional[int],
        typer.Option(
            ModelOptions.steps, "--steps", min=1, help="Run exactly this many refinement steps (ignore halting)."
        ),
    ),
    (
        "max_steps",
        Optional[int],
        typer.Option(
            ModelOptions.max_steps,
            "--max-steps",
            min=1,
            help="Stop at this many steps if the model has not halted (default: the model's limit).",
        ),
    ),
    (
        "votes",
        int,
        typer.Option(
            ModelOptions.votes, "--votes", min=1, help="Solve this many symmetric copies per puzzle and vote."
        ),
    ),
    ("seed", int, typer.Option(ModelOptions.seed, "--seed", help="Seed of the symmetries drawn for --votes.")),
    (
        "effort",
        str,
        typer.Option(
            ModelOptions.effort,
            "--effort",
            callback=lambda value: _one_of(value, EFFORTS),
            help="auto (solve's default: search, or off where --steps, --votes, --trace, --svg or --show-passes "
            "watch the model alone) | off (the model alone) | commit (commit decoding: the cells the model is "
            "sure of become givens and it runs again, until solved or nothing new is sure) | search (guided "
            "search: commit decoding that branches on a stall in the model's order and backtracks out of dead "
            f"ends, within --budget model calls, default {SEARCH_BUDGET}; then the exact solver finishes: every "
            "valid puzzle gets a valid answer) | adaptive solving: fast (more "
            "steps, up to 2x) | default (then 8 symmetric copies, up to 10x) | thorough (more of both, and "
            "random restarts, up to 52x). Every answer is checked against the rules; a valid one ends its "
            "puzzle's work at once.",
        ),
    ),
    (
        "commit_threshold",
        float,
        typer.Option(
            ModelOptions.commit_threshold,
            "--commit-threshold",
            callback=lambda value: _probability(value),
            help="--effort commit and search: the probability at which a cell is committed.",
        ),
    ),
    (
        "budget",
        Optional[int],
        typer.Option(
            ModelOptions.budget,
            "--budget",
            min=1,
            help="Adaptive solving: model steps per puzzle at most, over all its chains (alone, with --effort "
            "off: the default plan). --effort search: model calls per puzzle before the exact solver finishes.",
        ),
    ),
    ("batch_size", int, typer.Option(ModelOptions.batch_size, "--batch-size", min=1, help="Puzzles per model batch.")),
    (
        "bf16",
        bool,
        typer.Option(ModelOptions.bf16, "--bf16/--no-bf16", help="bf16 autocast on CUDA (no effect elsewhere)."),
    ),
)


def with_model_options(command: Callable | None = None, **defaults) -> Callable:
    """Declare the model flags where `command` has its `model` parameter; it receives them as a ModelOptions.
    `@with_model_options(effort="auto")` gives a flag another default for that command."""
    if command is None:
        return functools.partial(with_model_options, **defaults)
    signature = inspect.signature(command, eval_str=True)
    if "model" not in signature.parameters:
        raise TypeError(f"{command.__name__} has no `model` parameter for the model flags")
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name == "model":
            parameters += [
                inspect.Parameter(name, parameter.kind, default=_defaulting(flag, name, defaults), annotation=kind)
                for name, kind, flag in _FLAGS
            ]
        else:
            parameters.append(parameter)
    names = [name for name, _, _ in _FLAGS]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        model = ModelOptions(**{name: kwargs.pop(name) for name in names})
        if model.steps is not None and model.max_steps is not None:  # bad usage: exit 2, before any work
            raise typer.BadParameter(
                "give one: --steps runs exactly N steps, --max-steps caps a run the model may halt sooner",
                param_hint="'--steps' / '--max-steps'",
            )
        if (model.adaptive or model.commit or model.search) and (model.steps is not None or model.votes > 1):
            raise typer.BadParameter(
                "--effort stops each puzzle by itself (and adaptive solving runs its own symmetric copies): "
                "give it without --steps and --votes",
                param_hint="'--effort' / '--budget'",
            )
        if model.commit and model.budget is not None:
            raise typer.BadParameter(
                "--budget bounds adaptive solving; commit decoding stops when nothing new is sure",
                param_hint="'--effort commit' / '--budget'",
            )
        return command(*args, model=model, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=parameters)  # what Typer reads
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def _defaulting(flag, name: str, defaults: dict):
    """The flag's declaration with the command's own default, where it has one."""
    if name not in defaults:
        return flag
    flag = copy.copy(flag)
    flag.default = defaults[name]
    return flag


def load_model(options: ModelOptions) -> TRM:
    """The model `--weights` names (or the default one) on `--device`; any problem is a UserError."""
    from sudoku_trm.model.devices import resolve_device
    from sudoku_trm.model.weights import load_weights, resolve_weights_dir

    return load_weights(resolve_weights_dir(options.weights), resolve_device(options.device))


SINGLE_THREAD_BELOW = 32  # puzzles per model call; see the module docstring


@contextmanager
def cpu_threads(model: TRM, batch: int) -> Iterator[None]:
    """One torch thread while a CPU model runs batches of fewer than SINGLE_THREAD_BELOW puzzles (unless
    OMP_NUM_THREADS says otherwise); the thread count is restored afterwards."""
    import torch

    if next(model.parameters()).device.type != "cpu" or batch >= SINGLE_THREAD_BELOW or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class SolvedBatch:
    """What solving a batch gave: the answers, and how they came about under --votes or adaptive solving."""

    solutions: Solutions
    votes: VoteResult | None = None
    adaptive: AdaptiveSolutions | None = None
    committed: CommitSolutions | None = None
    searched: SearchSolutions | None = None

    @property
    def single(self) -> Solutions | None:
        """The model alone, one copy, single pass: shown beside any test-time compute, never replaced by it."""
        if self.votes is not None:
            return self.votes.single
        if self.committed is not None:
            return self.committed.single
        if self.searched is not None:
            return self.searched.single
        return None if self.adaptive is None else self.adaptive.single


def solve_puzzles(
    model: TRM,
    grids: np.ndarray,
    options: ModelOptions,
    progress: Callable[[int], None] | None = None,
    trace: bool = False,
    passes: bool = False,
) -> SolvedBatch:
    """Solve `grids`: with --votes above 1 by voting over symmetric copies, with --effort/--budget adaptively."""
    from sudoku_trm.inference import engine
    from sudoku_trm.inference.adaptive import solve_adaptive
    from sudoku_trm.inference.voting import solve_with_votes

    inference = options.inference(trace, passes)
    with cpu_threads(model, min(options.batch_size, len(grids) * options.votes)):
        if options.commit:
            from sudoku_trm.inference.commit import CommitConfig, solve_committed

            committed = solve_committed(model, grids, CommitConfig(options.commit_threshold), inference)
            if progress is not None:
                progress(len(grids))
            return SolvedBatch(committed.solutions, committed=committed)
        if options.search:
            from sudoku_trm.inference.search import solve_searched

            searched = solve_searched(model, grids, options.search_config(), inference)
            if progress is not None:
                progress(len(grids))
            return SolvedBatch(searched.solutions, searched=searched)
        if options.adaptive:
            budget = options.adaptive_budget(model)

            def count(step) -> None:
                if progress is not None:
                    progress(step.finished)

            result = solve_adaptive(model, grids, budget, inference, options.seed, count)
            if progress is not None:
                progress(len(grids))
            return SolvedBatch(result.solutions, adaptive=result)
        if options.votes > 1:
            votes = solve_with_votes(model, grids, options.votes, inference, options.seed, progress)
            return SolvedBatch(votes.solutions, votes=votes)
        return SolvedBatch(engine.solve(model, grids, inference, progress))
