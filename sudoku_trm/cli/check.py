"""`sudoku-trm check`: the exact solver's verdict on every puzzle, one record each, then a summary.

With --json, a line that is not a puzzle gets a record too (`bad_lines.error_record`), in file order
among the puzzles' own, so that stdout alone accounts for every line; stderr says the same in words.
"""

from __future__ import annotations

import json

from rich.console import Console

from sudoku_trm.cli.bad_lines import check_in_order, error_record, in_file_order, left_out
from sudoku_trm.cli.terminal import print_error


def run(files: list[str], limit: int | None, as_json: bool, out: Console) -> int:
    """Print a record per puzzle (JSON lines with `as_json`) and the problems; returns the exit code."""
    report, places = check_in_order(files, limit)
    if as_json:
        # A puzzle with no or several solutions has its own record (its verdict says so): only the lines
        # without one get an error record.
        checked = {(c.puzzle.file, c.puzzle.line) for c in report.records}
        records = [(places.key(c.puzzle, c.puzzle.line), c.to_json()) for c in report.records]
        records += [(places.key(e, e.line), error_record(e)) for e in left_out(report.errors, checked)]
        for record in in_file_order(records):
            out.print(json.dumps(record), markup=False, soft_wrap=True)
    else:
        for check in report.records:
            out.print(check.describe(), markup=False, soft_wrap=True)
    for error in report.errors:
        print_error(str(error))
    if not as_json:
        out.print(report.summary(), markup=False)
    return 0 if report.ok else 1
