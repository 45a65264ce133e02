"""Start-up from the shell: one puzzle typed on the command line, the exact check, three hard puzzles, and the
imports underneath (torch, numba, the interpreter alone). Each command runs 7 times; median, min and max.

Run it on an idle machine (nothing else running): start-up is mostly importing, which a busy core slows.

  python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sudoku_trm.sudoku.puzzles import format_line, read_puzzles  # noqa: E402

RUNS = 7


def first_puzzle(path: Path) -> str:
    return format_line(read_puzzles(path).puzzles[0].grid)


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    puzzle = first_puzzle(ROOT / "puzzles" / "easy.txt")
    cli = [sys.executable, "-m", "sudoku_trm"]
    commands = {
        "sudoku-trm solve PUZZLE --no-animate": [*cli, "solve", puzzle, "--no-animate"],
        "sudoku-trm solve PUZZLE (animated, into a pipe)": [*cli, "solve", puzzle],
        "sudoku-trm check PUZZLE": [*cli, "check", puzzle],
        "sudoku-trm solve puzzles/named.txt --no-animate": [*cli, "solve", "puzzles/named.txt", "--no-animate"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "python -c 'import numba'": [sys.executable, "-c", "import numba"],
        "python -c 'pass'": [sys.executable, "-c", "pass"],
    }
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}, {RUNS} runs each")
    print("| command | median s | min s | max s |\n| --- | --- | --- | --- |")
    for name, command in commands.items():
        times = [wall(command) for _ in range(RUNS)]
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |", flush=True)


if __name__ == "__main__":
    main()
