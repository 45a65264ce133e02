"""How the commands present themselves (cli/usage.py): no Python type names in any --help, fixed value
sets shown as choices, and a usage error as one line on stderr with exit code 2."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from sudoku_trm.cli.app import app

runner = CliRunner()
COMMANDS = [[], ["train"], ["solve"], ["eval"], ["check"], ["generate"], ["download"], ["download", "weights"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_no_help_shows_a_python_type_name(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(str|int|float|bool|path|list\[[a-z]+\]|int range|float range)>", result.stdout)


@pytest.mark.parametrize(
    "command, shown",
    [(["solve"], "auto|cpu|cuda|mps"), (["train"], "none|pdc|hsw|cgar"), (["generate"], "singles|logic|guesses")],
)
def test_fixed_value_sets_are_shown_as_choices(command, shown):
    assert shown in runner.invoke(app, [*command, "--help"], terminal_width=200).stdout


@pytest.mark.parametrize(
    "args, named",
    [
        (["solve", "--no-such-flag", "x"], "No such option: --no-such-flag"),
        (["solve"], "Missing argument"),
        (["no-such-command"], "No such command"),
        (["solve", "x", "--device", "tpu"], "--device"),
        (["generate", "--count", "many"], "--count"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, named):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr and "--help" in result.stderr
