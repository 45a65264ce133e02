"""The two consoles every command writes to, and the one form an error takes on the way out.

stdout carries results (and only results with --json); stderr carries progress, notes and errors.
"""

from __future__ import annotations

from functools import wraps
from typing import Callable

import typer
from rich.console import Console

from sudoku_trm.errors import UserError

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """The one form an error takes: one line on stderr."""
    stderr.print(f"error: {message}", markup=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr; the caller raises the returned Exit."""
    print_error(message)
    return typer.Exit(code)


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C


def reports_user_errors(command: Callable) -> Callable:
    """Turn a UserError raised anywhere below a command into one line on stderr and its exit code, and
    the user's Ctrl-C into one plain line (not an error) and exit code 130."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt as interrupt:
            stderr.print(str(interrupt) or "interrupted", markup=False)
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None

    return wrapper
