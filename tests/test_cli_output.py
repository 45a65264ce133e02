"""Output that a newcomer reads (issue 30, items 6-8): help and eval's tables that fit an 80-column
terminal, honest per-puzzle figures in solve, and bad lines accounted for in machine output."""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import typer
from conftest import PUZZLES
from rich.console import Console
from typer.testing import CliRunner

from sudoku_trm.cli.app import app

runner = CliRunner()
WIDTHS = (80, 120)


def _commands(command=None, path=()):
    """Every command and group of the app, by its words after `sudoku-trm`."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = [path for path, _ in _commands()]


def _help(path: tuple[str, ...], width: int) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": str(width), "TERMINAL_WIDTH": None})
    assert result.exit_code == 0, result.output
    return result.stdout


# -- item 6: help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "root")
def test_help_cuts_nothing_and_fits_the_terminal(path, width):
    text = _help(path, width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for option in re.findall(r"--[a-z][a-z0-9-]*", text):  # every option named in full, never folded
        assert not option.endswith("-"), option


def test_every_option_has_help():
    for path, command in _commands():
        for param in command.params:
            if param.param_type_name == "option":
                assert (param.help or "").strip(), f"sudoku-trm {' '.join(path)} {param.opts[0]} has no help"


@pytest.mark.parametrize("width", WIDTHS)
def test_no_help_says_path(width):
    for path in COMMANDS:
        assert not re.search(r"\bPATH\b", _help(path, width)), path  # every path option says FILE or DIR


def test_path_metavars_say_file_or_dir():
    metavars = {
        (" ".join(path), option): param.metavar
        for path, command in _commands()
        for param in command.params
        for option in param.opts
    }
    expected = {
        ("train", "--runs-dir"): "DIR",
        ("train", "--export"): "DIR",
        ("train", "--init-from"): "DIR",
        ("train", "--data"): "FILE",
        ("solve", "--weights"): "DIR",
        ("eval", "--weights"): "DIR",
        ("solve", "--svg"): "FILE",
        ("solve", "--output"): "FILE",
        ("eval", "--plot"): "FILE",
        ("download weights", "--dir"): "DIR",
        ("download data", "--dir"): "DIR",
    }
    assert {key: metavars[key] for key in expected} == expected


def test_eval_effort_has_its_own_help():
    words = " ".join(_help(("eval",), 80).split())
    effort = words.split("--effort", 1)[1].split("--commit-threshold", 1)[0]
    assert "eval's default" in effort and "--trace" not in effort and "--svg" not in effort
    assert "solve's default" not in effort
    assert "solve's default" in " ".join(_help(("solve",), 80).split())


# -- item 6: eval's tables ---------------------------------------------------------------------------------

LONG_NAMES = ("sudoku-extreme-samples/the-easy-puzzles-of-the-readme.txt", "more-samples/medium.txt")


def _eval_text(weights, names, width: int, effort: str) -> str:
    from sudoku_trm.cli import eval as cli_eval
    from sudoku_trm.cli.model_options import ModelOptions

    for name, source in zip(names, ("easy.txt", "medium.txt")):  # the cwd is the test's own directory
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text((PUZZLES / source).read_text())
    model = ModelOptions(weights=weights, effort=effort, budget=2 if effort == "search" else None)
    options = cli_eval.EvalOptions(**asdict(model.resolved(False)))
    out = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    assert cli_eval.run(list(names), options, out, Console(file=io.StringIO())) == 0
    return out.file.getvalue()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("effort", ["off", "commit", "search", "fast"])
def test_eval_keeps_every_file_name_whole_on_a_terminal(tiny_weights, width, effort):
    text = _eval_text(tiny_weights, LONG_NAMES, width, effort)
    lines = text.splitlines()
    assert "…" not in text and max(len(line) for line in lines) <= width
    for name in LONG_NAMES:  # on one line, whole, never folded over several
        assert any(name in line for line in lines), name
    assert any("total" in line for line in lines)
    for header in ("exact", "precision", "puzzles/s") + (("alone",) if effort != "off" else ()):
        assert header in text


def test_eval_keeps_one_row_per_file_where_it_fits(tiny_weights):
    text = _eval_text(tiny_weights, ("a.txt", "b.txt"), 120, "off")
    row = next(line for line in text.splitlines() if "a.txt" in line)
    assert "%" in row  # the name and its figures on one row, as off a terminal


# -- item 7: honest per-puzzle figures -------------------------------------------------------------------

EASY, MEDIUM, HARD = (str(PUZZLES / name) for name in ("easy.txt", "medium.txt", "hard.txt"))
MIXED = str(PUZZLES / "mixed_with_errors.txt")
# mixed_with_errors.txt's lines in order: (line, a bad line's record) for puzzles and bad lines alike
MIXED_ORDER = [(4, False), (6, True), (7, False), (9, True), (11, True), (12, False), (14, True), (15, False)]


def _solve(*args: str, input: str | None = None):
    return runner.invoke(app, ["solve", *args], input=input)


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_batched_puzzle_shows_its_share_of_the_batch_time(tiny_weights):
    records = _records(_solve(EASY, "--weights", str(tiny_weights), "--effort", "off", "--json").stdout)
    assert len(records) == 6 and {r["batch_puzzles"] for r in records} == {6}
    (batch,) = {r["batch_seconds"] for r in records}
    assert all(r["seconds"] == pytest.approx(batch / 6, abs=1e-5) for r in records)
    text = _solve(EASY, "--weights", str(tiny_weights), "--effort", "off").stdout
    times = re.findall(r"^\d+ steps? \(.*\), (\d+ ms.*)$", text, re.MULTILINE)
    assert len(times) == 6 and all(re.fullmatch(r"\d+ ms \(1/6 of a [\d.]+ s batch\)", t) for t in times), times


def test_a_puzzle_watched_alone_shows_its_own_time(tiny_weights, tmp_path):
    from sudoku_trm.cli import solve as cli_solve

    one = tmp_path / "one.txt"
    one.write_text(next(line for line in Path(EASY).read_text().splitlines() if line[:1].isdigit() or line[:1] == "."))
    out = Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)
    options = cli_solve.SolveOptions(weights=tiny_weights, delay=0.0, effort="off", animate=True)
    cli_solve.run(str(one), options, out, Console(file=io.StringIO()))
    outcome = re.search(r"^\d+ steps? \(.*\), (.*)$", out.file.getvalue(), re.MULTILINE)
    assert outcome is not None and re.fullmatch(r"\d+ ms", outcome[1].strip()), outcome


def test_search_counts_committed_cells_once_and_only_in_the_answer(tiny_weights):
    """The random tiny model commits wrong digits, undone by backtracks: they once counted again per call."""
    # One-cell branching (--probes 0): probes would spend the budget before a wrong commit is undone.
    result = _solve(MEDIUM, HARD, "--weights", str(tiny_weights), "--effort", "search", "--probes", "0", "--json")
    records = _records(result.stdout)
    assert len(records) == 12
    for record in records:
        blanks = record["puzzle"].count(".")
        assert 0 <= record["search"]["committed"] <= blanks, record["search"]
    assert any(r["search"]["backtracks"] for r in records)  # what used to double count happened


# -- item 7: the live view ---------------------------------------------------------------------------------


def _statuses(monkeypatch, model, puzzle, decoding) -> list[str]:
    import contextlib

    from sudoku_trm.cli import live
    from sudoku_trm.inference.engine import InferenceConfig
    from sudoku_trm.sudoku.puzzles import Puzzle

    frames = []
    monkeypatch.setattr(live.Live, "update", lambda self, renderable, refresh=False: frames.append(renderable))
    out = Console(file=io.StringIO(), force_terminal=True, width=120)
    no_threads = lambda m, n: contextlib.nullcontext()  # noqa: E731
    live.watch(out, Puzzle(puzzle, None, "<test>", 1), lambda: model, InferenceConfig, 0.0, no_threads, None, decoding)
    statuses = []
    for frame in frames:
        console = Console(file=io.StringIO(), width=200, color_system=None)
        console.print(frame)
        statuses.append(console.file.getvalue().strip().splitlines()[-1])
    return statuses


def test_the_live_view_names_search_depth_and_recursion_apart(monkeypatch):
    from scripted_models import Scripted, first_wave

    from sudoku_trm.inference.search import SearchConfig
    from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

    puzzle = load_puzzle_set(MEDIUM).questions[0]
    # Without logic between calls, which would solve this medium puzzle before a second call.
    statuses = _statuses(monkeypatch, Scripted(first_wave), puzzle, lambda: SearchConfig(budget=50, logic=False))
    assert any("search depth" in s for s in statuses) and any("recursion (3,6)" in s for s in statuses)
    assert not any(re.search(r"(?<!search )depth", s) for s in statuses), statuses
    # Past the first call only a call's last step is drawn: said as the steps it ran (this model halts at
    # its first of 2), never as `step 2/2` on every call.
    later = [s for s in statuses if re.match(r"call ([2-9]|\d\d)\b", s) and "halt p=" in s]
    assert later and all(re.match(r"call \d+, search depth \d+: ran 1/2 step ", s) for s in later), later
    assert not any(re.match(r"call ([2-9]|\d\d)\b.*step \d+/", s) for s in statuses)


def test_the_legend_comes_before_the_first_animation(tiny_weights):
    from sudoku_trm.cli import solve as cli_solve

    out = Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)
    options = cli_solve.SolveOptions(weights=tiny_weights, delay=0.0, effort="off", animate=True)
    cli_solve.run(EASY, options, out, Console(file=io.StringIO()))
    text = out.file.getvalue()
    assert text.count("breaks a rule") == 1
    assert text.index("breaks a rule") < text.index("loading the model")


# -- item 8: bad lines in machine output, and a summary that counts them -----------------------------------


def test_check_json_has_a_record_for_every_line_in_file_order():
    result = runner.invoke(app, ["check", "no/such.txt", MIXED, "-", "--json"], input=Path(EASY).read_text())
    assert result.exit_code == 1
    records = _records(result.stdout)
    assert records[0] == {"file": "no/such.txt", "line": None, "error": "no such file"}
    assert [(r["line"], "error" in r) for r in records if r["file"] == MIXED] == MIXED_ORDER
    assert [r["file"] for r in records[-6:]] == ["<stdin>"] * 6 and "error" not in records[-1]


def test_a_file_given_twice_is_reported_twice_in_order():
    records = _records(runner.invoke(app, ["check", MIXED, MIXED, "--json"]).stdout)
    assert [(r["line"], "error" in r) for r in records] == MIXED_ORDER * 2


def test_solve_json_puts_bad_lines_among_the_answers(tiny_weights):
    records = _records(_solve(MIXED, EASY, "--weights", str(tiny_weights), "--effort", "off", "--json").stdout)
    assert [(r["line"], "error" in r) for r in records[:8]] == MIXED_ORDER and len(records) == 8 + 6
    assert records[1] == {"file": MIXED, "line": 6, "error": "expected 81 cells, found 80"}


@pytest.mark.parametrize("effort", ["off", "search"])
def test_the_summary_counts_bad_lines(tiny_weights, effort):
    summary = _solve(MIXED, "--weights", str(tiny_weights), "--effort", effort).stdout.strip().splitlines()[-1]
    assert "; 4 bad lines skipped;" in summary, summary
    if effort == "off":
        assert summary.startswith("4 puzzles: 0 valid, 4 break the rules; 4 bad lines skipped; mean ")


def test_one_puzzle_gets_a_summary_too(tiny_weights):
    line = next(line for line in Path(EASY).read_text().splitlines() if line[:1].isdigit() or line[:1] == ".")
    summary = _solve("-", "--weights", str(tiny_weights), "--effort", "off", input=line + "\n").stdout
    assert summary.strip().splitlines()[-1].startswith("1 puzzle: ")


def test_the_summary_counts_valid_and_broken_answers_votes_and_speed(solver_weights, monkeypatch):
    """Every figure of solve's last line, against the lines above it and a faked model time."""
    from sudoku_trm.inference import voting

    real = voting.solve_with_votes

    def timed(*args, **kwargs):
        result = real(*args, **kwargs)
        result.solutions.seconds = 0.5
        return result

    monkeypatch.setattr(voting, "solve_with_votes", timed)
    args = ["solve", str(PUZZLES / "medium.txt"), "--weights", str(solver_weights)]
    out = runner.invoke(app, [*args, "--effort", "off", "--votes", "2"]).stdout.strip().splitlines()
    valid, broken = (
        sum(line == "valid solution" for line in out),
        sum(line.startswith("breaks the rules") for line in out),
    )
    assert valid + broken == 6 and broken > 0
    assert out[-1] == (
        f"6 puzzles: {valid} valid, {broken} break{'s' if broken == 1 else ''} the rules; mean "
        + out[-1].split("mean ")[1].split(";")[0]
        + "; 0.5 s of model work, 12.0 puzzles/s (2 votes each)"
    )
