"""What torch.compile costs at each PDC depth: the whole model against the shared network alone.

The trainer used to compile the whole TRM (`torch.compile(model)`), which unrolls the H/L recursion
and compiles again whenever the depth curriculum changes the depth; it now compiles `model.L_level`,
the one network every recursion step reuses, in place (training/trainer.py `model_call`). For each
way (and eager, the baseline), this runs the real `Trainer.train_step` through the CGAR depths
(1, 2), (2, 4), (3, 6) in a run's order and reports per depth:
  * the first step's seconds (compilation included) and a warm step's (median of --warm steps),
  * their difference, what a depth change costs inside a training window,
  * how many graphs Dynamo has compiled so far.
Each (way, precision, repeat) runs in a fresh process with an empty inductor cache, as on a fresh GPU
machine; with --repeats > 1 the medians are reported. --precisions bf16 runs the step under torch's
CPU bf16 autocast (the Trainer's `cpu_bf16`; the CPU default stays fp32), to exercise the bf16 path
without a GPU. On CUDA, bf16 is the Trainer's own autocast.

  python benchmarks/compile_depths.py --hidden-size 64 --batch-size 64 \\
      --data tests/fixtures/shared_sample/hard_train.csv                      # CPU, a few minutes
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from device_info import describe_device, synchronize  # noqa: E402  (beside this script)

from sudoku_trm.errors import UserError  # noqa: E402
from sudoku_trm.model.config import ModelConfig  # noqa: E402
from sudoku_trm.model.devices import resolve_device  # noqa: E402
from sudoku_trm.training.config import TrainConfig  # noqa: E402
from sudoku_trm.training.trainer import RunningMetrics, Trainer  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "hard_train.csv"
WAYS = ("eager", "model", "network")  # no compile; torch.compile(model); model.L_level compiled in place
PRECISIONS = ("fp32", "bf16")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden-size", type=int, default=64, help="model width (default %(default)s)")
    parser.add_argument("--num-layers", type=int, default=2, help="blocks in the network (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="slots per step (default %(default)s)")
    parser.add_argument("--warm", type=int, default=3, help="warm steps per depth, median (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per case, median (default 1)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS), help="(default: all)")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS), help="(default: both)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default auto)")
    parser.add_argument(
        "--data", default=str(DEFAULT_DATA), help="training CSV (default ../shared/data/hard_train.csv)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default %(default)s)")
    parser.add_argument("--worker", nargs=2, metavar=("WAY", "PRECISION"), help=argparse.SUPPRESS)
    return parser.parse_args()


def build(args: argparse.Namespace, way: str, precision: str, runs_dir: str) -> Trainer:
    config = TrainConfig(
        name="bench",
        runs_dir=runs_dir,
        data=(args.data,),
        dev=None,
        curriculum="cgar",
        steps=1_000_000,  # a notional long run: the step counter only places each depth
        batch_size=args.batch_size,
        warmup_steps=0,
        seed=args.seed,
        device=args.device,
        compile=way == "network",  # the Trainer's own way
        bf16=precision == "bf16",
        checkpoint_every=1_000_000,
    )
    trainer = Trainer(ModelConfig(hidden_size=args.hidden_size, num_layers=args.num_layers), config, log=lambda _: None)
    trainer.cpu_bf16 = precision == "bf16"
    if way == "model":
        trainer.forward = torch.compile(trainer.model)  # the trainer's earlier way
    return trainer


def worker(args: argparse.Namespace) -> None:
    """One case in this (fresh) process: prints one JSON line per depth."""
    from torch._dynamo.utils import counters

    way, precision = args.worker
    with tempfile.TemporaryDirectory(prefix="compile-depths-") as runs_dir:
        trainer = build(args, way, precision, runs_dir)
        metrics = RunningMetrics(trainer.device)
        schedule = trainer.plan.schedule
        edges = (0.0, *schedule.boundaries, 1.0)
        for lo, hi, depth in zip(edges, edges[1:], schedule.depths):
            trainer.step = int((lo + hi) / 2 * trainer.config.steps)
            seconds = []
            for _ in range(1 + args.warm):
                synchronize(trainer.device)
                start = time.perf_counter()
                trainer.train_step(metrics)
                synchronize(trainer.device)
                seconds.append(time.perf_counter() - start)
            assert trainer.step_settings[1] == depth, (trainer.step_settings, depth)
            record = {
                "depth": list(depth),
                "first_s": seconds[0],
                "warm_s": statistics.median(seconds[1:]),
                "graphs": counters["stats"]["unique_graphs"],
            }
            print(json.dumps(record), flush=True)
        loss = metrics.flush()["loss"]
        assert loss == loss, "the loss is not finite"


def run_case(args: argparse.Namespace, way: str, precision: str) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="inductor-cache-") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}  # cold: as on a fresh machine
        command = [sys.executable, __file__, "--worker", way, precision, *forwarded(args)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {way} {precision} failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def forwarded(args: argparse.Namespace) -> list[str]:
    names = ("hidden_size", "num_layers", "batch_size", "warm", "device", "data", "seed")
    return [item for name in names for item in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def main() -> None:
    args = parse_args()
    if not Path(args.data).is_file():
        sys.exit(f"error: {args.data}: no such file (pass --data, e.g. tests/fixtures/shared_sample/hard_train.csv)")
    if args.worker:
        worker(args)
        return
    device = resolve_device(args.device)
    parameters = sum(p.numel() for p in build_model(args).parameters())
    print("# torch.compile per PDC depth: whole model vs the shared network (real Trainer.train_step)")
    print(f"date     {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"command  {shlex.join([sys.executable, *sys.argv])}")
    print(f"device   {describe_device(device)}; torch {torch.__version__}")
    print(
        f"config   hidden {args.hidden_size}, {args.num_layers} blocks, {parameters:,} parameters, "
        f"batch {args.batch_size}, CGAR depths in a run's order, {args.warm} warm steps per depth, "
        f"{args.repeats} fresh process(es) per case (medians), empty inductor cache each"
    )
    print("ways     eager: no compile; model: torch.compile(model) (before); network: model.L_level.compile() (now)")
    print()
    header = (
        f"{'way':<8} {'precision':<9} {'depth':<7} {'first step s':>12} {'warm step s':>11} "
        f"{'compile s':>9} {'graphs':>6}"
    )
    print(header)
    print("-" * len(header))
    for precision in args.precisions:
        for way in args.ways:
            repeats = [run_case(args, way, precision) for _ in range(args.repeats)]
            total = []
            for rows in zip(*repeats):
                first = statistics.median(r["first_s"] for r in rows)
                warm = statistics.median(r["warm_s"] for r in rows)
                total.append(first - warm)
                print(
                    f"{way:<8} {precision:<9} {str(tuple(rows[0]['depth'])):<7} {first:>12.2f} {warm:>11.3f} "
                    f"{first - warm:>9.2f} {rows[-1]['graphs']:>6}"
                )
            print(f"{way:<8} {precision:<9} {'all':<7} {'':>12} {'':>11} {sum(total):>9.2f}")
        print()


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    from sudoku_trm.model.trm import TRM

    return TRM(ModelConfig(hidden_size=args.hidden_size, num_layers=args.num_layers))


if __name__ == "__main__":
    try:
        main()
    except UserError as error:
        sys.exit(f"error: {error}")
