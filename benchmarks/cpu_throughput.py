"""CPU training throughput of the `cpu` recipe: threads, processes, torch.compile and batch size.

Each variant runs in a fresh process (thread count, compile and the process group are per process) and
times the real `Trainer.train_step` at the recipe's full depth: slot refill, forward, loss, backward,
AdamW and the EMA. Per variant it reports sample-steps/s (batch x optimiser steps per second, the median
of --repeats windows of --steps steps after a warm-up), GFLOP/s (FLOPs per sample-step, forward and
backward, from torch.utils.flop_counter, times sample-steps/s) and that as a share of the cores' fp32
peak: cores x clock x FLOP per cycle (--flop-per-cycle: 32 for two AVX2 FMA units of 8 lanes, 64 for
two AVX-512 FMA units of 16; say which the CPU has). `--profile` adds where one thread's time goes
(torch.profiler, ops by self CPU time).

  python benchmarks/cpu_throughput.py                       # the default variants, a table on stdout
  python benchmarks/cpu_throughput.py --profile --steps 10  # and the profile
  python benchmarks/cpu_throughput.py --only "batch 64, torch.compile" --model H_cycles=3 --model L_cycles=6 \
      --model pair_width=32                                 # another model: any ModelConfig field

Run it on an idle machine: another process on the cores halves what it measures. The data file only
feeds the slots (its content does not change the cost of a step), so the committed sample serves.
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
SAMPLE = ROOT / "tests" / "fixtures" / "shared_sample" / "hard_train.csv"

# (name, threads per process, processes, global batch, compile, CPU bf16 autocast)
VARIANTS: tuple[tuple[str, int, int, int, bool, bool], ...] = (
    ("1 thread, batch 64", 1, 1, 64, False, False),
    ("1 thread, batch 32", 1, 1, 32, False, False),
    ("1 thread, batch 128", 1, 1, 128, False, False),
    ("1 thread, batch 64, torch.compile", 1, 1, 64, True, False),
    ("1 thread, batch 64, bf16 autocast", 1, 1, 64, False, True),
    ("1 thread, batch 64, torch.compile, bf16 autocast", 1, 1, 64, True, True),
    ("2 threads, batch 64", 2, 1, 64, False, False),
    ("2 threads, batch 128", 2, 1, 128, False, False),
    ("2 DDP processes (gloo), batch 64", 1, 2, 64, False, False),
    ("2 DDP processes (gloo), batch 128", 1, 2, 128, False, False),
    ("2 DDP processes (gloo), batch 64, torch.compile", 1, 2, 64, True, False),
    ("2 independent runs, 1 thread each, batch 64", 1, 0, 64, False, False),  # 0: two separate single-thread runs
    ("2 independent runs, 1 thread each, batch 64, torch.compile", 1, 0, 64, True, False),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=15, help="timed optimiser steps per window (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows; the median is reported")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compile: 3 more)")
    parser.add_argument("--clock-ghz", type=float, default=None, help="clock for the peak (default: lscpu's)")
    parser.add_argument("--flop-per-cycle", type=int, default=64, help="fp32 FLOP per cycle per core (default 64)")
    parser.add_argument("--profile", action="store_true", help="also profile one thread at batch 64")
    parser.add_argument("--only", help="run the variants whose name contains this text")
    parser.add_argument(
        "--model", action="append", default=[], metavar="FIELD=VALUE", help="a ModelConfig field (else the recipe's)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a variant, as JSON: run inside its own process
    return parser.parse_args()


def model_fields(items: list[str]) -> dict:
    """`--model FIELD=VALUE` items as ModelConfig fields (VALUE read as JSON where it is JSON); an unknown field
    is refused here, before any variant starts."""
    from time_to_accuracy import setting

    from sudoku_trm.model.config import ModelConfig

    fields = {}
    for item in items:
        key, fields[key] = setting(item)
        if key not in ModelConfig.__dataclass_fields__:
            raise SystemExit(f"error: --model {item}: ModelConfig has no field {key!r}")
    return fields


def trainer_for(batch: int, compile_: bool, model: dict | None = None):
    """A Trainer of the `cpu` recipe (its model, or `model`'s fields on top) at full depth (no depth
    curriculum), on the committed sample."""
    from sudoku_trm.training.recipes import configs
    from sudoku_trm.training.trainer import Trainer

    runs = tempfile.mkdtemp(prefix="cpu-throughput-")
    model_config, config = configs(
        "cpu",
        model=model,
        train={
            "name": "bench",
            "runs_dir": runs,
            "data": (str(SAMPLE),),
            "dev": None,
            "curriculum": "hsw",  # full depth from the first step: the cost of the recipe's depth (2, 3)
            "batch_size": batch,
            "compile": compile_,
            "device": "cpu",
            "steps": 10**6,
            "checkpoint_every": 0,
            "log_every": 10**6,
        },
    )
    return Trainer(model_config, config, log=lambda line: None)


def measure(spec: dict, steps: int, repeats: int, warmup: int) -> dict:
    """Inside the variant's process: sample-steps/s (the global batch's, under DDP), FLOPs per sample-step."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from sudoku_trm.training.metrics import RunningMetrics

    torch.set_num_threads(spec["threads"])
    trainer = trainer_for(spec["batch"], spec["compile"], spec.get("model"))
    trainer.cpu_bf16 = spec["bf16"]  # torch's CPU autocast: matrix products in bf16 (AMX where there is)
    metrics = RunningMetrics(trainer.device)
    with FlopCounterMode(display=False) as counter, torch.compiler.set_stance("force_eager"):
        trainer.train_step(metrics)
    flops = counter.get_total_flops() / trainer.local_batch
    for _ in range(warmup + (3 if spec["compile"] else 0)):
        trainer.train_step(metrics)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(metrics)
        rates.append(steps * trainer.config.batch_size / (time.perf_counter() - started))
    return {"samples_per_s": statistics.median(rates), "flops_per_sample": flops, "rank": trainer.rank}


def profile(steps: int, model: dict) -> str:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from sudoku_trm.training.metrics import RunningMetrics

    torch.set_num_threads(1)
    trainer = trainer_for(64, False, model)
    metrics = RunningMetrics(trainer.device)
    for _ in range(3):
        trainer.train_step(metrics)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step(metrics)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=40)


def run_variant(
    threads: int, processes: int, batch: int, compile_: bool, model: dict, args: argparse.Namespace, bf16: bool
) -> dict:
    """The variant's figures: one process, `processes` DDP ranks, or (0) two independent runs at once."""
    spec = json.dumps({"threads": threads, "batch": batch, "compile": compile_, "model": model, "bf16": bf16})
    own = [str(Path(__file__).resolve()), "--one", spec, "--steps", str(args.steps)]
    own += ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    if processes == 2:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        commands = [launcher + own]
    else:
        commands = [[sys.executable, *own]] * (2 if processes == 0 else 1)
    running = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands
    ]
    results = []
    for process in running:
        out, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"variant {spec} failed:\n{err[-2000:]}")
        results += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    # DDP: rank 0 reports the global batch's rate (ranks step together); two independent runs: rates add up.
    rate = sum(r["samples_per_s"] for r in results)
    return {"samples_per_s": rate, "flops_per_sample": results[0]["flops_per_sample"]}


def clock_ghz() -> float:
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in text.splitlines():
        if line.startswith("CPU max MHz:"):
            return float(line.split(":")[1]) / 1000
        if line.startswith("Model name:") and "GHz" in line:
            return float(line.rsplit("@", 1)[1].strip().removesuffix("GHz"))
    return 2.8


def main() -> None:
    args = parse_args()
    if args.one:
        figures = measure(json.loads(args.one), args.steps, args.repeats, args.warmup)
        if figures["rank"] == 0:
            print(json.dumps(figures))
        return
    import torch

    from sudoku_trm.training.recipes import configs

    model = model_fields(args.model)
    model_config = configs("cpu", model=model)[0]
    ghz = args.clock_ghz or clock_ghz()
    model_name = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?"
    )
    depth = (model_config.H_cycles, model_config.L_cycles)
    changed = f"; model fields set: {model}" if model else ""
    print(f"# CPU training throughput of the cpu recipe at full depth {depth}, real Trainer.train_step{changed}")
    print(f"# {datetime.datetime.now().isoformat(timespec='minutes')}  {shlex.join([sys.executable, *sys.argv])}")
    print(f"# {model_name}, {os.cpu_count()} cores; torch {torch.__version__}")
    peak_core = ghz * args.flop_per_cycle
    print(f"# peak: {ghz:.2f} GHz x {args.flop_per_cycle} fp32 FLOP per cycle = {peak_core:.0f} GFLOP/s a core")
    print(f"# {args.warmup} warm-up steps, then the median of {args.repeats} windows of {args.steps} steps\n")
    print("| variant | cores | sample-steps/s | MFLOP per sample-step | GFLOP/s | % of peak |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, threads, processes, batch, compile_, bf16 in VARIANTS:
        if args.only and args.only not in name:
            continue
        figures = run_variant(threads, processes, batch, compile_, model, args, bf16)
        cores = threads * max(processes, 1) * (2 if processes == 0 else 1)
        gflops = figures["samples_per_s"] * figures["flops_per_sample"] / 1e9
        peak = cores * ghz * args.flop_per_cycle
        print(
            f"| {name} | {cores} | {figures['samples_per_s']:.0f} | {figures['flops_per_sample'] / 1e6:.0f} | "
            f"{gflops:.1f} | {100 * gflops / peak:.1f}% |",
            flush=True,
        )
    if args.profile:
        print("\n## Where one thread's time goes (batch 64, torch.profiler, ops by self CPU time)\n")
        print("```\n" + profile(args.steps, model) + "\n```")


if __name__ == "__main__":
    main()
