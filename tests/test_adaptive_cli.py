"""Adaptive solving in the commands: `solve`/`eval --effort/--budget`, their reports beside the model's own
figure, the live view's stage line, and misuse. On the committed fixture model (tests/fixtures/solver_model,
step limit 4), whose puzzles have known roles: the first eleven are right at once, the twelfth halts wrong at
step 1 and is right one step later, the last two (50 blanks) it never solves."""

from __future__ import annotations

import io
import json
import re

import pytest
from conftest import ROOT
from rich.console import Console
from rich.live import Live
from typer.testing import CliRunner

from sudoku_trm.cli import live as cli_live
from sudoku_trm.cli import solve as cli_solve
from sudoku_trm.cli.app import app

runner = CliRunner()
PUZZLES = ROOT / "tests" / "fixtures" / "solver_puzzles.csv"
MORE_STEPS, NEVER = 11, 12  # rows of PUZZLES (0-based): right only after the model stopped; never right
DEFAULT_WORK = 2 * 4 + 8 * 4  # the default preset at step limit 4: own chain to 8, then 8 copies of 4


def rows(*indices: int, tmp_path) -> str:
    lines = PUZZLES.read_text().splitlines()
    path = tmp_path / "some.csv"
    path.write_text("\n".join([lines[0]] + [lines[i + 1] for i in indices]) + "\n")
    return str(path)


def invoke(*args: str):
    return runner.invoke(app, [*args, "--weights", str(PUZZLES.parent / "solver_model")])


def test_solve_json_reports_each_answers_stage_and_cost(tmp_path):
    result = invoke("solve", rows(0, MORE_STEPS, NEVER, tmp_path=tmp_path), "--effort", "default", "--json")
    assert result.exit_code == 3, result.output  # NEVER's answer breaks the rules
    first, rescued, never = (json.loads(line)["adaptive"] for line in result.stdout.splitlines())
    assert first | {"found_by": None} == {
        "stage": "model",
        "chain": 0,
        "found_step": 1,
        "found_by": None,
        "model_steps": 1,
        "chains": 1,
        "budget": DEFAULT_WORK,
        "single_pass_valid": True,
    }
    assert rescued["stage"] == "steps" and rescued["found_step"] == 2 and rescued["model_steps"] == 2
    assert rescued["single_pass_valid"] is False  # the model alone halted on a wrong answer
    assert never["stage"] == "unsolved" and never["model_steps"] == DEFAULT_WORK and never["chains"] == 9


def test_eval_reports_the_model_alone_beside_adaptive_solving(tmp_path):
    path = rows(0, 1, MORE_STEPS, NEVER, tmp_path=tmp_path)
    alone = json.loads(invoke("eval", path, "--json").stdout)["total"]
    result = invoke("eval", path, "--json", "--budget", "24")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    total = report["total"]
    assert report["effort"] == "default" and report["budget"] == 24
    assert total["adaptive"]["single_grid_accuracy"] == pytest.approx(alone["grid_accuracy"]) == 0.5
    assert total["adaptive"] == {"single_grid_accuracy": 0.5, "rescued": 1, "spoiled": 0}
    assert total["grid_accuracy"] == pytest.approx(0.75)
    assert total["max_steps"] == 24 and total["mean_steps"] == pytest.approx((1 + 1 + 2 + 24) / 4)
    table = invoke("eval", path, "--effort", "fast").stdout
    assert "adaptive: own chain 8 steps; at most 8 model steps a puzzle" in table and "alone" in table


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--effort", "default", "--votes", "4"], "without --steps and --votes"),
        (["--budget", "20", "--steps", "2"], "without --steps and --votes"),
        (["--effort", "default", "--trace"], "watch it live"),
        (["--effort", "hard"], "must be one of auto, off, commit, search, fast, default, thorough"),
    ],
)
def test_misuse_is_bad_usage(tmp_path, extra, message):
    result = invoke("solve", rows(0, tmp_path=tmp_path), *extra)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_a_budget_below_the_model_is_one_line_and_exit_1(tmp_path):
    result = invoke("solve", rows(0, tmp_path=tmp_path), "--effort", "default", "--budget", "3")
    assert result.exit_code == 1
    assert "less than the model's own run (4 steps)" in result.output


@pytest.fixture
def frames(monkeypatch):
    shown: list[str] = []

    class RecordingLive(Live):
        def update(self, renderable, *, refresh=False):
            console = Console(file=io.StringIO(), width=160, color_system=None)
            console.print(renderable)
            shown.append(console.file.getvalue())
            super().update(renderable, refresh=refresh)

    monkeypatch.setattr(cli_live, "Live", RecordingLive)
    return shown


def watch(path: str, code: int = 0) -> str:
    out = Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)
    options = cli_solve.SolveOptions(weights=PUZZLES.parent / "solver_model", delay=0.0, effort="default", animate=True)
    assert cli_solve.run(path, options, out, Console(file=io.StringIO())) == code
    return out.file.getvalue()


def status(frame: str) -> str:
    return frame.strip().splitlines()[-1]


def test_the_live_view_shows_more_steps_and_the_moment_a_valid_answer_is_found(tmp_path, frames):
    shown = watch(rows(MORE_STEPS, tmp_path=tmp_path))
    lines = [status(f) for f in frames if re.search(r"step [1-9]", status(f))]
    assert lines[0].startswith("step 1/8") and "-> halt" in lines[0]
    assert lines[1].startswith("step 2/8 (after the model stopped)") and "valid answer: done" in lines[1]
    assert len(lines) == 2
    assert "found by more steps of its own chain, at step 2" in shown and "valid solution" in shown


def test_the_live_view_names_steps_beyond_training_then_the_copies(tmp_path, frames):
    shown = watch(rows(NEVER, tmp_path=tmp_path), code=3)  # no valid answer: exit 3
    lines = [status(f) for f in frames if re.search(r"step [1-9]", status(f))]
    assert [line.split()[1] for line in lines[:8]] == [f"{k}/8" for k in range(1, 9)]
    assert all("(beyond training)" in line for line in lines[4:8])
    assert not any("beyond" in line for line in lines[:4])
    copies = lines[8:]
    assert len(copies) == 4 and all(re.match(r"copy [1-8] of 8, step \d/4", line) for line in copies)
    assert "chain ends" in copies[-1]
    assert "no valid answer within the budget" in shown and "40 model steps" in shown


def test_eval_sweep_reports_every_budget_beside_the_model_alone(tmp_path):
    path = rows(0, MORE_STEPS, NEVER, tmp_path=tmp_path)
    result = invoke("eval", path, "--sweep", "--sweep-budgets", "1,4", "--json")
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)["points"]
    assert [p["budget"] for p in points] == [4, 16]
    assert [p["exact"] for p in points] == pytest.approx([2 / 3, 2 / 3])
    assert all(p["single_pass_exact"] == pytest.approx(1 / 3) for p in points)
    assert points[1]["max_steps"] == 16 and points[0]["max_steps"] == 4


@pytest.mark.parametrize(
    "extra",
    [["--sweep", "--effort", "fast"], ["--sweep", "--votes", "2"], ["--plot", "x.png"], ["--sweep-budgets", "1,2"]],
)
def test_eval_sweep_misuse_is_bad_usage(tmp_path, extra):
    result = invoke("eval", rows(0, tmp_path=tmp_path), *extra)
    assert result.exit_code == 2, result.output
    assert "--sweep" in " ".join(result.output.replace("│", " ").split())
