"""The `sudoku-trm` command line: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 success, 1 bad input (or a command that cannot run yet), 2 bad usage (Typer's own),
130 interrupted (Ctrl-C). Errors are one line on stderr, never a traceback; an interrupt is one plain
line (train's says where the checkpoint is and to continue with --resume).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from sudoku_trm import __version__
from sudoku_trm.errors import UserError
from sudoku_trm.cli.terminal import fail, print_error, reports_user_errors, stderr, stdout

app = typer.Typer(
    name="sudoku-trm",
    help="Solve Sudoku with a Tiny Recursive Model (TRM) trained with the CGAR curriculum.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # as devices.resolve_device reads them (not imported: torch)


def _device_name(value: str) -> str:
    """A --device that names no device is bad usage (exit 2); a named one that is absent is exit 1, later."""
    if value not in DEVICE_NAMES:
        raise typer.BadParameter(f"must be one of {', '.join(DEVICE_NAMES)}, not {value!r}")
    return value


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


@app.command()
@reports_user_errors
def train(
    curriculum: str = typer.Option("cgar", help="none | pdc (depth curriculum) | hsw (step weighting) | cgar (both)."),
    data: List[str] = typer.Option(["../shared/data/hard_train.csv"], "--data", help="Training puzzle files (repeat)."),
    dev: Optional[str] = typer.Option("../shared/data/hard_dev.csv", help="Dev file evaluated during training."),
    dev_limit: Optional[int] = typer.Option(500, help="Dev puzzles per evaluation (0: all)."),
    steps: int = typer.Option(20_000, min=1, help="Optimiser steps (one supervision step of the batch each)."),
    batch_size: int = typer.Option(768, min=1, help="Global batch (slots), split over torchrun processes."),
    lr: float = typer.Option(1e-4, help="Peak learning rate."),
    warmup_steps: int = typer.Option(2_000, min=0, help="Linear warm-up steps."),
    optimizer: str = typer.Option("adam_atan2", help="adam_atan2 | adamw."),
    weight_decay: float = typer.Option(1.0, min=0.0),
    grad_clip: Optional[float] = typer.Option(None, help="Clip the gradient norm to this (default: off)."),
    ema_decay: float = typer.Option(0.999, help="EMA of the weights (evaluated and exported)."),
    hidden_size: int = typer.Option(512, min=8, help="Model width (512: the published model; 32-64 for CPU tests)."),
    h_cycles: int = typer.Option(3, min=1, help="Full-depth passes per supervision step."),
    l_cycles: int = typer.Option(6, min=1, help="Latent updates per pass at full depth."),
    max_steps: int = typer.Option(16, min=1, help="Supervision steps per puzzle at most."),
    subsample: Optional[int] = typer.Option(None, help="Paper protocol: base puzzles drawn (seeded)."),
    augment: int = typer.Option(1000, min=1, help="Paper protocol: fixed augmented copies per base puzzle."),
    easier_share: float = typer.Option(0.0, help="Share of samples made easier by filling a random share of their blanks."),
    device: str = typer.Option("auto", callback=_device_name, help="auto | cpu | cuda | mps."),
    compile_model: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile (default: on CUDA)."),
    bf16: bool = typer.Option(True, "--bf16/--no-bf16", help="bf16 autocast on CUDA (no effect on CPU)."),
    seed: int = typer.Option(0),
    name: str = typer.Option("cgar", help="Run name: runs/<name>/ holds checkpoint.pt and metrics.jsonl."),
    runs_dir: str = typer.Option("runs"),
    log_every: int = typer.Option(50, min=1),
    eval_every: int = typer.Option(2_000, min=0, help="Evaluate on --dev every N steps (0: only at the end)."),
    checkpoint_every: int = typer.Option(500, min=1),
    resume: bool = typer.Option(False, "--resume", help="Continue runs/<name>/checkpoint.pt where it stopped."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the EMA weights here when done (e.g. weights/)."),
) -> None:
    """Train a TRM with deep supervision and the CGAR curriculum (CUDA when there is one, else CPU)."""
    from sudoku_trm.model.config import ModelConfig
    from sudoku_trm.training.config import TrainConfig
    from sudoku_trm.training.config import stages_for
    from sudoku_trm.model.devices import resolve_device
    from sudoku_trm.training.trainer import Trainer

    try:
        model_config = ModelConfig(hidden_size=hidden_size, H_cycles=h_cycles, L_cycles=l_cycles, halt_max_steps=max_steps)
        config = TrainConfig(
            name=name, runs_dir=runs_dir, data=tuple(data), dev=dev or None, dev_limit=dev_limit or None,
            subsample=subsample, augment_copies=augment, easier_share=easier_share, curriculum=curriculum, pdc_depths=stages_for((h_cycles, l_cycles)),
            steps=steps, batch_size=batch_size, optimizer=optimizer, lr=lr, warmup_steps=warmup_steps,
            weight_decay=weight_decay, grad_clip=grad_clip, ema_decay=ema_decay, seed=seed, device=device,
            compile=resolve_device(device).type == "cuda" if compile_model is None else compile_model, bf16=bf16,
            log_every=log_every, eval_every=eval_every, checkpoint_every=checkpoint_every, resume=resume,
        )
    except ValueError as error:
        raise fail(str(error), 2) from None
    with _training_progress(config.steps) as (log, on_step):
        trainer = Trainer(model_config, config, log=log, on_step=on_step)
        trainer.run()
    if export is not None:
        trainer.export(export)
        stderr.print(f"exported the EMA weights to {export}", markup=False)


@contextmanager
def _training_progress(total_steps: int):
    """On a terminal: a live bar with loss, accuracy, depth, samples/s and ETA. Elsewhere: plain log lines."""
    def plain_log(line: str) -> None:
        stderr.print(line, markup=False)

    if not stderr.is_terminal:
        yield plain_log, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task("train", total=total_steps, status="starting")

        def on_step(step: int, record: dict | None) -> None:
            if record is None:
                progress.update(task, completed=step)
                return
            h, l = record["depth"]
            status = (f"loss {record['loss']:.3f} cell {record['cell_accuracy']:.3f} "
                      f"grid {record['grid_accuracy']:.3f} depth ({h},{l}) {record['samples_per_s']:,.0f}/s")
            progress.update(task, completed=step, status=status)

        yield (lambda line: progress.console.print(line, markup=False)), on_step


# Options shared by solve and eval.
_WEIGHTS = typer.Option(None, "--weights", help="Model directory (config.json + model.safetensors); default: weights/.")
_DEVICE = typer.Option("auto", "--device", callback=_device_name, help="auto | cpu | cuda | mps.")
_STEPS = typer.Option(None, "--steps", min=1, help="Run exactly this many refinement steps (ignore halting).")
_MAX_STEPS = typer.Option(None, "--max-steps", min=1, help="Stop at this many steps if the model has not halted (default: the model's limit).")
_VOTES = typer.Option(1, "--votes", min=1, help="Solve this many symmetric copies per puzzle and vote.")
_SEED = typer.Option(0, "--seed", help="Seed of the symmetries drawn for --votes.")
_BATCH = typer.Option(256, "--batch-size", min=1, help="Puzzles per model batch.")
_BF16 = typer.Option(True, "--bf16/--no-bf16", help="bf16 autocast on CUDA (no effect elsewhere).")


def _inference(steps, max_steps, batch_size, bf16):
    from sudoku_trm.inference.engine import InferenceConfig

    return InferenceConfig(max_steps=max_steps, steps=steps, batch_size=batch_size, bf16=bf16)


@app.command()
@reports_user_errors
def solve(
    puzzle_file: str = typer.Argument(..., metavar="PUZZLE_FILE|-", help="Puzzle file (line, grid or CSV form); - reads stdin."),
    weights: Optional[Path] = _WEIGHTS,
    device: str = _DEVICE,
    steps: Optional[int] = _STEPS,
    max_steps: Optional[int] = _MAX_STEPS,
    votes: int = _VOTES,
    seed: int = _SEED,
    batch_size: int = _BATCH,
    bf16: bool = _BF16,
    trace: bool = typer.Option(False, "--trace", help="Print every refinement step, not just the answer."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle on stdout, nothing else."),
    svg: Optional[Path] = typer.Option(None, "--svg", help="Save the rendered steps as an SVG image."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the answers here (.csv: CSV, else line form)."),
    animate: Optional[bool] = typer.Option(None, "--animate/--no-animate", help="Animate the steps (default: on a terminal, up to 5 puzzles)."),
    delay: float = typer.Option(0.35, "--delay", min=0.0, help="Seconds per animation frame."),
) -> None:
    """Solve puzzles with the model and watch it refine its answer step by step.

    Every answer is checked against Sudoku's rules. Bad lines and unsolvable puzzles are reported
    (file:line) and skipped, the rest is still solved; the exit code is then 1.
    """
    from sudoku_trm.cli import solve as cli_solve

    options = cli_solve.SolveOptions(
        weights=weights, device=device, inference=_inference(steps, max_steps, batch_size, bf16), votes=votes,
        seed=seed, trace=trace, as_json=as_json, svg=svg, output=output, animate=animate, delay=delay,
    )
    code = cli_solve.run(puzzle_file, options, stdout, stderr)
    if code:
        raise typer.Exit(code)


@app.command(name="eval")
@reports_user_errors
def evaluate(
    files: List[str] = typer.Argument(..., help="Puzzle files (line, grid or CSV form), with or without answers."),
    weights: Optional[Path] = _WEIGHTS,
    device: str = _DEVICE,
    steps: Optional[int] = _STEPS,
    max_steps: Optional[int] = _MAX_STEPS,
    votes: int = _VOTES,
    seed: int = _SEED,
    batch_size: int = _BATCH,
    bf16: bool = _BF16,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Evaluate at most this many puzzles per file."),
    as_json: bool = typer.Option(False, "--json", help="One JSON report on stdout, nothing else."),
) -> None:
    """Measure the model on puzzle files: exact-grid and cell accuracy, valid answers, halting, steps, speed.

    Labels are the files' answers, or the exact solver's where a puzzle lists none.
    """
    from sudoku_trm.cli import eval as cli_eval

    options = cli_eval.EvalOptions(
        weights=weights, device=device, inference=_inference(steps, max_steps, batch_size, bf16), votes=votes,
        seed=seed, limit=limit, as_json=as_json,
    )
    code = cli_eval.run(files, options, stdout, stderr)
    if code:
        raise typer.Exit(code)


@app.command()
@reports_user_errors
def check(
    files: List[str] = typer.Argument(..., help="Puzzle files (line, grid or CSV form); - reads stdin."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle on stdout, nothing else."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Check at most this many puzzles per file."),
) -> None:
    """Check puzzles with the exact solver: unique, several or no solutions, difficulty, given answers.

    Exits 1 when any line is malformed or any puzzle lacks exactly one solution.
    """
    from sudoku_trm.sudoku.checking import check_files  # imported late: keeps `--help` fast

    report = check_files(files, limit=limit)
    for record in report.records:
        if as_json:
            stdout.print(json.dumps(record.to_json()), markup=False, soft_wrap=True)
        else:
            stdout.print(record.describe(), markup=False, soft_wrap=True)
    for error in report.errors:
        print_error(str(error))
    if not as_json:
        stdout.print(report.summary(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


from sudoku_trm.cli.download import download_app  # noqa: E402

app.add_typer(download_app, name="download")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except UserError as error:  # raised outside a command, e.g. while importing a module
        print_error(str(error))
        sys.exit(error.exit_code)
