"""`sudoku-trm train`: run the trainer with its progress on stderr, then export the EMA weights if asked."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sudoku_trm.cli.terminal import stderr
from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.metrics import METRICS_NAME
from sudoku_trm.training.trainer import Trainer


def run(
    model_config: ModelConfig,
    config: TrainConfig,
    export: Path | None,
    started: float | None = None,
    overwrite: bool = False,
) -> None:
    """`started`: the command's `time.perf_counter()` start, where a time budget's clock starts.
    A run folder that already holds a run is refused unless `--resume` continues it or `overwrite`."""
    run_dir = Path(config.runs_dir) / config.name
    earlier = [run_dir / name for name in (CHECKPOINT_NAME, METRICS_NAME) if (run_dir / name).exists()]
    if earlier and not config.resume:
        if not overwrite:
            raise UserError(
                f"{run_dir}: holds an earlier run; continue it with --resume, replace it with --overwrite, "
                "or choose another --name"
            )
        for path in earlier:  # the checkpoint would be replaced anyway; the metrics would be appended to
            path.unlink()
    if not config.time_budget and config.warmup_steps >= config.steps:
        stderr.print(
            f"note: the warm-up ({config.warmup_steps} steps) is as long as the run ({config.steps} steps), so "
            "the learning rate never reaches --lr; lower --warmup-steps",
            markup=False,
        )
    with _training_progress(None if config.time_budget else config.steps) as (log, on_step, on_activity):
        trainer = Trainer(model_config, config, log=log, on_step=on_step, started=started, on_activity=on_activity)
        trainer.run()
        if export is not None:
            on_activity(f"exporting the EMA weights to {export}")
            trainer.export(export)  # inside a time budget: the trainer kept time back for it
    stderr.print(f"checkpoint: {run_dir / CHECKPOINT_NAME}  metrics: {run_dir / METRICS_NAME}", markup=False)
    if export is not None:
        stderr.print(f"exported the EMA weights to {export}", markup=False)


# The bar counts progress in thousandths: steps, or the share of a time budget spent.
_BAR_TOTAL = 1000


@contextmanager
def _training_progress(total_steps: int | None):
    """On a terminal: a live bar (steps, or progress under a time budget) led by what the trainer is doing
    (training, evaluating, saving), with loss, accuracy, depth, samples/s and ETA. Elsewhere: plain log
    lines, one for each evaluation, save or export begun and for training resumed after an evaluation."""

    def plain_log(line: str) -> None:
        stderr.print(line, markup=False)

    if not stderr.is_terminal:
        previous = [""]

        def plain_activity(activity: str) -> None:
            # After a checkpoint, training goes on at once: the next step line says so.
            if activity != "done" and not (activity == "training" and previous[0].startswith("saving")):
                plain_log(f"[{activity}]")
            previous[0] = activity

        yield plain_log, None, plain_activity
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    counter = f"{{task.fields[step]}}/{total_steps}" if total_steps else "{task.fields[step]}"
    columns = (
        TextColumn("{task.fields[activity]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn(f"step {counter}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task("train", total=_BAR_TOTAL, status="", step=0, activity="starting")

        figures = [""]  # the latest training figures

        def on_step(step: int, fraction: float, record: dict | None) -> None:
            done = _BAR_TOTAL * (step / total_steps if total_steps else fraction)
            if record is None:
                progress.update(task, completed=done, step=step)
                return
            h, l = record["depth"]
            status = (
                f"loss {record['loss']:.3f} cell {record['cell_accuracy']:.3f} "
                f"grid {record['grid_accuracy']:.3f} depth ({h},{l}) {record['samples_per_s']:,.0f}/s"
            )
            figures[0] = status
            progress.update(task, completed=done, step=step, status=status)

        def on_activity(activity: str) -> None:
            # The bar's lead names the phase; its details (how many puzzles, which step) fit the status.
            # Training shows its latest figures again.
            phase, _, detail = activity.partition(" ")
            progress.update(task, activity=f"{phase:<10}", status=detail or figures[0])

        yield (lambda line: progress.console.print(line, markup=False)), on_step, on_activity
