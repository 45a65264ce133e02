"""What `solve` and `eval` share: the flags that pick a model and say how it solves.

`@with_model_options` puts the flags into a command's signature in place of its `model: ModelOptions`
parameter and hands the command what was parsed as one `ModelOptions`: the solve settings
(inference/settings.py, which decides what each --effort means) plus the weights and the device.
`load_model` loads those weights; inference/solving.py solves. Torch is imported only when they run,
so `--help` stays fast.
"""

from __future__ import annotations

import copy
import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from sudoku_trm.inference.settings import EFFORTS, SEARCH_BUDGET, SEARCH_PROBES, SolveSettings

if TYPE_CHECKING:
    from sudoku_trm.model.trm import TRM

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # as devices.resolve_device reads them (not imported: torch)


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
class ModelOptions(SolveSettings):
    """The model flags as parsed: which weights on which device, and how it solves (SolveSettings)."""

    weights: Path | None = None  # None: $SUDOKU_TRM_WEIGHTS, else the shipped default
    device: str = "auto"


_FLAGS = (  # (parameter, type, declaration) in the order --help lists them
    (
        "weights",
        Optional[Path],
        typer.Option(
            ModelOptions.weights,
            "--weights",
            metavar="DIR",
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
    (
        "time_limit",
        Optional[float],
        typer.Option(
            ModelOptions.time_limit,
            "--time-limit",
            min=0.001,
            metavar="SECONDS",
            help="--effort search: model time per puzzle (its share of each step it runs in; a call stops at the "
            "step that spends it) before the exact solver finishes, besides --budget (default: none).",
        ),
    ),
    (
        "probes",
        int,
        typer.Option(
            ModelOptions.probes,
            "--probes",
            min=0,
            help="--effort search: where logic and the model stall, run this many one-cell guesses side by side, "
            "each briefly, the ones logic takes furthest first; a valid answer of one ends the puzzle. 0: guess "
            f"one cell at a time. Default {SEARCH_PROBES}.",
        ),
    ),
    ("batch_size", int, typer.Option(ModelOptions.batch_size, "--batch-size", min=1, help="Puzzles per model batch.")),
    (
        "bf16",
        bool,
        typer.Option(ModelOptions.bf16, "--bf16/--no-bf16", help="bf16 autocast on CUDA (no effect elsewhere)."),
    ),
)


def with_model_options(command: Callable | None = None, *, helps: dict | None = None, **defaults) -> Callable:
    """Declare the model flags where `command` has its `model` parameter; it receives them as a ModelOptions.
    `@with_model_options(effort="auto")` gives a flag another default for that command, and
    `helps={"effort": ...}` another help text (what --effort does differs between solve and eval)."""
    if command is None:
        return functools.partial(with_model_options, helps=helps, **defaults)
    signature = inspect.signature(command, eval_str=True)
    if "model" not in signature.parameters:
        raise TypeError(f"{command.__name__} has no `model` parameter for the model flags")
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name == "model":
            parameters += [
                inspect.Parameter(
                    name, parameter.kind, default=_defaulting(flag, name, defaults, helps or {}), annotation=kind
                )
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


def _defaulting(flag, name: str, defaults: dict, helps: dict):
    """The flag's declaration with the command's own default and help, where it has them."""
    if name not in defaults and name not in helps:
        return flag
    flag = copy.copy(flag)
    flag.default = defaults.get(name, flag.default)
    flag.help = helps.get(name, flag.help)
    return flag


def load_model(options: ModelOptions) -> TRM:
    """The model `--weights` names (or the default one) on `--device`; any problem is a UserError."""
    from sudoku_trm.model.devices import resolve_device
    from sudoku_trm.model.weights import load_weights, resolve_weights_dir

    return load_weights(resolve_weights_dir(options.weights), resolve_device(options.device))
