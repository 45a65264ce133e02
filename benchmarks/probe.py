"""One-guess probes: can the model finish a hard puzzle once one cell is guessed right?

benchmarks/revealed.py found that the shipped model solves forum-hardest puzzles once a few of their cells are
given (1 random cell: 9%, 2: 30%, 5: 97%). This script asks what a search could make of that. From the puzzle
pushed as far as logic goes (`solver.propagate`), every legal (cell, digit) guess makes a child, itself pushed by
logic; children logic proves dead are dropped. The rest are run through the model in batches, in an order, until
one child's answer is the puzzle's solution (a wrong guess can never give a valid grid of a unique puzzle, so the
first valid answer is the solution; here it is compared with the file's answer). Orders:

- `reach`: the child logic fills furthest first (fewest blanks left), ties by the model's probability of the
  guessed digit on the puzzle as posed (one call);
- `model`: the model's probability of the guessed digit (ties: logic's reach).

Per puzzle: found or not, children run until found, the exact solver's own guesses on the puzzle as posed
(to its first solution, as benchmarks/search.py counts them).

  OMP_NUM_THREADS=1 python benchmarks/probe.py --files ../shared/data/hard_dev.csv --limit 30 --order reach
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.inference.probes import one_guess_children
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set
from sudoku_trm.sudoku.solver import analyse, propagate


def children(model: TRM, question: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """(the puzzle pushed by logic, its live one-guess children pushed by logic, in `order`)."""
    grid, candidates = propagate(question)
    probabilities = solve(model, grid[None], InferenceConfig(probabilities=True)).probabilities[0]
    kids = one_guess_children(grid, candidates & (grid == 0)[:, None], probabilities)  # in reach order
    if order == "model":
        kids.sort(key=lambda child: -float(probabilities[child.cell, child.digit - 1]))
    return grid, np.array([child.grid for child in kids], dtype=np.uint8).reshape(-1, 81)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument("--files", nargs="+", required=True)
    parser.add_argument("--limit", type=int, default=30, help="first N puzzles of each file")
    parser.add_argument("--order", choices=("reach", "model"), default="reach")
    parser.add_argument("--batch", type=int, default=32, help="children per model call")
    parser.add_argument("--budget", type=int, default=256, help="children at most per puzzle")
    parser.add_argument("--settle", type=int, default=1, help="stop a child whose answer stood this many steps")
    args = parser.parse_args()
    model = load_weights(Path(args.weights)).eval()
    config = InferenceConfig(settle=args.settle)
    print(f"# python {' '.join(sys.argv)}\n# {datetime.date.today()} torch threads {torch.get_num_threads()}")
    print(
        "| file | puzzles | order | found | children run: mean / median | exact solver's guesses: mean / median "
        "| puzzles with children run <= exact's guesses | s/puzzle: mean / median |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for file in args.files:
        puzzles = load_puzzle_set(file)
        found, run, exact, seconds = [], [], [], []
        for question, answer in zip(puzzles.questions[: args.limit], puzzles.answers[: args.limit]):
            started = time.perf_counter()
            grid, kids = children(model, question, args.order)
            solved, tried = False, 0
            if (solve(model, grid[None], config).answers[0] == answer).all():
                solved = True  # the model alone, after logic: no guess needed
            while not solved and tried < min(args.budget, len(kids)):
                batch = kids[tried : tried + args.batch]
                hits = np.flatnonzero((solve(model, batch, config).answers == answer).all(1))
                solved, tried = len(hits) > 0, tried + (hits[0] + 1 if len(hits) else len(batch))
            seconds.append(time.perf_counter() - started)
            found.append(solved)
            run.append(tried)
            exact.append(analyse(question, limit=1).guesses)  # to the first solution, as search.py counts
        run_, exact_ = np.array(run), np.array(exact)
        print(
            f"| {Path(file).name} | {len(found)} | {args.order} | {np.mean(found):.0%} | "
            f"{run_.mean():.1f} / {np.median(run_):.0f} | {exact_.mean():.1f} / {np.median(exact_):.0f} | "
            f"{np.mean(run_ <= exact_):.0%} | {np.mean(seconds):.1f} / {np.median(seconds):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
