"""Speed and correctness of the exact solver on the shared data, one core.

    python benchmarks/solver_speed.py [--data-dir DIR] [--repeats 5] [--limit N] [--verify]

Speed: puzzles/s on hard_dev.csv and clue17.csv for the first solution (limit 1) and for the first solution plus the
proof of uniqueness (limit 2), the median of --repeats timed runs of `analyse_batch` after a warm-up, so compilation
is excluded; it is measured on its own, in fresh processes with an empty and then a filled numba cache.
--verify: every puzzle of every CSV must have exactly its listed answer, every multi_solution_200 line two or more
solutions; the mismatches are counted and the exit status is 1 if there are any.
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"  # one core: must be set before numba is imported

import argparse
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numba  # noqa: E402

from sudoku_trm.sudoku import solver  # noqa: E402
from sudoku_trm.sudoku.grid import CELLS, valid_solutions  # noqa: E402

SPEED_SETS = ("hard_dev.csv", "clue17.csv")
MULTI_SOLUTION_FILE = "multi_solution_200.txt"
FIRST_CALL_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
from sudoku_trm.sudoku import solver
t1 = time.perf_counter()
solver.analyse(np.zeros(81, dtype=np.uint8))
solver.analyse_batch(np.zeros((1, 81), dtype=np.uint8))
print(t1 - t0, time.perf_counter() - t1)
"""


def parse_grids(texts: list[str]) -> np.ndarray:
    """81-character grids, '.' or '0' for a blank, to an (N, 81) uint8 array."""
    joined = "".join(texts).replace(".", "0").encode()
    return (np.frombuffer(joined, dtype=np.uint8) - ord("0")).reshape(-1, CELLS)


def load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line]
    return parse_grids([row[1] for row in rows]), parse_grids([row[2] for row in rows])


def load_lines(path: Path) -> np.ndarray:
    return parse_grids([line.strip() for line in path.read_text().splitlines() if line.strip()])


def machine() -> list[str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = f"{models[0]} ({len(models)} logical CPUs)" if models else cpu
    return [
        f"platform: {platform.platform()}",
        f"cpu: {cpu}",
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}",
    ]


def first_call_seconds(cache_dir: str) -> tuple[float, float]:
    """(import, first analyse + analyse_batch) in a fresh process using `cache_dir` as numba's cache."""
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=python_path)
    command = [sys.executable, "-c", FIRST_CALL_SNIPPET]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    import_s, call_s = map(float, out.stdout.split())
    return import_s, call_s


def report_compile_times() -> None:
    with tempfile.TemporaryDirectory() as cache_dir:
        import_s, compile_s = first_call_seconds(cache_dir)
        _, load_s = first_call_seconds(cache_dir)
    print(f"import sudoku_trm.sudoku.solver: {import_s:.2f} s")
    print(f"first call, empty cache (compile): {compile_s:.2f} s")
    print(f"first call, cached (load): {load_s:.2f} s")


def time_batch(questions: np.ndarray, limit: int, repeats: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Median seconds of `repeats` runs, and the last run's results."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        solutions, counts, guesses = solver.analyse_batch(questions, limit=limit)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), solutions, counts, guesses


def report_speed(data_dir: Path, repeats: int, limit: int | None) -> None:
    solver.analyse_batch(np.zeros((1, CELLS), dtype=np.uint8))  # compile or load before timing
    print(f"{'set':<12} {'puzzles':>8} {'mode':<22} {'puzzles/s':>10} {'us/puzzle':>10} {'guesses/puzzle':>15}")
    for name in SPEED_SETS:
        questions, answers = load_csv(data_dir / name)
        if name == "clue17.csv" and limit is not None:
            questions, answers = questions[:limit], answers[:limit]
        for search_limit, mode in ((1, "first solution"), (2, "+ proof of uniqueness")):
            seconds, solutions, counts, guesses = time_batch(questions, search_limit, repeats)
            wrong = int((solutions != answers).any(axis=1).sum())
            print(
                f"{name:<12} {len(questions):>8} {mode:<22} {len(questions) / seconds:>10.0f} "
                f"{1e6 * seconds / len(questions):>10.1f} {guesses.mean():>15.1f}"
                + (f"   {wrong} WRONG" if wrong else "")
            )


def verify(data_dir: Path) -> int:
    """Check every puzzle in data_dir; returns the number of mismatches."""
    mismatches = 0
    for path in sorted(data_dir.glob("*.csv")):
        questions, answers = load_csv(path)
        solutions, counts, _ = solver.analyse_batch(questions, limit=2)
        not_unique = int((counts != 1).sum())
        wrong = int(((counts == 1) & (solutions != answers).any(axis=1)).sum())
        mismatches += not_unique + wrong
        print(f"{path.name:<24} {len(questions):>7} puzzles: {not_unique} not unique, {wrong} wrong answer")
    multi_path = data_dir / MULTI_SOLUTION_FILE
    if multi_path.exists():
        puzzles = load_lines(multi_path)
        solutions, counts, _ = solver.analyse_batch(puzzles, limit=2)
        too_few = int((counts < 2).sum())
        invalid = int((~valid_solutions(puzzles, solutions) & (counts > 0)).sum())
        mismatches += too_few + invalid
        print(
            f"{multi_path.name:<24} {len(puzzles):>7} puzzles: {too_few} with fewer than 2 solutions, "
            f"{invalid} invalid solutions"
        )
    print(f"verify: {mismatches} mismatches")
    return mismatches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="time only the first N puzzles of clue17.csv")
    parser.add_argument("--verify", action="store_true", help="check every puzzle of the data dir")
    args = parser.parse_args()

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(*machine(), sep="\n")
    print(
        f"config: data dir {args.data_dir.resolve()}, repeats {args.repeats} (median), "
        f"clue17 limit {args.limit or 'all'}, NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, "
        "one process, no parallel loops"
    )
    print()
    report_compile_times()
    print()
    report_speed(args.data_dir, args.repeats, args.limit)
    if args.verify:
        print()
        return 1 if verify(args.data_dir) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
