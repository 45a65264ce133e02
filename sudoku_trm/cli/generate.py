"""`sudoku-trm generate`: new unique puzzles of a level, written in a form `solve`, `eval` and `check` read."""

from __future__ import annotations

import json
import secrets

from rich.console import Console

from sudoku_trm.cli.terminal import stderr
from sudoku_trm.sudoku.generate import generate
from sudoku_trm.sudoku.puzzles import format_line, write_puzzles


def run(count: int, level: str, seed: int | None, fmt: str, answers: bool, as_json: bool, out: Console) -> None:
    """Print `count` puzzles: one JSON record each with `as_json`, else `fmt` (with answers if asked).
    Without a seed, one is drawn and said on stderr, so any output can be made again."""
    if seed is None:
        seed = secrets.randbelow(2**31)
        stderr.print(f"seed {seed} (--seed {seed} makes these puzzles again)", markup=False)
    puzzles = list(generate(count, level, seed))
    if as_json:
        for p in puzzles:
            record = {
                "puzzle": format_line(p.puzzle),
                "solution": format_line(p.solution),
                "level": p.level,
                "givens": int((p.puzzle != 0).sum()),
                "seed": seed,
            }
            out.print(json.dumps(record), markup=False, soft_wrap=True)
        return
    grids = [p.puzzle for p in puzzles]
    write_puzzles(out.file, grids, [p.solution for p in puzzles] if answers else None, fmt=fmt)
