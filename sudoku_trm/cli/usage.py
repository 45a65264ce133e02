"""How the commands present their options and usage errors: plain metavars (TEXT, INTEGER, FILE, DIR, or
the choices themselves, never a Python type name), fixed value sets checked as choices, help that fits
the terminal, and a usage error as one line on stderr (`error: ...`, exit 2), like every other error of
the program.

A path's metavar says what it names, FILE or DIR, as each option declares (`metavar=`); one that does
not falls back to PATH, which a test refuses. A set of choices too long to read as one word (--effort's)
shows as the option's name in capitals, its help listing the choices.

Help fits the terminal: Typer's panels put option names, negative flags, types and help in columns of
their own, and below RICH_HELP_MIN_WIDTH columns (train's long names and types beside each other) they
cut names and words with `…`; there, help takes click's plain layout instead, which wraps every column
at word boundaries and puts a long option's help on the line below it.

`TidyGroup` is the app's Typer group class: when Typer builds the click commands, it walks every
command's parameters once; `CHOICES` names the value sets by option, from the modules that own them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

try:  # Typer 0.29 carries its own copy of click, whose exceptions its commands raise
    from typer._click import _textwrap  # type: ignore[import-not-found]
    from typer._click import exceptions as click  # type: ignore[import-not-found]
except ImportError:  # earlier Typers use click itself
    from click import _textwrap  # type: ignore[no-redef]
    from click import exceptions as click  # type: ignore[no-redef]

from sudoku_trm.cli.model_options import DEVICE_NAMES
from sudoku_trm.cli.terminal import print_error
from sudoku_trm.inference.settings import EFFORTS
from sudoku_trm.model.config import MIXERS, MLPS
from sudoku_trm.sudoku.puzzles import FORMATS
from sudoku_trm.training.config import LOSSES, LR_SCHEDULES, MIXES, OPTIMIZERS, PENDING, TARGETS, Curriculum
from sudoku_trm.training.recipes import RECIPES

USAGE_EXIT_CODE = 2

CHOICES: dict[str, tuple[str, ...]] = {
    "--device": DEVICE_NAMES,
    "--effort": EFFORTS,
    "--recipe": tuple(RECIPES),
    "--curriculum": tuple(c.value for c in Curriculum),
    "--mixer": MIXERS,
    "--mlp": MLPS,
    "--optimizer": OPTIMIZERS,
    "--lr-schedule": LR_SCHEDULES,
    "--loss": LOSSES,
    "--targets": TARGETS,
    "--pending": PENDING,
    "--mix": MIXES,
    "--difficulty": ("singles", "logic", "guesses"),  # sudoku/logic.py LEVELS (not imported here: numba)
    "--format": FORMATS,
}
CHOICES_SHOWN_UP_TO = 24  # characters of `a|b|c`: a longer set shows as the option's name (--effort: EFFORT)
RICH_HELP_MIN_WIDTH = 100  # columns: narrower, help takes click's plain layout (see the module's docstring)
_METAVARS = {int: "INTEGER", float: "NUMBER", Path: "PATH"}
_CLICK_NAMES = {"integer": "INTEGER", "integer range": "INTEGER", "float": "NUMBER", "float range": "NUMBER"}


def _metavar(param: Any) -> str:
    # Typer 0.29 keeps the annotation in a type descriptor; earlier versions keep a click type.
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is not None:
        return _METAVARS.get(annotation, "TEXT")
    name = getattr(getattr(param, "type", None), "name", "")
    return "PATH" if name in ("path", "file") else _CLICK_NAMES.get(name, "TEXT")


def tidy(command: Any) -> None:
    """Metavars for every parameter of `command` and of its subcommands: the choices where the option
    has a fixed value set (checked by the option's callback or the config), else TEXT, INTEGER, ..."""
    _tidy_help_option(command)
    _fit_help(command)
    for param in command.params:
        flag = bool(getattr(param, "is_flag", False))
        argument = param.param_type_name == "argument"
        option = next((o for o in param.opts if o in CHOICES), None)
        if option is not None:
            shown = "|".join(CHOICES[option])
            param.metavar = shown if len(shown) <= CHOICES_SHOWN_UP_TO else option.lstrip("-").upper()
        elif param.metavar is None and not argument:
            param.metavar = "" if flag else _metavar(param)
        if hasattr(param, "display_type_rich"):
            # Typer's help table shows a type column beside the name (`<str>`, `<list[str]>`): the
            # metavar there instead, and nothing for flags and arguments (whose name is their metavar).
            shown = None if flag or argument else param.metavar
            param.display_type_rich = lambda ctx, shown=shown: shown
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


def _tidy_help_option(command: Any) -> None:
    """`--help` is made when help is asked for, after the walk: it shows no type either."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None and hasattr(option, "display_type_rich"):
            option.display_type_rich = lambda ctx: None
        return option

    command.get_help_option = get_help_option


def help_width() -> int:
    """The columns help is drawn in: as Typer's Rich console finds them ($TERMINAL_WIDTH, else $COLUMNS,
    else the terminal's, else 80)."""
    from rich.console import Console

    given = os.environ.get("TERMINAL_WIDTH", "")
    return int(given) if given.isdigit() else Console().width


class _WholeWords(_textwrap.TextWrapper):
    """Click's wrapper, breaking lines at spaces only: `--sweep-budgets` is never cut at its hyphen."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs, break_on_hyphens=False)


def _fit_help(command: Any) -> None:
    """Typer's panels where they fit, click's plain layout on a narrower terminal."""
    if not hasattr(command, "rich_markup_mode"):  # not a Typer command: click's layout already
        return
    draw = command.format_help

    def format_help(ctx: Any, formatter: Any) -> None:
        if help_width() >= RICH_HELP_MIN_WIDTH:
            return draw(ctx, formatter)
        mode, command.rich_markup_mode = command.rich_markup_mode, None  # Typer's switch to click's layout
        wrapper, _textwrap.TextWrapper = _textwrap.TextWrapper, _WholeWords  # click's wrap_text imports it per call
        try:
            return draw(ctx, formatter)
        finally:
            command.rich_markup_mode = mode
            _textwrap.TextWrapper = wrapper

    command.format_help = format_help


class TidyGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        tidy(self)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Typer's own main, with a usage error as one line instead of a framed panel."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as error:
            if type(error).__name__ == "NoArgsIsHelpError":  # the help itself: Typer's panels printed it already,
                help_text = error.format_message()  # click's plain layout (a narrow terminal) returned it instead
                if help_text.strip():
                    typer.echo(help_text)
                sys.exit(error.exit_code)
            where = error.ctx.command_path if error.ctx is not None else "sudoku-trm"
            print_error(f"{error.format_message()} (see '{where} --help')")
            sys.exit(USAGE_EXIT_CODE)
        except click.ClickException as error:
            print_error(error.format_message())
            sys.exit(error.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
