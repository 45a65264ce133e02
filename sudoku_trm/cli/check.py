"""`sudoku-trm check`: the exact solver's verdict on every puzzle, one record each, then a summary."""

from __future__ import annotations

import json

from rich.console import Console

from sudoku_trm.cli.terminal import print_error
from sudoku_trm.sudoku import checking


def run(files: list[str], limit: int | None, as_json: bool, out: Console) -> int:
    """Print a record per puzzle (JSON lines with `as_json`) and the problems; returns the exit code."""
    report = checking.check_files(files, limit=limit)
    for record in report.records:
        if as_json:
            out.print(json.dumps(record.to_json()), markup=False, soft_wrap=True)
        else:
            out.print(record.describe(), markup=False, soft_wrap=True)
    for error in report.errors:
        print_error(str(error))
    if not as_json:
        out.print(report.summary(), markup=False)
    return 0 if report.ok else 1
