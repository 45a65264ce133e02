"""`eval --sweep` (cli/sweep.py): accuracy against compute on the committed fixture model, which really solves
easy puzzles (its step limit H is 4), its table, JSON and plot."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections import Counter
from dataclasses import replace

import pytest
import torch
from rich.console import Console

from sudoku_trm.cli import sweep
from sudoku_trm.cli.eval import EvalOptions
from sudoku_trm.errors import UserError
from sudoku_trm.inference.adaptive import Stage, preset, solve_adaptive
from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

HORIZON = 4  # the fixture model's step limit
MULTIPLES = (1, 2, 4, 16)  # 16H: past the own chain's 4H, so symmetric copies run too


def console() -> Console:
    """As the command's consoles are off a terminal: lines never wrapped."""
    return Console(file=io.StringIO(), width=240, soft_wrap=True)


@pytest.fixture(scope="module")
def model(solver_weights):
    torch.set_num_threads(1)
    return load_weights(solver_weights, torch.device("cpu"))


@pytest.fixture(scope="module")
def sample(solver_weights):
    return load_puzzle_set(str(solver_weights.parent / "solver_puzzles.csv"), cache_dir=None)


@pytest.fixture(scope="module")
def points(model, sample):
    return sweep.run_sweep(model, sample, sweep.budgets_for(HORIZON, MULTIPLES), InferenceConfig(), seed=0)


def test_budgets_are_multiples_of_the_step_limit():
    assert sweep.budgets_for(4) == [4, 8, 16, 32, 64, 128]
    assert sweep.budgets_for(16, (1, 3)) == [16, 48]


def test_the_spend_stays_within_each_budget_and_accuracy_only_grows(points, sample):
    assert [p.budget for p in points] == [HORIZON * m for m in MULTIPLES]
    assert all(p.puzzles == len(sample) and p.horizon == HORIZON for p in points)
    assert all(p.mean_steps <= p.max_steps <= p.budget for p in points)
    # The same first stage at every budget: a larger one can only add valid (here: right) answers.
    exact = [p.exact for p in points]
    assert exact == sorted(exact)
    assert points[-1].mean_steps > points[0].mean_steps


def test_the_single_pass_figure_is_the_plain_engines_at_every_budget(points, model, sample):
    plain = solve(model, sample.questions)
    alone = float((plain.answers == sample.answers).all(1).mean())
    assert all(p.single_pass_exact == alone for p in points)
    assert points[0].exact > alone  # this set: the exact check on every step already rescues a puzzle at H


def test_stage_counts_are_what_the_adaptive_run_found(points, model, sample):
    first = points[0]
    assert first.budget == HORIZON
    assert first.solved_by["copies"] == first.solved_by["restarts"] == 0  # a budget of H: the model alone
    for point in points:  # unique puzzles: an answer is right exactly when it is valid
        assert sum(point.solved_by.values()) == round(point.exact * point.puzzles)
    widest = points[-1]  # 16H: the thorough plan's own chain (4H), then its copies
    result = solve_adaptive(model, sample.questions, replace(preset("thorough", HORIZON), work=widest.budget))
    found = Counter(Stage(int(s)).label for s in result.stage)
    assert widest.solved_by == {stage: found[stage] for stage in ("model", "steps", "copies", "restarts")}
    assert widest.solved_by["copies"] > 0  # on this set a copy rescues a puzzle the own chain could not


def test_json_has_one_record_per_file_and_budget(points):
    document = json.loads(json.dumps(sweep.sweep_json(points + points)))
    assert document["plan"] == sweep.SWEEP_PLAN
    records = document["points"]
    assert len(records) == 2 * len(points)
    for record, point in zip(records, points + points):
        assert record["file"] == point.file and record["budget"] == point.budget
        assert record["exact"] == point.exact and record["single_pass_exact"] == point.single_pass_exact
        assert record["mean_steps"] == point.mean_steps and record["max_steps"] == point.max_steps
        assert record["solved_by"] == point.solved_by and record["seconds"] == point.seconds


def test_table_shows_each_budget_and_the_model_alone(points):
    out = console()
    out.print(sweep.sweep_table(points))
    text = out.file.getvalue()
    for heading in ("budget", "steps", "seconds", "exact", "model alone", "copies", "restarts", "single-pass"):
        assert heading in text
    for point in points:
        assert f"{point.budget // HORIZON}H ({point.budget})" in text
        assert f"{point.mean_steps:.1f} ({point.max_steps})" in text


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_gets_every_file_name_whole_and_no_line_too_long(points, width):
    long_name = [dataclasses.replace(p, file="/home/someone/sudoku/collections/" + p.file) for p in points]
    out = Console(file=io.StringIO(), width=width)
    sweep.print_sweep(out, long_name)
    text = out.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width and "…" not in text
    assert text.count(long_name[0].file) == 1  # the name once, on a line of its own, never folded
    for point in long_name:
        assert f"{point.budget // HORIZON}H ({point.budget})" in text
        assert f"{point.mean_steps:.1f} ({point.max_steps})" in text
        assert f"{point.exact:.1%}" in text


def test_a_wide_terminal_keeps_the_one_table(points):
    out = Console(file=io.StringIO(), width=240)
    sweep.print_sweep(out, points)
    assert "┃ file" in out.file.getvalue()


def test_the_plot_is_a_png(points, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    sweep.save_plot(points, path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_the_plot_without_matplotlib_is_a_one_line_error(points, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # an import of it now fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(UserError, match=r"^--plot needs matplotlib: pip install 'sudoku-trm\[plot\]'$"):
        sweep.save_plot(points, tmp_path / "sweep.png")
    assert not (tmp_path / "sweep.png").exists()
    with pytest.raises(UserError, match="--plot needs matplotlib"):  # before any file is read or model loaded
        sweep.run(["unused.csv"], EvalOptions(), (1,), tmp_path / "sweep.png", console(), console())


def test_the_command_reports_bad_files_and_sweeps_the_rest(solver_weights, tmp_path):
    pytest.importorskip("matplotlib")
    out, err = console(), console()
    good = str(solver_weights.parent / "solver_puzzles.csv")
    options = EvalOptions(weights=solver_weights, device="cpu", limit=5, as_json=True)
    plot = tmp_path / "sweep.png"
    code = sweep.run([good, str(tmp_path / "missing.csv")], options, (2, 1), plot, out, err)
    assert code == 1
    document = json.loads(out.file.getvalue())
    assert [(p["file"], p["budget"], p["puzzles"]) for p in document["points"]] == [(good, 4, 5), (good, 8, 5)]
    assert document["errors"] == [f"{tmp_path / 'missing.csv'}: no such file"]
    lines = err.file.getvalue().splitlines()
    assert lines[0] == f"error: {tmp_path / 'missing.csv'}: no such file"
    assert [line.startswith(f"sweep {good}: budget {m}H ({4 * m})") for m, line in zip((1, 2), lines[1:3])] == [
        True,
        True,
    ]
    assert lines[-1] == f"saved the plot to {plot}" and plot.stat().st_size > 0


@pytest.mark.parametrize(
    "options, budgets, message",
    [
        (EvalOptions(steps=3), (1,), "--steps does not apply"),
        (EvalOptions(votes=3), (1,), "--votes does not apply"),
        (EvalOptions(effort="fast"), (1,), "--effort and --budget do not apply"),
        (EvalOptions(budget=8), (1,), "--effort and --budget do not apply"),
        (EvalOptions(), (0, 1), "each at least 1"),
    ],
)
def test_options_the_sweep_cannot_honour_are_refused(options, budgets, message):
    with pytest.raises(UserError, match=message):
        sweep.run(["unused.csv"], options, budgets, None, console(), console())


def test_no_puzzles_at_all_is_an_error(tmp_path):
    err = console()
    with pytest.raises(UserError, match="no puzzles to evaluate"):
        sweep.run([str(tmp_path / "missing.csv")], EvalOptions(), (1,), None, console(), err)
    assert "no such file" in err.file.getvalue()
