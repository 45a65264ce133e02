"""Bad lines in machine output: `solve --json` and `check --json` write one record per line they could
not use (`{"file": ..., "line": ..., "error": ...}`), in file order among the puzzles' own records, so
that a script reading stdout alone learns what was left out and where (stderr says it too, in words).

A file that cannot be read at all gets one such record with `"line": null`.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku import checking

T = TypeVar("T")


def error_record(error: InputError) -> dict:
    """The JSON record of a line (or a file) that was left out."""
    return {"file": error.file, "line": error.line, "error": error.message}


class Places:
    """Which file of the command line each puzzle and each error came from, by identity, so that a file
    given twice is two places: what puts records in file order (`key`)."""

    def __init__(self) -> None:
        self._of: dict[int, int] = {}

    def add(self, items: Iterable[object], place: int) -> None:
        for item in items:
            self._of[id(item)] = place

    def key(self, item: object, line: int | None) -> tuple[int, int]:
        """Sorts by file, then line; a whole-file error (line None) first in its file."""
        return self._of.get(id(item), len(self._of)), line or 0


def check_in_order(paths: list[str], limit: int | None = None) -> tuple[checking.CheckReport, Places]:
    """`check_files` over `paths`, with the place of every puzzle (`PuzzleCheck.puzzle`) and error. One file
    at a time, because the merged report no longer says where one file's records end and the next one's begin."""
    report, places = checking.CheckReport(), Places()
    for place, path in enumerate(paths):
        one = checking.check_files([path], limit=limit)
        places.add([c.puzzle for c in one.records] + list(one.errors), place)
        report.records += one.records
        report.errors += one.errors
    return report, places


def in_file_order(entries: list[tuple[tuple[int, int], T]]) -> list[T]:
    """The items of `(Places.key, item)` pairs, in file and line order (stable: a tie keeps its order)."""
    return [item for _, item in sorted(entries, key=lambda entry: entry[0])]


def left_out(errors: list[InputError], used: set[tuple[str, int]]) -> list[InputError]:
    """The errors whose line has no record of its own (`used`: the (file, line) of every puzzle reported)."""
    return [e for e in errors if (e.file, e.line) not in used]


def count_left_out(errors: list[InputError]) -> str:
    """`1 bad line`, `3 bad lines, 1 bad file`: what a text summary adds for them ('' for none)."""
    lines = sum(e.line is not None for e in errors)
    files = len(errors) - lines
    parts = [f"{lines} bad line{'s' if lines != 1 else ''}" if lines else ""]
    parts.append(f"{files} bad file{'s' if files != 1 else ''}" if files else "")
    return ", ".join(p for p in parts if p)
