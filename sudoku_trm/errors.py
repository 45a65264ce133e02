"""Errors that reach the user as one line, never as a traceback.

The CLI catches `UserError`, prints `str(error)` on stderr and exits with `exit_code`. A user's
interrupt (Ctrl-C) is not an error: every command exits 130 with one plain line (`str(Interrupted)`
when the work says how to continue, else "interrupted").
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure the user can fix: bad input, missing file, wrong device."""

    exit_code = 1


class InputError(UserError):
    """A problem located in an input file: renders as `file:line: message`."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C caught after the work was left in a state to continue from; `str()` says how to continue."""
