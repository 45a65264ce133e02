"""Guided search (inference/search.py): how much of each answer the model found, and what it cost.

For every model (--weights, repeatable) and puzzle set (--set PATH[:LIMIT], repeatable) and branching
measure (--branch, repeatable), it runs the search with --budget model calls per puzzle and prints, per
set: solved (valid answers), the share found without the exact solver, the model alone (single pass),
who found the answers (model alone / commit decoding / guided search / exact solver), mean model calls,
cells committed, guesses and backtracks, the exact solver's own guesses on the same puzzles as posed (to
the first solution, as the search stops at its first) and puzzles/s. --out writes every row as JSON.

  OMP_NUM_THREADS=1 python benchmarks/search.py --weights tests/fixtures/solver_model --branch surest fewest
  OMP_NUM_THREADS=1 python benchmarks/search.py --weights weights --set ../shared/data/hard_dev.csv:100
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sudoku_trm.inference.engine import InferenceConfig  # noqa: E402
from sudoku_trm.inference.search import (  # noqa: E402
    DEFAULT_BUDGET,
    EXACT_SOLVER,
    FOUND,
    MODEL_ALONE,
    SearchConfig,
    solve_searched,
)
from sudoku_trm.model.weights import load_weights  # noqa: E402
from sudoku_trm.sudoku import solver  # noqa: E402
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set  # noqa: E402

DEFAULT_SETS = (
    "../shared/data/hard_dev.csv:200",
    "../shared/data/unbiased_1k.csv:200",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "puzzles").glob("*.txt")),
)


def measure(model, path: str, limit: int | None, config: SearchConfig, batch_size: int) -> dict:
    puzzles = load_puzzle_set(path)
    if limit is not None:
        puzzles = puzzles.subset(np.arange(min(limit, len(puzzles))))
    questions = puzzles.questions
    _, _, exact_guesses = solver.analyse_batch(questions, limit=1)
    started = time.perf_counter()
    result = solve_searched(model, questions, config, InferenceConfig(batch_size=batch_size))
    seconds = time.perf_counter() - started
    found = np.array(result.found)
    return {
        "set": path + (f" (first {limit})" if limit is not None and limit < len(load_puzzle_set(path)) else ""),
        "puzzles": len(questions),
        "budget": config.budget,
        "branch": config.branch,
        "threshold": config.threshold,
        "logic": config.logic,
        "settle": config.settle,
        "time_limit": config.time_limit,
        "warm": config.warm,
        "probes": config.probes,
        "probe_steps": config.probe_steps,
        "timed_out": int(result.timed_out.sum()),
        "solved": float(result.valid.mean()),
        "without_exact_solver": float((result.valid & (found != EXACT_SOLVER)).mean()),
        "model_alone": float((found == MODEL_ALONE).mean()),
        "found_by": {name: int((found == name).sum()) for name in FOUND},
        "mean_model_calls": float(result.calls.mean()),
        "mean_committed": float(result.committed.mean()),
        "mean_guesses": float(result.guesses.mean()),
        "mean_backtracks": float(result.backtracks.mean()),
        "mean_finishing_solver_guesses": float(result.solver_guesses.mean()),
        "mean_total_guesses": float((result.guesses + result.solver_guesses).mean()),
        "total_guesses_at_most_exact": float((result.guesses + result.solver_guesses <= exact_guesses).mean()),
        "mean_model_steps": float(result.solutions.steps.mean()),
        "median_total_guesses": float(np.median(result.guesses + result.solver_guesses)),
        "median_exact_solver_guesses": float(np.median(exact_guesses)),
        "mean_exact_solver_guesses": float(exact_guesses.mean()),
        "seconds": round(seconds, 2),
        "puzzles_per_second": len(questions) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", default=["weights", "tests/fixtures/solver_model"])
    parser.add_argument("--set", dest="sets", nargs="+", default=list(DEFAULT_SETS), help="PATH[:LIMIT]")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="model calls per puzzle")
    parser.add_argument("--branch", nargs="+", default=["surest"], choices=["surest", "fewest"])
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--logic", nargs="+", default=["on"], choices=["on", "off"], help="the exact solver's logic between calls"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--time-limit", type=float, help="seconds of model time per puzzle (default: none)")
    parser.add_argument("--warm", nargs="+", default=["off"], choices=["on", "off"], help="later calls start warm")
    parser.add_argument(
        "--settle", nargs="+", default=["1"], help="later calls stop once their answer stood N steps ('off': never)"
    )
    parser.add_argument(
        "--probes", nargs="+", type=int, default=[0], help="one-guess children run at once at a stall (0: off)"
    )
    parser.add_argument("--probe-steps", type=int, default=4, help="model steps a probe runs at most")
    parser.add_argument("--out", type=Path, help="JSON lines, one per model, set and measure")
    args = parser.parse_args()

    print(f"# {' '.join(shlex.quote(a) for a in ['python', *sys.argv])}")
    print(
        f"# {datetime.date.today()}  {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu"
    )
    rows = []
    for weights in args.weights:
        model = load_weights(Path(weights), torch.device("cpu"))
        c = model.config
        print(
            f"\n## {weights}: hidden {c.hidden_size}, mixer {c.mixer}, depth ({c.H_cycles},{c.L_cycles}), "
            f"{c.halt_max_steps} steps at most per call"
        )
        print(
            "| set | branch | logic | settle | warm | probes | solved | without exact solver | model alone "
            "| alone / commit / search / exact "
            "| calls | steps | committed | guesses (search + finish) | <= exact's own | backtracks "
            "| exact solver's guesses | puzzles/s |"
        )
        print("|" + " --- |" * 18)
        variants = itertools.product(args.sets, args.branch, args.logic, args.settle, args.warm, args.probes)
        for spec, branch, logic, settle, warm, probes in variants:
            path, _, limit = spec.partition(":")
            config = SearchConfig(
                args.budget,
                args.threshold,
                branch,
                logic == "on",
                None if settle == "off" else int(settle),
                args.time_limit,
                warm == "on",
                probes,
                args.probe_steps,
            )
            row = {"weights": weights} | measure(model, path, int(limit) if limit else None, config, args.batch_size)
            rows.append(row)
            f = row["found_by"]
            print(
                f"| {row['set']} | {branch} | {logic} | {settle} | {warm} | {probes} | {row['solved']:.1%} | "
                f"{row['without_exact_solver']:.1%} | "
                f"{row['model_alone']:.1%} | {f['model alone']} / {f['commit decoding']} / "
                f"{f['guided search']} / {f['exact solver']} | {row['mean_model_calls']:.1f} | "
                f"{row['mean_model_steps']:.1f} | {row['mean_committed']:.1f} | "
                f"{row['mean_guesses']:.1f} + {row['mean_finishing_solver_guesses']:.1f} "
                f"(median {row['median_total_guesses']:.0f}) | "
                f"{row['total_guesses_at_most_exact']:.0%} | {row['mean_backtracks']:.1f} | "
                f"{row['mean_exact_solver_guesses']:.1f} (median {row['median_exact_solver_guesses']:.0f}) | "
                f"{row['puzzles_per_second']:.2f} |",
                flush=True,
            )
            if args.out is not None:
                with args.out.open("a") as out:
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
