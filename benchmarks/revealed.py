"""How far hard puzzles lie from what a model solves: score it on the same puzzles with a share of their blanks
revealed from the answer (the same cells for every share's puzzle, drawn once per puzzle with a fixed seed).

A model that solves a forum-hardest puzzle with 50% of its blanks revealed, but not at 25%, has learned the
first half of the road; one that fails even at 75% has not learned the moves the puzzle's last stretch needs.
Single pass and commit decoding (inference/commit.py), exact grids and the remaining blanks right.

  OMP_NUM_THREADS=1 python benchmarks/revealed.py --weights weights --limit 200 \\
      --files ../shared/data/hard_dev.csv --shares 0 0.25 0.5 0.75
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np
import torch

from sudoku_trm.inference.commit import CommitConfig, solve_committed
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku.grid import BLANK
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set


def revealed(questions: np.ndarray, answers: np.ndarray, share: float, seed: int) -> np.ndarray:
    """`questions` with `share` of each puzzle's blanks (rounded down) filled from `answers`. Each puzzle's
    blanks are ranked once by a seeded draw, so a larger share reveals a superset of a smaller one's cells."""
    out = questions.copy()
    rank = np.random.default_rng(seed).random(questions.shape)
    for row in range(len(out)):
        blanks = np.flatnonzero(questions[row] == BLANK)
        chosen = blanks[np.argsort(rank[row, blanks])][: int(share * len(blanks))]
        out[row, chosen] = answers[row, chosen]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument("--files", nargs="+", required=True)
    parser.add_argument("--limit", type=int, default=200, help="first N puzzles of each file")
    parser.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_weights(Path(args.weights)).eval()
    print(f"# python {' '.join(sys.argv)}\n# {datetime.date.today()} torch threads {torch.get_num_threads()}")
    print("| file | puzzles | blanks revealed | blanks left | exact: alone / commit | blanks right: alone / commit |")
    print("| --- | --- | --- | --- | --- | --- |")
    for file in args.files:
        puzzles = load_puzzle_set(file)
        questions, answers = puzzles.questions[: args.limit], puzzles.answers[: args.limit]
        for share in args.shares:
            posed = revealed(questions, answers, share, args.seed)
            blank = posed == BLANK
            result = solve_committed(model, posed, CommitConfig())
            figures = []
            for got in (result.single.answers, result.solutions.answers):
                right = got == answers
                figures.append((right.all(1).mean(), right[blank].mean()))
            (alone, alone_cells), (commit, commit_cells) = figures
            print(
                f"| {Path(file).name} | {len(posed)} | {share:.0%} | {blank.sum(1).mean():.1f} | "
                f"{alone:.1%} / {commit:.1%} | {alone_cells:.1%} / {commit_cells:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
