"""Inference speed of the real engine (`sudoku_trm.inference.engine.solve`): puzzles/s by batch size, and latency.

For each batch size (default 1, 64 and 1024) and each mode it times whole `solve` calls on hard_dev
puzzles, copy to the device and back included:
  * halting: each puzzle stops when the model's halting head says so (what `solve` and `eval` do);
  * all steps: every puzzle runs the model's full step budget (`--steps N`, the reference protocol).
Batch 1 is timed puzzle by puzzle and also gives the single-puzzle latency (median and 90th percentile).
Figures are medians over --repeats runs after one warm-up call. On CUDA the model runs under bf16
autocast, as `solve` does; the first call there includes kernel selection, hence the warm-up.

  python benchmarks/inference.py                                   # weights/, ../shared/data/hard_dev.csv
  python benchmarks/inference.py --batch-sizes 1 64 --latency-puzzles 5 --repeats 3 --modes halting
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sudoku_trm.errors import UserError  # noqa: E402
from sudoku_trm.inference.engine import InferenceConfig, solve  # noqa: E402
from sudoku_trm.model.devices import resolve_device  # noqa: E402
from sudoku_trm.model.weights import load_weights, resolve_weights_dir  # noqa: E402
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hard_dev.csv"
FALLBACK_DATA = ROOT / "tests" / "fixtures" / "shared_sample" / "hard_dev.csv"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="model directory (default: weights/)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else FALLBACK_DATA)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--latency-puzzles", type=int, default=20, help="puzzles timed one by one at batch 1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=("halting", "all-steps"), default=["halting", "all-steps"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-bf16", action="store_true", help="full precision on CUDA too")
    return parser.parse_args()


def timed(model, puzzles: np.ndarray, config: InferenceConfig) -> tuple[float, float]:
    """(seconds, mean steps) of one solve call; the result is copied to the host, so the device is synced."""
    started = time.perf_counter()
    result = solve(model, puzzles, config)
    return time.perf_counter() - started, float(result.steps.mean())


def main() -> None:
    args = parse_args()
    try:
        device = resolve_device(args.device)
        model = load_weights(resolve_weights_dir(args.weights), device)
        dev = load_puzzle_set(args.data)
    except UserError as error:
        sys.exit(f"error: {error}")
    cfg = model.config
    limit = cfg.halt_max_steps
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(
        f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{'bf16' if device.type == 'cuda' and not args.no_bf16 else 'fp32'}"
    )
    print(
        f"model {resolve_weights_dir(args.weights)}: {model.count_parameters():,} parameters, hidden "
        f"{cfg.hidden_size}, depth ({cfg.H_cycles},{cfg.L_cycles}), at most {limit} steps; data {args.data}"
    )
    print(f"{'mode':<10} {'batch':>6} {'puzzles/s':>11} {'mean steps':>11} {'runs':>5}")

    modes = {"halting": None, "all-steps": limit}
    for mode in args.modes:
        steps = modes[mode]
        for batch in args.batch_sizes:
            config = InferenceConfig(steps=steps, batch_size=batch, bf16=not args.no_bf16)
            rows = np.resize(np.arange(len(dev)), max(batch, args.latency_puzzles if batch == 1 else batch))
            puzzles = dev.questions[rows]
            timed(model, puzzles[: min(batch, 8)], config)  # warm-up
            if batch == 1:  # puzzle by puzzle: this is also the latency
                latencies, step_counts = zip(*(timed(model, p[None], config) for p in puzzles))
                rate = 1 / statistics.median(latencies)
                mean_steps = statistics.fmean(step_counts)
                print(
                    f"{mode:<10} {batch:>6} {rate:>11,.2f} {mean_steps:>11.2f} {len(latencies):>5}   latency "
                    f"median {statistics.median(latencies) * 1000:,.0f} ms, p90 "
                    f"{np.percentile(latencies, 90) * 1000:,.0f} ms"
                )
                continue
            runs = [timed(model, puzzles, config) for _ in range(args.repeats)]
            seconds = statistics.median(r[0] for r in runs)
            print(f"{mode:<10} {batch:>6} {batch / seconds:>11,.2f} {runs[0][1]:>11.2f} {len(runs):>5}")


if __name__ == "__main__":
    main()
