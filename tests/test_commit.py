"""Commit decoding (inference/commit.py) on scripted stand-in models whose every answer and confidence is
known, and through `eval --effort commit`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import PUZZLES
from scripted_models import Scripted, always_right, drain, first_wave
from typer.testing import CliRunner

from sudoku_trm.cli import app
from sudoku_trm.inference.commit import CommitConfig, commit_steps, solve_committed, sure_cells
from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.sudoku.grid import CELLS, has_conflicts, valid_solutions
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set


@pytest.fixture(scope="module")
def easy():
    return load_puzzle_set(PUZZLES / "easy.txt")


def test_commit_decoding_finishes_what_the_single_pass_does_not(easy):
    model = Scripted(first_wave)
    alone = solve(model, easy.questions)
    result = solve_committed(model, easy.questions)
    assert not valid_solutions(easy.questions, alone.answers).any()
    assert valid_solutions(easy.questions, result.solutions.answers).all()
    rounds, _, stall = logic_rounds(easy.questions)
    assert (result.rounds == stall).all()  # one round of commits per wave of logic, the last one solves
    assert (result.solved_round == stall).all()
    assert result.found_by() == ["commit decoding"] * len(easy)
    assert (result.committed == ((rounds > 0) & (rounds < stall[:, None])).sum(1)).all()
    assert (result.solutions.steps == result.rounds).all()  # one step a round: the head halts at once
    assert (result.single.answers == alone.answers).all()
    assert (result.solutions.puzzles == easy.questions).all()


def test_a_sure_answer_right_at_once_is_the_model_alone(easy):
    model = Scripted(always_right)
    result = solve_committed(model, easy.questions)
    assert result.found_by() == ["model alone"] * len(easy)
    assert (result.rounds == 1).all() and (result.committed == 0).all()
    assert model.rows_run == len(easy)


def confidently_wrong(grids: torch.Tensor):
    """Every blank filled with 1, all sure: commits must never break a rule."""
    return torch.where(grids > 0, grids, 1), torch.ones(grids.shape, dtype=torch.bool)


def test_commits_never_break_a_rule(easy):
    grids = easy.questions
    answers = np.where(grids > 0, grids, 1)
    sure = sure_cells(grids, answers, np.ones(grids.shape, np.float32), 0.9)
    # Every row, column and box with a 1 already given commits none; two blanks sharing a unit both lose.
    committed = np.where(sure, answers, grids)
    assert not has_conflicts(committed).any()
    result = solve_committed(Scripted(confidently_wrong), grids)
    assert (result.solved_round == 0).all() and result.found_by() == ["unsolved"] * len(easy)
    assert (result.rounds <= 2).all()  # nothing new is sure after the first commits


def test_sure_cells_keep_only_blanks_above_the_threshold_without_clashes():
    grid = np.zeros((1, CELLS), dtype=np.uint8)
    grid[0, 0] = 5  # r1c1 = 5
    answers = np.zeros((1, CELLS), dtype=np.uint8)
    confidence = np.zeros((1, CELLS), dtype=np.float32)
    answers[0, 1], confidence[0, 1] = 5, 0.99  # r1c2 = 5 clashes with the given: refused
    answers[0, 30], confidence[0, 30] = 7, 0.99  # r4c4 = 7 and r4c9 = 7 clash with each other: both refused
    answers[0, 35], confidence[0, 35] = 7, 0.99
    answers[0, 80], confidence[0, 80] = 3, 0.95  # r9c9 = 3: committed
    answers[0, 79], confidence[0, 79] = 4, 0.5  # unsure: not committed
    answers[0, 0], confidence[0, 0] = 6, 0.99  # a given is never a candidate
    sure = sure_cells(grid, answers, confidence, 0.9)
    assert np.flatnonzero(sure[0]).tolist() == [80]


def test_the_round_limit_and_events(easy):
    model = Scripted(first_wave)
    events, result = drain(
        commit_steps(model, easy.questions, CommitConfig(max_rounds=2), InferenceConfig(batch_size=4))
    )
    assert (result.rounds <= 2).all()
    commits = [e for e in events if type(e).__name__ == "Committed"]
    assert [c.round for c in commits] == [1, 2]
    assert not commits[-1].again.any()
    steps = [e for e in events if type(e).__name__ == "RoundStep"]
    assert {tuple(s.rows) for s in steps if s.round == 1} == {(0, 1, 2, 3), (4, 5)}  # batches of 4


def test_bad_settings_are_refused_and_the_edges_accepted():
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\], got 0.0"):
        CommitConfig(threshold=0.0)
    with pytest.raises(ValueError, match="threshold"):
        CommitConfig(threshold=1.5)
    with pytest.raises(ValueError, match="max_rounds must be at least 1, got 0"):
        CommitConfig(max_rounds=0)
    edges = CommitConfig(threshold=1.0, max_rounds=1)  # commit only certainties; the model alone
    assert (edges.threshold, edges.max_rounds) == (1.0, 1)


def test_a_cell_exactly_at_the_threshold_is_sure():
    grid = np.zeros((1, CELLS), dtype=np.uint8)
    answers = np.zeros((1, CELLS), dtype=np.uint8)
    confidence = np.zeros((1, CELLS), dtype=np.float32)
    answers[0, 40], confidence[0, 40] = 2, 0.75  # exactly representable, so == is exact
    assert sure_cells(grid, answers, confidence, 0.75)[0, 40]
    assert not sure_cells(grid, answers, confidence, 0.875)[0, 40]


def test_eval_effort_commit_reports_the_model_alone_beside(solver_weights):
    result = CliRunner().invoke(
        app,
        ["eval", str(PUZZLES / "easy.txt"), "--weights", str(solver_weights), "--effort", "commit", "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["effort"] == "commit"
    figures = document["files"][0]
    assert set(figures["commit"]) == {"single_grid_accuracy", "rescued", "spoiled"}
    assert figures["grid_accuracy"] >= figures["commit"]["single_grid_accuracy"] - 1e-9


@pytest.mark.parametrize(
    "flags",
    [["--effort", "commit", "--steps", "3"], ["--effort", "commit", "--budget", "4"], ["--commit-threshold", "0"]],
)
def test_misuse_of_commit_is_bad_usage(flags, solver_weights):
    result = CliRunner().invoke(app, ["eval", str(PUZZLES / "easy.txt"), "--weights", str(solver_weights), *flags])
    assert result.exit_code == 2
