"""How the commands present their options and usage errors: plain metavars (TEXT, INTEGER, PATH, or
the choices themselves, never a Python type name), fixed value sets checked as choices, and a usage
error as one line on stderr (`error: ...`, exit 2), like every other error of the program.

`TidyGroup` is the app's Typer group class: when Typer builds the click commands, it walks every
command's parameters once; `CHOICES` names the value sets by option, from the modules that own them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

try:  # Typer 0.29 carries its own copy of click, whose exceptions its commands raise
    from typer._click import exceptions as click  # type: ignore[import-not-found]
except ImportError:  # earlier Typers use click itself
    from click import exceptions as click  # type: ignore[no-redef]

from sudoku_trm.cli.model_options import DEVICE_NAMES
from sudoku_trm.cli.terminal import print_error
from sudoku_trm.inference.settings import EFFORTS
from sudoku_trm.model.config import MIXERS, MLPS
from sudoku_trm.sudoku.puzzles import FORMATS
from sudoku_trm.training.config import LOSSES, LR_SCHEDULES, OPTIMIZERS, PENDING, TARGETS, Curriculum
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
    "--difficulty": ("singles", "logic", "guesses"),  # sudoku/logic.py LEVELS (not imported here: numba)
    "--format": FORMATS,
}
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
    for param in command.params:
        flag = bool(getattr(param, "is_flag", False))
        argument = param.param_type_name == "argument"
        choices = next((CHOICES[o] for o in param.opts if o in CHOICES), None)
        if choices is not None:
            param.metavar = "|".join(choices)
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
            if type(error).__name__ == "NoArgsIsHelpError":  # the help itself, printed already
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
