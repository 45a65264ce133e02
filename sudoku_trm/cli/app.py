"""The Typer app: every command with its options, and the console-script entry point `main`.

Each command turns its options into configs or an options dataclass and hands them to its own module
(solve.py, eval.py, check.py, train.py, download.py), imported when the command runs so that `--help`
never imports torch. Errors are one line on stderr, never a traceback; an interrupt is one plain line
(train's says where the checkpoint is and to continue with --resume). Exit codes: 0 success, 1 bad
input (or a command that cannot run yet), 2 bad usage (Typer's own), 130 interrupted (Ctrl-C), 141
the reader closed the output pipe early (`solve ... | head -1`; quiet, as for any Unix tool).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import List, Optional

import typer

from sudoku_trm import __version__
from sudoku_trm.cli.model_options import ModelOptions, device_name, with_model_options
from sudoku_trm.cli.terminal import (
    CLOSED_PIPE_EXIT_CODE,
    fail,
    print_error,
    quiet_closed_pipe,
    reports_user_errors,
    stderr,
    stdout,
)
from sudoku_trm.cli.usage import TidyGroup
from sudoku_trm.errors import UserError
from sudoku_trm.inference.settings import SEARCH_BUDGET, SOLVE_TIME_LIMIT
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.recipes import CPU_RECIPE, DEFAULT_RECIPE, RECIPES, by_recipe, default_recipe
from sudoku_trm.training.recipes import configs as recipe_configs

app = typer.Typer(
    cls=TidyGroup,  # plain metavars, checked choices, one-line usage errors (cli/usage.py)
    name="sudoku-trm",
    help="Solve Sudoku with a Tiny Recursive Model (TRM) trained with the CGAR curriculum.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        stdout.print(f"sudoku-trm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Solve Sudoku with a Tiny Recursive Model (TRM) trained with the CGAR curriculum."""


_TRAIN, _MODEL = TrainConfig(), ModelConfig()  # train's defaults are the configs' own ...
# ... except where a recipe sets a field: those flags default to None ("not given") and resolve against
# --recipe, so an explicit flag always wins over the recipe (training/recipes.py holds the table).
_RECIPE_HELP = "Published settings to start from; explicit flags override them. " + " ".join(
    f"{name}: {recipe.summary}." for name, recipe in RECIPES.items()
)


def _by_recipe(key: str) -> str:
    return f"Default by --recipe: {by_recipe(key)}."


@app.command()
@reports_user_errors
def train(
    recipe: Optional[str] = typer.Option(
        None, help=_RECIPE_HELP + f" Default: {CPU_RECIPE} on a CPU, {DEFAULT_RECIPE} where CUDA is."
    ),
    curriculum: str = typer.Option(
        _TRAIN.curriculum, help="none | pdc (depth curriculum) | hsw (step weighting) | cgar (both)."
    ),
    data: Optional[List[str]] = typer.Option(
        None,
        "--data",
        metavar="FILE",
        help="Training puzzles (repeat for several): a puzzle file, or generated:LEVEL:COUNT[:SEED] made by the "
        "generator and cached. Default: 2,000 generated puzzles of each level (singles, logic, guesses), shipped "
        "with the package. The published setting: `sudoku-trm download data`, then "
        "--data data/sudoku-extreme/train.csv.",
    ),
    dev: Optional[str] = typer.Option(
        None,
        "--dev",
        metavar="FILE",
        help="Dev puzzles evaluated during training, a file or generated:LEVEL:COUNT[:SEED] ('' for none). "
        "Default: 200 generated guesses puzzles of another seed than the training data's.",
    ),
    dev_limit: Optional[int] = typer.Option(
        None, min=0, help=f"Dev puzzles per evaluation (0: all). {_by_recipe('dev_limit')}"
    ),
    steps: Optional[int] = typer.Option(
        None, min=1, help=f"Optimiser steps (one supervision step of the batch each). {_by_recipe('steps')}"
    ),
    time_budget: Optional[float] = typer.Option(
        None,
        min=0.0,
        metavar="MINUTES",
        help="Train for this long instead of --steps: setup, compilation and evaluation count, the depth "
        "curriculum and the learning-rate schedule follow elapsed time, and the final save and --export "
        "fit inside (time for them is kept back, measured at the start). --resume continues the clock.",
    ),
    batch_size: Optional[int] = typer.Option(
        None, min=1, help=f"Global batch (slots), split over torchrun processes. {_by_recipe('batch_size')}"
    ),
    optimizer: Optional[str] = typer.Option(
        None,
        help="adam_atan2 | adamw | muon (Muon on the blocks' weight matrices, AdamW on everything else). "
        + _by_recipe("optimizer"),
    ),
    lr: Optional[float] = typer.Option(
        None, help=f"Peak learning rate of the Adam-atan2 / AdamW groups. {_by_recipe('lr')}"
    ),
    muon_lr: Optional[float] = typer.Option(
        None, help=f"Peak learning rate of the Muon group. {_by_recipe('muon_lr')}"
    ),
    muon_momentum: Optional[float] = typer.Option(
        None, min=0.0, help=f"Muon's (Nesterov) momentum. {_by_recipe('muon_momentum')}"
    ),
    muon_weight_decay: Optional[float] = typer.Option(
        None, min=0.0, help=f"Muon's weight decay. {_by_recipe('muon_weight_decay')}"
    ),
    lr_schedule: Optional[str] = typer.Option(
        None, help=f"constant | cosine (decays to --lr-floor at the last step). {_by_recipe('lr_schedule')}"
    ),
    lr_floor: Optional[float] = typer.Option(
        None, min=0.0, max=1.0, help=f"The cosine's end, as a fraction of the peak. {_by_recipe('lr_floor')}"
    ),
    warmup_steps: Optional[int] = typer.Option(None, min=0, help=f"Linear warm-up steps. {_by_recipe('warmup_steps')}"),
    weight_decay: Optional[float] = typer.Option(
        None, min=0.0, help=f"Weight decay of the Adam-atan2 / AdamW groups. {_by_recipe('weight_decay')}"
    ),
    grad_clip: Optional[float] = typer.Option(
        None, min=0.0, help=f"Clip the gradient norm to this (0: off). {_by_recipe('grad_clip')}"
    ),
    loss: Optional[str] = typer.Option(
        None, help=f"stablemax | softmax: the cells' cross-entropy. {_by_recipe('loss')}"
    ),
    label_smoothing: Optional[float] = typer.Option(
        None, min=0.0, max=0.99, help=f"Label smoothing of the cells' cross-entropy. {_by_recipe('label_smoothing')}"
    ),
    halt_loss_weight: Optional[float] = typer.Option(
        None, min=0.0, help=f"Weight of the halting head's loss. {_by_recipe('halt_loss_weight')}"
    ),
    ema_decay: float = typer.Option(_TRAIN.ema_decay, help="EMA of the weights (evaluated and exported)."),
    hidden_size: Optional[int] = typer.Option(
        None, min=8, help=f"Model width (512: the published model). {_by_recipe('hidden_size')}"
    ),
    mixer: Optional[str] = typer.Option(
        None,
        help="mlp (SwiGLU across positions) | attention (RoPE) | units (each cell hears its row, column and "
        f"box). {_by_recipe('mixer')}",
    ),
    pair_width: Optional[int] = typer.Option(
        None,
        min=0,
        help="With --mixer units: add messages of this width that depend on sender and receiver (0: none). "
        f"{_by_recipe('pair_width')}",
    ),
    targets: Optional[str] = typer.Option(
        None,
        help="solution (every step scored on the whole solution) | logic (step t on what our solver's logic "
        f"places in --rounds-per-step x t rounds). {_by_recipe('targets')}",
    ),
    rounds_per_step: Optional[int] = typer.Option(
        None, min=1, help=f"Logic rounds per supervision step (--targets logic). {_by_recipe('rounds_per_step')}"
    ),
    pending_weight: Optional[float] = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help=f"Weight of cells logic reaches only later (--targets logic). {_by_recipe('pending_weight')}",
    ),
    pending: Optional[str] = typer.Option(
        None,
        help="What a cell logic has not reached yet is asked for (--targets logic): solution (its digit, at "
        "--pending-weight) | unknown (an even spread over the digits: the model learns to be sure only of what "
        f"logic proves). {_by_recipe('pending')}",
    ),
    h_cycles: Optional[int] = typer.Option(
        None, min=1, help=f"Full-depth passes per supervision step. {_by_recipe('H_cycles')}"
    ),
    l_cycles: Optional[int] = typer.Option(
        None, min=1, help=f"Latent updates per pass at full depth. {_by_recipe('L_cycles')}"
    ),
    mlp: Optional[str] = typer.Option(
        None, help=f"swiglu | gated_rms (Muon-friendly: sigmoid(gate) * rms_norm(gate * value)). {_by_recipe('mlp')}"
    ),
    max_steps: Optional[int] = typer.Option(
        None, min=1, help=f"Supervision steps per puzzle at most. {_by_recipe('halt_max_steps')}"
    ),
    init_from: Optional[Path] = typer.Option(
        None,
        "--init-from",
        metavar="DIR",
        help="Start from an exported model (its EMA weights, for model and EMA) with a fresh optimiser at "
        "step 0; its config must equal the one trained.",
    ),
    subsample: Optional[int] = typer.Option(_TRAIN.subsample, help="Paper protocol: base puzzles drawn (seeded)."),
    augment: int = typer.Option(
        _TRAIN.augment_copies, min=1, help="Paper protocol: fixed augmented copies per base puzzle."
    ),
    easier_share: Optional[float] = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Share of samples made easier by revealing a random share of their blanks (still unique; "
        "--mix fixed). " + _by_recipe("easier_share"),
    ),
    mix: str = typer.Option(
        _TRAIN.mix,
        help="fixed (every puzzle alike) | frontier (each data file at each --reveal share, drawn most where the "
        "model solves about half, as measured from the training stream).",
    ),
    reveals: Optional[list[float]] = typer.Option(
        None,
        "--reveal",
        help="With --mix frontier: a share of the blanks filled in from the solution, one bucket per data file "
        "(repeat it; 0 is the puzzle as posed). Default: 0, 0.25, 0.5, 0.75.",
    ),
    device: str = typer.Option(_TRAIN.device, callback=device_name, help="auto | cpu | cuda | mps."),
    compile_model: Optional[bool] = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the shared network, not the whole model (default: on CUDA)."
    ),
    bf16: bool = typer.Option(_TRAIN.bf16, "--bf16/--no-bf16", help="bf16 autocast on CUDA (no effect on CPU)."),
    cpu_bf16: bool = typer.Option(
        _TRAIN.cpu_bf16,
        "--cpu-bf16/--no-cpu-bf16",
        help="bf16 autocast on the CPU too: with --compile, 2.6x the steps on a CPU with AMX; far slower without.",
    ),
    seed: int = typer.Option(
        _TRAIN.seed, help="Seed of the initial weights, the data order and the puzzles made easier (per process)."
    ),
    name: str = typer.Option(_TRAIN.name, help="Run name: runs/<name>/ holds checkpoint.pt and metrics.jsonl."),
    runs_dir: str = typer.Option(
        _TRAIN.runs_dir, metavar="DIR", help="Where runs are kept: one folder per --name (runs/<name>/)."
    ),
    log_every: int = typer.Option(
        _TRAIN.log_every, min=1, help="Log loss, accuracy and speed to metrics.jsonl (and the screen) every N steps."
    ),
    eval_every: int = typer.Option(
        _TRAIN.eval_every, min=0, help="Evaluate on --dev every N steps (0: only at the end)."
    ),
    checkpoint_every: int = typer.Option(
        _TRAIN.checkpoint_every, min=1, help="Save runs/<name>/checkpoint.pt (for --resume) every N steps."
    ),
    resume: bool = typer.Option(_TRAIN.resume, "--resume", help="Continue runs/<name>/checkpoint.pt where it stopped."),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace an earlier run of this --name (its checkpoint and metrics) instead of refusing.",
    ),
    export: Optional[Path] = typer.Option(
        None, "--export", metavar="DIR", help="Write the EMA weights here when done (e.g. weights/)."
    ),
) -> None:
    """Train a TRM with deep supervision and the CGAR curriculum (CUDA when there is one, else CPU)."""
    from sudoku_trm.training.started import process_start

    started = process_start()  # a --time-budget counts from the process's start: imports take seconds too
    from sudoku_trm.cli import train as cli_train  # imported when the command runs: keeps torch out of `--help`
    from sudoku_trm.model.devices import resolve_device

    given_model = {
        "H_cycles": h_cycles,
        "L_cycles": l_cycles,
        "mlp": mlp,
        "mixer": mixer,
        "pair_width": pair_width,
        "hidden_size": hidden_size,
        "halt_max_steps": max_steps,
    }
    given_train = {
        "data": tuple(data) if data else None,
        "dev": None if dev is None else dev or "",
        "dev_limit": None if dev_limit is None else dev_limit or 0,
        "easier_share": easier_share,
        "mix": mix,
        "reveals": tuple(reveals) if reveals else None,
        "targets": targets,
        "rounds_per_step": rounds_per_step,
        "pending_weight": pending_weight,
        "pending": pending,
        "steps": steps,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "lr": lr,
        "muon_lr": muon_lr,
        "muon_momentum": muon_momentum,
        "muon_weight_decay": muon_weight_decay,
        "lr_schedule": lr_schedule,
        "lr_floor": lr_floor,
        "warmup_steps": warmup_steps,
        "weight_decay": weight_decay,
        "grad_clip": grad_clip,
        "loss": loss,
        "label_smoothing": label_smoothing,
        "halt_loss_weight": halt_loss_weight,
    }
    recipe = recipe or default_recipe(resolve_device(device).type == "cuda")
    try:
        model_config, config = recipe_configs(
            recipe,
            model={k: v for k, v in given_model.items() if v is not None},
            train={
                "name": name,
                "runs_dir": runs_dir,
                "subsample": subsample,
                "augment_copies": augment,
                "curriculum": curriculum,
                "time_budget": time_budget,
                "ema_decay": ema_decay,
                "init_from": str(init_from) if init_from else None,
                "seed": seed,
                "device": device,
                "compile": resolve_device(device).type == "cuda" if compile_model is None else compile_model,
                "bf16": bf16,
                "cpu_bf16": cpu_bf16,
                "log_every": log_every,
                "eval_every": eval_every,
                "checkpoint_every": checkpoint_every,
                "resume": resume,
                **{k: v for k, v in given_train.items() if v is not None},
            },
        )
    except ValueError as error:
        raise fail(str(error), 2) from None
    if config.dev == "" or config.dev_limit == 0:  # '' and 0 on the command line: no dev set, every puzzle
        config = replace(config, dev=config.dev or None, dev_limit=config.dev_limit or None)
    cli_train.run(model_config, config, export, started, overwrite=overwrite)


# solve, eval and check read their files alike (sudoku.puzzles.read_puzzles): one or more, `-` for stdin.
FILES_METAVAR = "FILE|-"
FILES_HELP = "line, grid or CSV form; - reads stdin"


@app.command()
@reports_user_errors
@with_model_options(
    effort="auto",
    time_limit=SOLVE_TIME_LIMIT,
    helps={
        "time_limit": "--effort search: model time per puzzle (its share of each step it runs in; a call stops at "
        f"the step that spends it) before the exact solver finishes, besides --budget (default {SOLVE_TIME_LIMIT:g} s; "
        "eval has none)."
    },
)
def solve(
    files: List[str] = typer.Argument(..., metavar=FILES_METAVAR, help=f"Puzzle files ({FILES_HELP})."),
    model: ModelOptions = ModelOptions(),  # the model flags: see model_options.py
    trace: bool = typer.Option(False, "--trace", help="Print every refinement step, not just the answer."),
    show_passes: bool = typer.Option(
        False,
        "--show-passes",
        help="Also draw the answer after each recursion pass inside a step (live, --trace and --svg).",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle on stdout, nothing else."),
    svg: Optional[Path] = typer.Option(None, "--svg", metavar="FILE", help="Save the rendered steps as an SVG image."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the answers here (.csv: CSV, else line form)."
    ),
    animate: Optional[bool] = typer.Option(
        None,
        "--animate/--no-animate",
        help="Solve puzzles live on a terminal, drawing each step as the model makes it (default: the first 3).",
    ),
    delay: float = typer.Option(0.35, "--delay", min=0.0, help="Seconds a live frame stays up at least."),
) -> None:
    """Solve puzzles with the model and watch it refine its answer step by step.

    Every answer is checked against Sudoku's rules. By default (guided search) every valid puzzle gets a
    valid answer, and the summary says how much of it the model found. Bad lines and unsolvable puzzles
    are reported (file:line) and skipped, the rest is still solved; the exit code is then 1. An answer
    that breaks the rules (--effort off, commit or adaptive) makes the exit code 3.
    """
    from sudoku_trm.cli import solve as cli_solve

    model = model.resolved(model.steps is not None or model.votes > 1 or trace or svg is not None or show_passes)
    if (model.adaptive or model.search or model.commit) and (trace or svg is not None or show_passes):
        raise typer.BadParameter(
            "--trace, --svg and --show-passes draw one run's steps; adaptive solving, commit decoding and "
            "search run several: watch it live on a terminal instead",
            param_hint="'--effort' / '--budget'",
        )
    if model.search and (model.steps is not None or model.votes > 1):  # --budget alone means search here
        raise typer.BadParameter(
            "--effort search stops each puzzle by itself: give it without --steps and --votes",
            param_hint="'--effort' / '--budget'",
        )
    options = cli_solve.SolveOptions(
        **asdict(model),
        trace=trace,
        as_json=as_json,
        svg=svg,
        output=output,
        animate=animate,
        delay=delay,
        show_passes=show_passes,
    )
    code = cli_solve.run(files, options, stdout, stderr)
    if code:
        raise typer.Exit(code)


_EVAL_EFFORT_HELP = (
    "off (eval's default: the model alone) | commit (commit decoding: the cells the model is sure of become "
    "givens and it runs again) | search (guided search within --budget model calls, default "
    f"{SEARCH_BUDGET}, then the exact solver: the report adds who found the answers, model calls and "
    "guesses, beside the exact solver's own guesses) | auto (search) | adaptive solving: fast (more steps, "
    "up to 2x) | default (then 8 symmetric copies, up to 10x) | thorough (more of both, and random "
    "restarts, up to 52x). The model's own single-pass accuracy is reported beside any of them."
)


@app.command(name="eval")
@reports_user_errors
@with_model_options(helps={"effort": _EVAL_EFFORT_HELP})
def evaluate(
    files: List[str] = typer.Argument(
        ..., metavar=FILES_METAVAR, help=f"Puzzle files ({FILES_HELP}), with or without answers."
    ),
    model: ModelOptions = ModelOptions(),  # the model flags: see model_options.py
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Evaluate at most this many puzzles per file."),
    as_json: bool = typer.Option(False, "--json", help="One JSON report on stdout, nothing else."),
    sweep: bool = typer.Option(
        False,
        "--sweep",
        help="Exact accuracy against compute: adaptive solving (the thorough plan) cut off at each of "
        "--sweep-budgets, with the model's own single-pass accuracy beside.",
    ),
    sweep_budgets: str = typer.Option(
        "1,2,4,8,16,32", "--sweep-budgets", help="Model steps per puzzle, in multiples of the step limit H."
    ),
    plot: Optional[Path] = typer.Option(
        None, "--plot", metavar="FILE", help="With --sweep: save accuracy against steps as a PNG."
    ),
) -> None:
    """Measure the model on puzzle files: exact-grid and cell accuracy, valid answers, halting, steps, speed.

    Labels are the files' answers, or the exact solver's where a puzzle lists none.
    """
    from sudoku_trm.cli import eval as cli_eval

    options = cli_eval.EvalOptions(**asdict(model.resolved(False)), limit=limit, as_json=as_json)
    if sweep:
        from sudoku_trm.cli import sweep as cli_sweep

        if model.effort != "off" or model.budget is not None or model.steps is not None or model.votes > 1:
            raise typer.BadParameter(
                "--sweep runs the thorough plan at each of its own budgets: give it without "
                "--effort, --budget, --steps and --votes",
                param_hint="'--sweep'",
            )
        code = cli_sweep.run(files, options, _multiples(sweep_budgets), plot, stdout, stderr)
    elif plot is not None or sweep_budgets != "1,2,4,8,16,32":
        raise typer.BadParameter("--plot and --sweep-budgets go with --sweep", param_hint="'--sweep'")
    else:
        code = cli_eval.run(files, options, stdout, stderr)
    if code:
        raise typer.Exit(code)


def _multiples(text: str) -> list[int]:
    try:
        multiples = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        multiples = []
    if not multiples or min(multiples) < 1:
        raise typer.BadParameter(f"need whole numbers of at least 1, comma-separated, not {text!r}")
    return multiples


@app.command()
@reports_user_errors
def check(
    files: List[str] = typer.Argument(..., metavar=FILES_METAVAR, help=f"Puzzle files ({FILES_HELP})."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle on stdout, nothing else."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Check at most this many puzzles per file."),
) -> None:
    """Check puzzles with the exact solver: unique, several or no solutions, difficulty, given answers.

    Exits 1 when any line is malformed or any puzzle lacks exactly one solution.
    """
    from sudoku_trm.cli import check as cli_check  # imported late: keeps `--help` fast

    code = cli_check.run(files, limit, as_json, stdout)
    if code:
        raise typer.Exit(code)


@app.command()
@reports_user_errors
def generate(
    count: int = typer.Option(10, "--count", "-n", min=1, help="How many puzzles (written as each is made)."),
    difficulty: str = typer.Option(
        "singles",
        "--difficulty",
        "-d",
        help="What solves them: singles (naked and hidden singles alone), logic (locked candidates needed "
        "too), guesses (logic stalls: search needed).",
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Same seed, same puzzles (default: drawn, said on stderr)."
    ),
    fmt: str = typer.Option("line", "--format", help="line, grid or csv: forms solve, eval and check read."),
    answers: bool = typer.Option(False, "--answers", help="Write each solution beside its puzzle (line, csv)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle (puzzle, solution, level)."),
) -> None:
    """Generate unique puzzles of a level, graded by the exact solver as `check` grades them."""
    from sudoku_trm.cli import generate as cli_generate  # imported late: keeps `--help` fast
    from sudoku_trm.sudoku.logic import LEVELS
    from sudoku_trm.sudoku.puzzles import FORMATS

    if difficulty not in LEVELS:
        raise fail(f"--difficulty must be one of {', '.join(LEVELS)}, not {difficulty!r}", 2)
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", 2)
    if answers and fmt == "grid":
        raise fail("--answers has no place in grid form: use --format line or csv", 2)
    cli_generate.run(count, difficulty, seed, fmt, answers, as_json, stdout)


from sudoku_trm.cli.download import download_app  # noqa: E402

app.add_typer(download_app, name="download")


def main() -> None:
    """Console-script entry point."""
    try:
        try:
            app()
        finally:
            sys.stdout.flush()  # a pipe closed after the last write shows here, not as a warning at exit
    except BrokenPipeError:
        quiet_closed_pipe()
        sys.exit(CLOSED_PIPE_EXIT_CODE)
    except UserError as error:  # raised outside a command, e.g. while importing a module
        print_error(str(error))
        sys.exit(error.exit_code)


# Commands after which the process may end without Python's own shutdown: `train` is left out, since
# distributed training (torchrun, gloo) and its worker threads tidy up in exit handlers.
FAST_EXIT_COMMANDS = frozenset({"solve", "eval", "check", "generate"})


def script() -> None:
    """The `sudoku-trm` program (and `python -m sudoku_trm`): `main`, then, after the solving commands,
    the process ends at once. Once torch is loaded, the interpreter's orderly shutdown (finalising torch's
    modules and their objects) costs about 0.6 s of the ~4 s one puzzle takes; every output is flushed first
    and nothing those commands write is left to an exit handler."""
    try:
        main()
        code: int | str | None = 0
    except SystemExit as done:
        code = done.code
    if not FAST_EXIT_COMMANDS.intersection(sys.argv[1:2]):
        sys.exit(code)
    if isinstance(code, str):  # sys.exit("message") prints it and exits 1, as Python would
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left after the last write: nothing more to say
        pass
    os._exit(code or 0)
