"""Model-ordered exact search: the exact solver's guesses to the first solution, trying digits in the lowest-first
order against the model's order (each cell's digits by the model's probability after one single-pass call).

The solver, its choice of branch cell (fewest candidates, then reach) and its propagation are the same; only
which digit is tried first at a branch changes, so every answer is still exact and the difference in guesses is
the model's knowledge. An oracle order (the solution's digit first) bounds what any order can save.

  python benchmarks/ordered_search.py --limit 200
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sudoku_trm.inference.engine import InferenceConfig, solve  # noqa: E402
from sudoku_trm.pretrained import load_model  # noqa: E402
from sudoku_trm.sudoku import solver  # noqa: E402
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data"
FILES = (
    SHARED / "hard_dev.csv",
    ROOT / "benchmarks" / "data" / "guesses_dev.csv",
    SHARED / "unbiased_1k.csv",
    ROOT / "puzzles" / "named.txt",
    ROOT / "puzzles" / "very_hard.txt",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="puzzles per file (default %(default)s)")
    parser.add_argument("--weights", help="model directory (default: the shipped model)")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model = load_model(args.weights)
    print(f"# {datetime.date.today()}  python {' '.join(sys.argv)}  (torch threads {torch.get_num_threads()})")
    print(
        "| file | puzzles | plain: mean / median guesses | model-ordered: mean / median | oracle order: mean "
        "| puzzles with fewer / more guesses | model call s/puzzle |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for path in FILES:
        if not path.exists():
            print(f"| {path.name} | missing | | | | | |")
            continue
        puzzles = load_puzzle_set(path)
        questions = puzzles.questions[: args.limit]
        answers = puzzles.answers[: args.limit]
        started = time.perf_counter()
        single = solve(model, questions, InferenceConfig(probabilities=True))
        seconds = (time.perf_counter() - started) / len(questions)
        _, _, plain = solver.analyse_batch(questions, 1)
        found, _, ordered = solver.analyse_batch(questions, 1, single.probabilities)
        assert (found == answers).all(), "a first solution differs from the file's answer"
        oracle = np.zeros((len(questions), 81, 9))
        oracle[np.arange(len(questions))[:, None], np.arange(81)[None], answers - 1] = 1
        _, _, best = solver.analyse_batch(questions, 1, oracle)
        print(
            f"| {path.name} | {len(questions)} | {plain.mean():.1f} / {statistics.median(plain):g} | "
            f"{ordered.mean():.1f} / {statistics.median(ordered):g} | {best.mean():.1f} | "
            f"{(ordered < plain).sum()} / {(ordered > plain).sum()} | {seconds:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
