"""The `sudoku-trm` command line: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 success, 1 bad input (or a command that cannot run yet), 2 bad usage (Typer's own).
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from typing import Callable, List, Optional

import typer
from rich.console import Console

from sudoku_trm import __version__
from sudoku_trm.errors import UserError

app = typer.Typer(
    name="sudoku-trm",
    help="Solve Sudoku with a Tiny Recursive Model (TRM) trained with the CGAR curriculum.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# Commands whose real work arrives in later issues accept any arguments and say so plainly.
_PENDING = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True}}


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr; the caller raises the returned Exit."""
    stderr.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def reports_user_errors(command: Callable) -> Callable:
    """Turn a UserError raised anywhere below a command into one line on stderr and its exit code."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise fail(str(error), error.exit_code) from None

    return wrapper


def _not_available(command: str, arrives_with: str) -> typer.Exit:
    return fail(f"`sudoku-trm {command}` is not available yet: it arrives with {arrives_with}.")


def _print_version(value: bool) -> None:
    if value:
        stdout.print(f"sudoku-trm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Solve Sudoku with a Tiny Recursive Model (TRM) trained with the CGAR curriculum."""


@app.command(**_PENDING)
def train() -> None:
    """Train a TRM with the CGAR curriculum (not available yet)."""
    raise _not_available("train", "the TRM model and CGAR trainer")


@app.command(**_PENDING)
def solve() -> None:
    """Solve puzzles with the model and watch every refinement step (not available yet)."""
    raise _not_available("solve", "the inference engine; `sudoku-trm check` solves exactly meanwhile")


@app.command(name="eval", **_PENDING)
def evaluate() -> None:
    """Evaluate the model on puzzle files (not available yet)."""
    raise _not_available("eval", "the inference engine")


@app.command(**_PENDING)
def download() -> None:
    """Download weights and data sets from the Hugging Face Hub (not available yet)."""
    raise _not_available("download", "the Hub integration")


@app.command()
@reports_user_errors
def check(
    files: List[str] = typer.Argument(..., help="Puzzle files (line, grid or CSV form); - reads stdin."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per puzzle on stdout, nothing else."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Check at most this many puzzles per file."),
) -> None:
    """Check puzzles with the exact solver: unique, several or no solutions, difficulty, given answers.

    Exits 1 when any line is malformed or any puzzle lacks exactly one solution.
    """
    from sudoku_trm.checking import check_files  # imported late: keeps `--help` fast

    report = check_files(files, limit=limit)
    for record in report.records:
        if as_json:
            stdout.print(json.dumps(record.to_json()), markup=False, soft_wrap=True)
        else:
            stdout.print(record.describe(), markup=False, soft_wrap=True)
    for error in report.errors:
        stderr.print(f"error: {error}", markup=False)
    if not as_json:
        stdout.print(report.summary(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except UserError as error:  # raised outside a command, e.g. while importing a module
        stderr.print(f"error: {error}", markup=False)
        sys.exit(error.exit_code)
