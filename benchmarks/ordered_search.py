"""Model-ordered exact search: the exact solver's guesses to the first solution, trying digits in the lowest-first
order against the model's order (each cell's digits by the model's probability after one single-pass call).

The solver, its choice of branch cell (fewest candidates, then reach) and its propagation are the same; only
which digit is tried first at a branch changes, so every answer is still exact and the difference in guesses is
the model's knowledge. An oracle order (the solution's digit first) bounds what any order can save.

With --refresh K, the order is also refreshed deeper in the tree: the same search (solver.propagate at each node,
solver.branch_cell to branch on), run node by node here, asks the model again at each of the first K nodes it
enters (the root included), and a node without a call of its own keeps its nearest ancestor's probabilities. A
call whose answer is a valid solution ends the search there (counted as found by the model). K=0 reproduces
the plain order's guesses, K=1 the root order's.

  python benchmarks/ordered_search.py --limit 200
  python benchmarks/ordered_search.py --limit 30 --refresh 1 8 32 --files hard_dev.csv
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sudoku_trm.inference.engine import InferenceConfig, solve  # noqa: E402
from sudoku_trm.model.trm import TRM  # noqa: E402
from sudoku_trm.pretrained import load_model  # noqa: E402
from sudoku_trm.sudoku import solver  # noqa: E402
from sudoku_trm.sudoku.grid import valid_solutions  # noqa: E402
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data"
FILES = (
    SHARED / "hard_dev.csv",
    ROOT / "benchmarks" / "data" / "guesses_dev.csv",
    SHARED / "unbiased_1k.csv",
    ROOT / "puzzles" / "named.txt",
    ROOT / "puzzles" / "very_hard.txt",
)


@dataclass
class Refreshed:
    """One puzzle's refreshed-order search: its first solution, guesses, model calls, found by a call's answer."""

    solution: np.ndarray
    guesses: int = 0
    calls: int = 0
    by_model: bool = False


def refreshed_search(model: TRM, puzzle: np.ndarray, refresh: int) -> Refreshed:
    """The exact search to the first solution, its digit order from a model call at each of the first `refresh`
    nodes entered (see the module's text)."""
    result = Refreshed(solution=puzzle)
    config = InferenceConfig(probabilities=True)

    def visit(grid: np.ndarray, candidates: np.ndarray, scores: np.ndarray | None) -> np.ndarray | None:
        if (grid != 0).all():
            return grid
        if result.calls < refresh:
            called = solve(model, grid[None], config)
            result.calls += 1
            if valid_solutions(grid[None], called.answers)[0]:
                result.by_model = True
                return called.answers[0]
            scores = called.probabilities[0]
        cell = solver.branch_cell(grid, candidates)
        digits = np.flatnonzero(candidates[cell]) + 1
        if scores is not None:  # most probable first; a stable sort keeps the plain order (lowest first) on ties
            digits = digits[np.argsort(-scores[cell, digits - 1], kind="stable")]
        for digit in digits:
            result.guesses += 1
            child = grid.copy()
            child[cell] = digit
            pushed = solver.propagate(child)
            found = None if pushed is None else visit(*pushed, scores)
            if found is not None:
                return found
        return None

    pushed = solver.propagate(puzzle)
    found = None if pushed is None else visit(*pushed, None)
    if found is None:
        raise ValueError("the puzzle has no solution")
    result.solution = found
    return result


def report_refreshed(model: TRM, path: Path, questions: np.ndarray, answers: np.ndarray, refreshes: list[int]):
    _, _, plain = solver.analyse_batch(questions, 1)
    for refresh in refreshes:
        started = time.perf_counter()
        runs = [refreshed_search(model, q, refresh) for q in questions]
        seconds = (time.perf_counter() - started) / len(questions)
        assert all((r.solution == a).all() for r, a in zip(runs, answers)), "a solution differs from the file's"
        guesses = np.array([r.guesses for r in runs])
        print(
            f"| {path.name} | {len(questions)} | {refresh} | {plain.mean():.1f} / {statistics.median(plain):g} | "
            f"{guesses.mean():.1f} / {statistics.median(guesses):g} | {np.mean([r.calls for r in runs]):.1f} | "
            f"{sum(r.by_model for r in runs)} | {(guesses < plain).sum()} / {(guesses > plain).sum()} | "
            f"{seconds:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="puzzles per file (default %(default)s)")
    parser.add_argument("--weights", help="model directory (default: the shipped model)")
    parser.add_argument("--refresh", type=int, nargs="+", help="model calls at the first K nodes (one row each)")
    parser.add_argument("--files", nargs="+", help="file names of the default list to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model = load_model(args.weights)
    files = [f for f in FILES if not args.files or f.name in args.files]
    print(f"# {datetime.date.today()}  python {' '.join(sys.argv)}  (torch threads {torch.get_num_threads()})")
    if args.refresh:
        print(
            "| file | puzzles | calls at first K nodes | plain: mean / median guesses | refreshed order: mean / "
            "median | calls | answer found by a call | puzzles with fewer / more guesses | s/puzzle |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for path in files:
            puzzles = load_puzzle_set(path)
            report_refreshed(model, path, puzzles.questions[: args.limit], puzzles.answers[: args.limit], args.refresh)
        return
    print(
        "| file | puzzles | plain: mean / median guesses | model-ordered: mean / median | oracle order: mean "
        "| puzzles with fewer / more guesses | model call s/puzzle |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for path in files:
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
