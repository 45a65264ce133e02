"""Time to accuracy: train a recipe on one CPU thread and score it on the dev files as training goes.

At every multiple of --every minutes of training (a resumed run keeps the same grid; the evaluations
themselves are not counted: the run's clock is paused while they run), the EMA weights are scored on
puzzles/easy.txt, puzzles/medium.txt, and the first --limit puzzles of unbiased_1k,
benchmarks/data/guesses_dev.csv and hard_dev: exact grids and blank cells right, by the model alone (single
pass) and with commit decoding (inference/commit.py). The curve is printed as a table and written as JSON
lines, so every later change is compared on the same axes: CPU minutes of training against accuracy.

  python benchmarks/time_to_accuracy.py --recipe cpu --minutes 30 --out benchmarks/results/tta_cpu.jsonl
  python benchmarks/time_to_accuracy.py --recipe fast --minutes 30 --hidden-size 64 --out ...
  python benchmarks/time_to_accuracy.py --recipe cpu --minutes 120 --export runs/long/export --set name=long

Runs are ordinary training runs (runs/<name>/: checkpoint and metrics) under --time-budget, so --resume
continues one (its clock too: a budget may span several sittings) and --export writes its weights at the
end; `kill` (SIGTERM) stops one with a checkpoint, as Ctrl-C does. Compare recipes by starting their runs together,
one thread each (OMP_NUM_THREADS=1), on the same machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sudoku_trm.errors import Interrupted, UserError  # noqa: E402
from sudoku_trm.inference.commit import CommitConfig, solve_committed  # noqa: E402
from sudoku_trm.sudoku.grid import BLANK  # noqa: E402
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_set  # noqa: E402
from sudoku_trm.training.recipes import configs  # noqa: E402
from sudoku_trm.training.trainer import Trainer  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data"
SETS = (
    ("easy", ROOT / "puzzles" / "easy.txt", None),
    ("medium", ROOT / "puzzles" / "medium.txt", None),
    ("unbiased_1k", SHARED / "unbiased_1k.csv", "limit"),
    ("guesses_dev", ROOT / "benchmarks" / "data" / "guesses_dev.csv", "limit"),
    ("hard_dev", SHARED / "hard_dev.csv", "limit"),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="cpu", help="training recipe (default %(default)s)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time budget (default %(default)s)")
    parser.add_argument("--every", type=float, default=5.0, help="minutes of training between scores")
    parser.add_argument("--limit", type=int, default=200, help="puzzles of each CSV dev file scored")
    parser.add_argument("--hidden-size", type=int, help="model width (default: the recipe's)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a TrainConfig or ModelConfig field"
    )
    parser.add_argument("--name", help="run name under runs/ (default: tta-<recipe>)")
    parser.add_argument("--resume", action="store_true", help="continue runs/<name>/ (its clock too)")
    parser.add_argument("--init-from", help="start from an exported model")
    parser.add_argument("--export", type=Path, help="write the EMA weights here at the end")
    parser.add_argument(
        "--export-marks",
        type=Path,
        help="also export the EMA at every score, to DIR/<name>-<minutes>min (a mark that beats weights/ can ship)",
    )
    parser.add_argument("--out", type=Path, help="append each score as a JSON line here")
    return parser.parse_args()


def overrides(args: argparse.Namespace) -> tuple[dict, dict]:
    from sudoku_trm.model.config import ModelConfig

    model_fields = set(ModelConfig.__dataclass_fields__)
    model, train = {}, {}
    if args.hidden_size:
        model["hidden_size"] = args.hidden_size
    for item in args.set:
        key, value = setting(item)
        (model if key in model_fields else train)[key] = value
    return model, train


def setting(item: str) -> tuple[str, object]:
    """A `FIELD=VALUE` option: VALUE read as JSON where it is JSON (a list as a tuple), else as text."""
    key, _, text = item.partition("=")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    return key, tuple(value) if isinstance(value, list) else value


def dev_sets(limit: int) -> list[PuzzleSet]:
    sets = []
    for name, path, limited in SETS:
        puzzles = load_puzzle_set(path)
        if limited:
            puzzles = puzzles.subset(np.arange(min(limit, len(puzzles))))
        puzzles.name = name
        sets.append(puzzles)
    return sets


def score(model, puzzles: PuzzleSet) -> dict:
    result = solve_committed(model, puzzles.questions, CommitConfig())
    blank = puzzles.questions == BLANK

    def figures(answers: np.ndarray) -> dict:
        right = answers == puzzles.answers
        return {"exact": float(right.all(1).mean()), "cells": float(right[blank].mean())}

    return {
        "alone": figures(result.single.answers),
        "commit": figures(result.solutions.answers),
        "halted": float(result.single.halted.mean()),
        "steps": float(result.single.steps.mean()),
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model_over, train_over = overrides(args)
    name = args.name or f"tta-{args.recipe}"
    train_over = {
        "name": name,
        "time_budget": args.minutes,
        "dev": None,
        "eval_every": 0,
        "resume": args.resume,
        "init_from": args.init_from,
        **train_over,
    }
    model_config, config = configs(args.recipe, model_over, train_over)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    print(f"# {command}\n# {datetime.date.today()} torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"# model {model_config.to_dict()}")
    sets = dev_sets(args.limit)
    trainer = Trainer(model_config, config, log=lambda line: print(line, flush=True))
    print(f"# {trainer.model.count_parameters():,} parameters")
    period = args.every * 60

    def next_on_grid() -> float:  # scores fall on multiples of --every, so a resumed run keeps an unbroken one's
        return (trainer.clock.elapsed() // period + 1) * period

    next_mark = [next_on_grid()]

    def mark(final: bool = False) -> None:
        with trainer.clock.paused():
            trained = trainer.clock.elapsed()
            row = {"recipe": args.recipe, "name": name, "minutes": round(trained / 60, 2), "step": trainer.step}
            started = time.perf_counter()
            for puzzles in sets:
                row[puzzles.name] = score(trainer.ema, puzzles)
            row["eval_seconds"] = round(time.perf_counter() - started, 1)
            row["final"] = final
            cells = "  ".join(
                f"{p.name} {row[p.name]['alone']['exact']:.0%}/{row[p.name]['commit']['exact']:.0%}" for p in sets
            )
            print(f"[{trained / 60:6.1f} min, step {trainer.step}] exact alone/commit: {cells}", flush=True)
            if args.export_marks:
                trainer.export(args.export_marks / f"{name}-{trained / 60:05.1f}min")
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")

    def on_step(step: int, progress: float, record: dict | None) -> None:
        if trainer.clock.elapsed() >= next_mark[0]:
            next_mark[0] = next_on_grid()
            mark()

    trainer.on_step = on_step
    try:
        trainer.run()
    except Interrupted as stopped:  # SIGTERM or Ctrl-C: the checkpoint is saved; say so in one line, as the CLI does
        print(stopped, flush=True)
        sys.exit(130)
    mark(final=True)
    if args.export:
        trainer.export(args.export)
        print(f"# exported to {args.export}")


if __name__ == "__main__":
    try:
        main()
    except UserError as error:  # no checkpoint to resume, an export of another model: one line, as the CLI says it
        sys.exit(f"error: {error}")
