"""`sudoku-trm train`: run the trainer with its progress on stderr, then export the EMA weights if asked."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sudoku_trm.cli.terminal import stderr
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.trainer import Trainer


def run(model_config: ModelConfig, config: TrainConfig, export: Path | None) -> None:
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

    columns = (
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task("train", total=total_steps, status="starting")

        def on_step(step: int, record: dict | None) -> None:
            if record is None:
                progress.update(task, completed=step)
                return
            h, l = record["depth"]
            status = (
                f"loss {record['loss']:.3f} cell {record['cell_accuracy']:.3f} "
                f"grid {record['grid_accuracy']:.3f} depth ({h},{l}) {record['samples_per_s']:,.0f}/s"
            )
            progress.update(task, completed=step, status=status)

        yield (lambda line: progress.console.print(line, markup=False)), on_step
