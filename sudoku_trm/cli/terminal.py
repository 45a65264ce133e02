"""The two consoles every command writes to, and the one form an error takes on the way out.

stdout carries results (and only results with --json); stderr carries progress, notes and errors.
Off a terminal (a pipe, a file) lines are never wrapped: `for_text` gives the console to print on.
A reader that closes the pipe early (`solve ... | head -1`) ends the command quietly with exit code
141, 128 + SIGPIPE, what a shell reports for any Unix tool cut off that way (`yes | head -1`), so a
script under `set -o pipefail` can still tell that the output was cut.
"""

from __future__ import annotations

import os
import sys
from functools import wraps
from typing import Callable

import typer
from rich.console import Console

from sudoku_trm.errors import UserError


class OutputConsole(Console):
    """A Console whose closed pipe reaches `reports_user_errors` (exit 141) instead of Rich's exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


stdout = OutputConsole(highlight=False)
stderr = OutputConsole(stderr=True, highlight=False, soft_wrap=True)


def for_text(console: Console) -> Console:
    """`console` on a terminal; off one, a console on the same file that never wraps a line (a grep or a
    diff sees each status line whole, without trailing spaces) and lays tables out at their natural width."""
    if console.is_terminal:
        return console
    return OutputConsole(file=console.file, width=max(console.width, 240), soft_wrap=True, highlight=False)


CLOSED_PIPE_EXIT_CODE = 141  # 128 + SIGPIPE


def quiet_closed_pipe() -> None:
    """Point stdout at /dev/null, so that nothing fails again on the closed pipe (Python flushes at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's capture): nothing to redirect
        pass


def print_error(message: str) -> None:
    """The one form an error takes: one line on stderr."""
    stderr.print(f"error: {message}", markup=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr; the caller raises the returned Exit."""
    print_error(message)
    return typer.Exit(code)


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C


def reports_user_errors(command: Callable) -> Callable:
    """Turn a UserError raised anywhere below a command into one line on stderr and its exit code, the
    user's Ctrl-C into one plain line (not an error) and exit code 130, and a closed output pipe into a
    quiet exit 141."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt as interrupt:
            stderr.print(str(interrupt) or "interrupted", markup=False)
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
        except BrokenPipeError:
            quiet_closed_pipe()
            raise typer.Exit(CLOSED_PIPE_EXIT_CODE) from None

    return wrapper
