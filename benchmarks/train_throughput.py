"""Training throughput per PDC depth stage, and what the CGAR depth curriculum saves over full depth.

Runs the real `Trainer.train_step` (slot refill, forward, stable-max loss, backward, optimiser, EMA)
at each depth of the CGAR schedule, (1,2), (2,4) and (3,6), and reports per stage:
  * sample-steps/s: batch x optimiser steps per second (median over --repeats timed windows of --steps),
  * block applications per sample and step, counted with forward hooks on the network's blocks
    (and how many of them run with gradients, i.e. also pay for a backward pass),
  * FLOPs per sample and step (forward + backward), measured with torch.utils.flop_counter.
Then the CGAR-weighted run average (time-weighted by the fraction of the run spent in each stage) against
running full depth throughout, so the saving is measured, not assumed from 6 : 20 : 42.

How each depth is forced: ONE Trainer is built with the real CGAR plan (curriculum `cgar`, the default
boundaries and depths) and a very long run (--schedule-steps), and its step counter is placed in the
middle of each stage before timing it. `Trainer.depth(step)` then picks that stage's depth through the
real CurriculumPlan, with no method monkeypatched, and the timed windows never cross a stage boundary.
Full depth is the last stage: a `none` run trains at exactly that depth (it only skips the HSW weights,
an elementwise product over the batch).

On CUDA the Trainer trains under bf16 autocast (TrainConfig.bf16); --no-bf16 measures fp32/TF32. On the
CPU it trains in fp32; --bf16 there turns on torch's CPU bf16 autocast (the Trainer's `cpu_bf16`). --compile
compiles the shared network as the Trainer does (see benchmarks/compile_depths.py for compile times).

  python benchmarks/train_throughput.py                                       # CUDA: the published config
  python benchmarks/train_throughput.py --hidden-size 64 --batch-size 64 --steps 5 \\
      --data tests/fixtures/shared_sample/hard_train.csv                      # CPU, about a minute
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from device_info import describe_device, synchronize  # noqa: E402  (beside this script)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from sudoku_trm.errors import UserError  # noqa: E402
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.devices import resolve_device  # noqa: E402
from sudoku_trm.training.config import TrainConfig  # noqa: E402
from sudoku_trm.training.curriculum import block_applications  # noqa: E402
from sudoku_trm.training.trainer import RunningMetrics, Trainer  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "hard_train.csv"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden-size", type=int, default=512, help="model width (default %(default)s)")
    parser.add_argument("--num-layers", type=int, default=2, help="blocks in the network (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=768, help="slots per step (default %(default)s)")
    parser.add_argument(
        "--steps", type=int, default=20, help="timed optimiser steps per stage and repeat (default %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed windows per stage; the median is reported (default %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps per stage first (default: 2, or 5 with --compile)"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default auto)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: on CUDA only, as the train command)",
    )
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: on CUDA, as the Trainer does; on the CPU only when asked)",
    )
    parser.add_argument(
        "--flops",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count FLOPs per sample with FlopCounterMode (one extra eager step per stage; default on)",
    )
    parser.add_argument(
        "--schedule-steps",
        type=int,
        default=1_000_000,
        help="length of the notional run whose stages are sampled: only positions the step (default %(default)s)",
    )
    parser.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help="training CSV; its content does not affect speed (default ../shared/data/hard_train.csv)",
    )
    parser.add_argument("--seed", type=int, default=0, help="(default %(default)s)")
    return parser.parse_args()


def count_step(trainer: Trainer, metrics: RunningMetrics, flops: bool) -> tuple[int, int, float | None]:
    """One eager train_step with hooks on every block: (block applications, of which with gradients,
    FLOPs) per sample. Each block call processes the whole local batch, so calls = applications per sample."""
    calls = {"all": 0, "grad": 0}

    def hook(_module, _inputs, _output):
        calls["all"] += 1
        calls["grad"] += torch.is_grad_enabled()

    handles = [block.register_forward_hook(hook) for block in trainer.model.L_level.layers]
    try:
        counter = FlopCounterMode(display=False) if flops else contextlib.nullcontext()
        with torch.compiler.set_stance("force_eager"), counter:  # hooks and the counter need eager mode
            trainer.train_step(metrics)
        total = counter.get_total_flops() / trainer.local_batch if flops else None
    finally:
        for handle in handles:
            handle.remove()
    return calls["all"], calls["grad"], total


def gflops(flops: float | None) -> str:
    return "n/a" if flops is None else f"{flops / 1e9:.3f}"


def timed_window(trainer: Trainer, metrics: RunningMetrics, steps: int) -> float:
    synchronize(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(metrics)
    synchronize(trainer.device)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    data = Path(args.data)
    if not data.is_file():
        sys.exit(f"error: {data}: no such file (pass --data, e.g. tests/fixtures/shared_sample/hard_train.csv)")
    device = resolve_device(args.device)
    use_compile = device.type == "cuda" if args.compile is None else args.compile
    bf16 = device.type == "cuda" if args.bf16 is None else args.bf16
    warmup = args.warmup if args.warmup is not None else (5 if use_compile else 2)

    model_config = ModelConfig(hidden_size=args.hidden_size, num_layers=args.num_layers)
    runs = tempfile.TemporaryDirectory(prefix="train-throughput-")
    config = TrainConfig(
        name="bench",
        runs_dir=runs.name,
        data=(str(data),),
        dev=None,
        curriculum="cgar",
        steps=args.schedule_steps,
        batch_size=args.batch_size,
        warmup_steps=0,
        seed=args.seed,
        device=args.device,
        compile=use_compile,
        bf16=bf16,
        checkpoint_every=args.schedule_steps,
    )
    trainer = Trainer(model_config, config, log=lambda line: None)
    trainer.cpu_bf16 = bf16  # the CPU's bf16 autocast, only when asked for
    schedule = trainer.plan.schedule
    edges = (0.0, *schedule.boundaries, 1.0)
    stages = [
        (depth, hi - lo, int((lo + hi) / 2 * config.steps)) for lo, hi, depth in zip(edges, edges[1:], schedule.depths)
    ]

    print("# training throughput per PDC stage (real Trainer.train_step)")
    print(f"date     {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"command  {shlex.join([sys.executable, *sys.argv])}")
    print(f"device   {describe_device(device)}; torch {torch.__version__}")
    print(
        f"config   hidden {args.hidden_size}, {args.num_layers} blocks, "
        f"{trainer.model.count_parameters():,} parameters, "
        f"batch {args.batch_size}, optimizer {config.optimizer}, compile {use_compile}, "
        f"{'bf16 autocast' if bf16 and device.type in ('cuda', 'cpu') else 'fp32'}"
    )
    print(
        f"timing   {warmup} warm-up steps per stage, then {args.repeats} x {args.steps} timed steps "
        f"(stages interleaved), median reported; data {data}"
    )
    print(f"schedule {', '.join(f'{d} for {f:.0%}' for d, f, _ in stages)} of the run")
    print()

    metrics = RunningMetrics(trainer.device)
    counts = {}
    for depth, _fraction, position in stages:
        trainer.step = position
        assert trainer.depth(trainer.step) == depth
        counts[depth] = count_step(trainer, metrics, args.flops)
        for _ in range(warmup):
            trainer.train_step(metrics)
    seconds = {depth: [] for depth, _, _ in stages}
    for _ in range(args.repeats):
        for depth, _fraction, position in stages:  # interleaved: drift hits every stage alike
            trainer.step = position
            seconds[depth].append(timed_window(trainer, metrics, args.steps) / args.steps)
    loss = metrics.flush()["loss"]

    header = (
        f"{'stage (H,L)':<12} {'run share':>9} {'sample-steps/s':>15} {'ms/step':>9} {'spread':>7} "
        f"{'blocks/sample':>13} {'with grad':>9} {'GFLOP/sample':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = {}
    for depth, fraction, _ in stages:
        per_step = statistics.median(seconds[depth])
        spread = (max(seconds[depth]) - min(seconds[depth])) / per_step
        blocks, grad_blocks, flops = counts[depth]
        assert blocks == block_applications(*depth, args.num_layers), (depth, blocks)
        rows[depth] = (per_step, blocks, grad_blocks, flops)
        print(
            f"{str(depth):<12} {fraction:>9.0%} {args.batch_size / per_step:>15,.1f} {per_step * 1e3:>9.1f} "
            f"{spread:>7.1%} {blocks:>13} {grad_blocks:>9} {gflops(flops):>12}"
        )

    full = stages[-1][0]
    full_time, full_blocks, full_grad, full_flops = rows[full]
    cgar_time = sum(fraction * rows[depth][0] for depth, fraction, _ in stages)
    cgar_blocks = sum(fraction * rows[depth][1] for depth, fraction, _ in stages)
    cgar_grad = sum(fraction * rows[depth][2] for depth, fraction, _ in stages)
    print()
    print(f"{'run average':<24} {'sample-steps/s':>15} {'blocks/sample':>13} {'with grad':>9} {'GFLOP/sample':>12}")
    print(
        f"{'full depth ' + str(full):<24} {args.batch_size / full_time:>15,.1f} {full_blocks:>13.1f} "
        f"{full_grad:>9.1f} {gflops(full_flops):>12}"
    )
    cgar_flops = sum(fraction * rows[depth][3] for depth, fraction, _ in stages) if args.flops else None
    print(
        f"{'CGAR (run-weighted)':<24} {args.batch_size / cgar_time:>15,.1f} {cgar_blocks:>13.1f} "
        f"{cgar_grad:>9.1f} {gflops(cgar_flops):>12}"
    )
    print()
    print(
        f"CGAR saves {1 - cgar_time / full_time:.1%} of training time (speed-up {full_time / cgar_time:.2f}x); "
        f"block applications predict {1 - cgar_blocks / full_blocks:.1%}"
        + (
            f", measured FLOPs {1 - cgar_flops / full_flops:.1%} (backward runs only through the last "
            f"pass, so forward + backward saves less than the forward block count)"
            if cgar_flops
            else ""
        )
    )
    print(f"(mean loss over the benchmark steps {loss:.4f}; finite: {loss == loss})")
    runs.cleanup()


if __name__ == "__main__":
    try:
        main()
    except UserError as error:  # e.g. --device cuda without CUDA: one line, no traceback
        sys.exit(f"error: {error}")
