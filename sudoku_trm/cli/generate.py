"""`sudoku-trm generate`: new unique puzzles of a level, written in a form `solve`, `eval` and `check` read.

Each puzzle is written and flushed as soon as it is made: the first line of a long run shows at once, and
a reader that stops early (`| head -1`) ends the command at its next write, quietly, as every command ends
on a closed pipe. With stdout redirected and stderr on a terminal, a progress bar counts the puzzles.
"""

from __future__ import annotations

import io
import json
import secrets

from rich.console import Console

from sudoku_trm.cli.progress import progress_bar
from sudoku_trm.cli.terminal import stderr
from sudoku_trm.sudoku.generate import Generated, generate
from sudoku_trm.sudoku.puzzles import format_line, write_puzzles


def run(count: int, level: str, seed: int | None, fmt: str, answers: bool, as_json: bool, out: Console) -> None:
    """Print `count` puzzles: one JSON record each with `as_json`, else `fmt` (with answers if asked).
    Without a seed, one is drawn and said on stderr, so any output can be made again."""
    if seed is None:
        seed = secrets.randbelow(2**31)
        stderr.print(f"seed {seed} (--seed {seed} makes these puzzles again)", markup=False)
    # The bar would garble puzzles printed to the same terminal; there, the puzzles are the progress.
    with progress_bar(stderr, f"generating {level}", count, enabled=not out.is_terminal) as advance:
        for index, puzzle in enumerate(generate(count, level, seed)):
            out.file.write(_record(puzzle, seed) if as_json else _text(puzzle, index, fmt, answers))
            out.file.flush()
            advance(index + 1)


def _record(puzzle: Generated, seed: int) -> str:
    record = {
        "puzzle": format_line(puzzle.puzzle),
        "solution": format_line(puzzle.solution),
        "level": puzzle.level,
        "givens": int((puzzle.puzzle != 0).sum()),
        "seed": seed,
    }
    return json.dumps(record) + "\n"


def _text(puzzle: Generated, index: int, fmt: str, answers: bool) -> str:
    """One puzzle as `write_puzzles` writes it within a file of many: the CSV header before the first
    puzzle only, a blank line between grids."""
    text = io.StringIO()
    write_puzzles(text, [puzzle.puzzle], [puzzle.solution] if answers else None, fmt=fmt)
    written = text.getvalue()
    if index == 0:
        return written
    if fmt == "csv":
        return written.split("\n", 1)[1]
    return "\n" + written if fmt == "grid" else written
