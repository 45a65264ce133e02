"""Puzzle generation (sudoku/generate.py, `sudoku-trm generate`): unique puzzles that `check` grades at the
level asked, repeatable by seed, in the forms the other commands read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.checking import check_files
from sudoku_trm.sudoku.generate import generate, random_grid
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.logic import LEVELS, levels, logic_rounds
from sudoku_trm.sudoku.puzzles import format_line, parse_text

runner = CliRunner()


def test_random_grids_are_complete_valid_and_differ():
    rng = np.random.default_rng(0)
    grids = np.stack([random_grid(rng) for _ in range(20)])
    assert (grids > 0).all() and valid_solutions(np.zeros_like(grids), grids).all()
    assert len({g.tobytes() for g in grids}) == 20


@pytest.mark.parametrize("level", LEVELS)
def test_generated_puzzles_are_unique_solved_by_their_solution_and_graded_as_their_level(level, tmp_path):
    made = list(generate(20, level, seed=3))
    puzzles = np.stack([m.puzzle for m in made])
    solutions, counts, _ = solver.analyse_batch(puzzles)
    assert (counts == 1).all()
    assert all(np.array_equal(s, m.solution) for s, m in zip(solutions, made))
    assert ((puzzles == 0) | (puzzles == solutions)).all()
    assert levels(puzzles) == [level] * 20 and all(m.level == level for m in made)
    # `check` grades the written file the same way.
    path = tmp_path / "made.txt"
    path.write_text("".join(f"{''.join(map(str, p))}\n" for p in puzzles))
    report = check_files([str(path)])
    assert report.ok and [r.level for r in report.records] == [level] * 20


def test_levels_are_told_apart_by_what_solves_them():
    singles, logic, guesses = (next(generate(1, level, seed=1)).puzzle for level in LEVELS)
    assert logic_rounds(singles[None], locked=False)[1][0]
    assert not logic_rounds(logic[None], locked=False)[1][0] and logic_rounds(logic[None])[1][0]
    assert not logic_rounds(guesses[None])[1][0] and solver.analyse(guesses).guesses > 0


def test_the_same_seed_gives_the_same_puzzles_and_a_longer_run_extends_a_shorter_one():
    first = [m.puzzle for m in generate(3, "logic", seed=11)]
    again = [m.puzzle for m in generate(5, "logic", seed=11)]
    other = [m.puzzle for m in generate(3, "logic", seed=12)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other))


def test_generate_writes_line_form_by_default_and_json_on_request():
    result = runner.invoke(app, ["generate", "--count", "4", "--difficulty", "singles", "--seed", "2"])
    assert result.exit_code == 0, result.output
    read = parse_text(result.stdout)
    assert len(read.puzzles) == 4 and not read.errors
    again = runner.invoke(app, ["generate", "--count", "4", "--difficulty", "singles", "--seed", "2"])
    assert again.stdout == result.stdout
    records = [
        json.loads(line)
        for line in runner.invoke(app, ["generate", "-n", "2", "--seed", "2", "--json"]).stdout.splitlines()
    ]
    assert [r["level"] for r in records] == ["singles", "singles"] and records[0]["puzzle"] == format_line(
        read.puzzles[0].grid
    )


@pytest.mark.parametrize(
    "args, named",
    [
        (["--difficulty", "hard"], "--difficulty"),
        (["--format", "xml"], "--format"),
        (["--answers", "--format", "grid"], "--answers"),
    ],
)
def test_bad_generate_options_are_one_line_and_exit_2(args, named):
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr and "Traceback" not in result.output


def test_the_help_names_the_levels_logic_grades():
    from sudoku_trm.cli.usage import CHOICES

    assert CHOICES["--difficulty"] == LEVELS
