"""Bad lines in machine output: `solve --json` and `check --json` write one record per line they could
not use (`{"file": ..., "line": ..., "error": ...}`), in file order among the puzzles' own records, so
that a script reading stdout alone learns what was left out and where (stderr says it too, in words).

A file that cannot be read at all gets one such record with `"line": null`.
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku import checking

T = TypeVar("T")


def error_record(error: InputError) -> dict:
    """The JSON record of a line (or a file) that was left out."""
    return {"file": error.file, "line": error.line, "error": error.message}


def check_in_order(paths: list[str], limit: int | None = None) -> tuple[checking.CheckReport, dict[str, int]]:
    """`check_files` over `paths`, and each file's place among them by the name its records carry (a path
    as given, `<stdin>`, `<puzzle>`): what `in_file_order` sorts by. One file at a time, because the
    merged report no longer says where one file's records end and the next one's begin."""
    report, places = checking.CheckReport(), {}
    for place, path in enumerate(paths):
        one = checking.check_files([path], limit=limit)
        for name in [c.puzzle.file for c in one.records] + [e.file for e in one.errors]:
            places.setdefault(name, place)
        report.records += one.records
        report.errors += one.errors
    return report, places


def in_file_order(items: Iterable[T], where: Callable[[T], tuple[str | None, int | None]], places: dict) -> list[T]:
    """`items` sorted by file (their order on the command line) and line; a whole-file item comes first."""

    def key(item: T) -> tuple[int, int]:
        file, line = where(item)
        return places.get(file, len(places)), line or 0

    return sorted(items, key=key)


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
