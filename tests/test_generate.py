"""Puzzle generation (sudoku/generate.py, `sudoku-trm generate`): unique puzzles that `check` grades at the
level asked, repeatable by seed, in the forms the other commands read."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import sudoku_trm.cli.generate as cli_generate
from sudoku_trm.cli.app import app
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.checking import check_files
from sudoku_trm.sudoku.generate import generate, random_grid
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.logic import LEVELS, levels, logic_rounds
from sudoku_trm.sudoku.puzzles import format_line, parse_text, write_puzzles

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
        (["-n", "0"], "--count"),
    ],
)
def test_bad_generate_options_are_one_line_and_exit_2(args, named):
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr and "Traceback" not in result.output


def test_the_help_names_the_levels_logic_grades():
    from sudoku_trm.cli.usage import CHOICES

    assert CHOICES["--difficulty"] == LEVELS


# -- streaming: each puzzle out as it is made ---------------------------------------------------------


@pytest.mark.parametrize("fmt, answers", [("line", False), ("line", True), ("grid", False), ("csv", True)])
def test_streamed_output_is_the_file_write_puzzles_writes(fmt, answers):
    made = list(generate(3, "singles", seed=4))
    expected = io.StringIO()
    write_puzzles(expected, [m.puzzle for m in made], [m.solution for m in made] if answers else None, fmt=fmt)
    args = ["generate", "-n", "3", "--seed", "4", "--format", fmt] + (["--answers"] if answers else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and result.stdout == expected.getvalue()


def test_each_puzzle_is_written_before_the_next_is_made(monkeypatch):
    out = io.StringIO()
    seen_before_second: list[str] = []
    made = list(generate(2, "singles", seed=1))

    def slow_generate(count, level, seed):
        yield made[0]
        seen_before_second.append(out.getvalue())  # what a reader has by the time the second is being made
        yield made[1]

    monkeypatch.setattr(cli_generate, "generate", slow_generate)

    class Out:
        file = out
        is_terminal = False

    cli_generate.run(2, "singles", 1, "line", False, False, Out())  # type: ignore[arg-type]
    assert seen_before_second == [format_line(made[0].puzzle) + "\n"]
    assert out.getvalue().splitlines() == [format_line(m.puzzle) for m in made]


def test_a_reader_that_stops_early_ends_a_long_run_at_once():
    """`generate -n 100000 | head -1`: the next write meets the closed pipe and the command ends quietly.
    The timeout only catches a run that goes on making puzzles nobody reads (minutes)."""
    command = [sys.executable, "-m", "sudoku_trm", "generate", "-n", "100000", "--seed", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        process.stdout.close()  # type: ignore[union-attr]
        assert process.wait(timeout=120) != 0
        assert len(first.strip()) == 81 and "Traceback" not in process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()


@pytest.mark.parametrize("args", [["generate", "-n", "2", "--seed", "1"], ["check", "PUZZLES/easy.txt"]])
def test_check_and_generate_never_import_torch(args):
    """Importing torch takes seconds; the exact solver and the generator need none of it."""
    from conftest import PUZZLES

    args = [a.replace("PUZZLES", str(PUZZLES)) for a in args]
    probe = (
        "import sys; from sudoku_trm.cli import main; sys.argv = ['sudoku-trm', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('torch imported' if 'torch' in sys.modules else 'no torch')"
    )
    result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
    assert result.stderr.endswith("no torch"), result.stderr[-500:]


# -- edges that mutmut found unpinned (tests/MUTATION.md, session 6) ------------------------------------------


def test_box_cells_are_each_boxs_nine_cells():
    from sudoku_trm.sudoku.generate import box_cells
    from sudoku_trm.sudoku.grid import UNITS

    boxes = [sorted(unit) for unit in UNITS if len({c // 9 for c in unit}) == 3 and len({c % 9 for c in unit}) == 3]
    assert [sorted(box_cells(b).tolist()) for b in range(9)] == [sorted(map(int, box)) for box in boxes]


def test_generated_sources_accept_their_smallest_count_and_seed_and_say_what_is_wrong():
    from sudoku_trm.sudoku.generate import GeneratedSource, generated_source

    assert generated_source("generated:singles:1") == GeneratedSource("singles", 1, 0)
    assert generated_source("generated:guesses:5:0") == GeneratedSource("guesses", 5, 0)
    assert generated_source("hard.csv") is None
    with pytest.raises(ValueError) as caught:
        generated_source("generated:easy:5")
    assert str(caught.value) == (
        "generated:easy:5: expected generated:LEVEL:COUNT[:SEED], LEVEL one of singles, logic, guesses"
    )
    for bad in ("generated:logic:0", "generated:logic:3:-1"):
        with pytest.raises(ValueError, match="COUNT must be >= 1 and SEED >= 0"):
            generated_source(bad)


def test_without_a_seed_each_call_draws_afresh():
    first = [g.puzzle.tobytes() for g in generate(2, "singles")]
    second = [g.puzzle.tobytes() for g in generate(2, "singles")]
    assert first != second  # two unseeded draws of 2 puzzles: the same pair by chance is all but impossible


def test_a_complete_grid_is_solved_by_logic_in_no_round():
    grid = solver.solve(np.zeros(81, dtype=np.uint8))
    rounds, solved, stall = logic_rounds(grid[None])
    assert solved.tolist() == [True] and stall.tolist() == [0] and (rounds == 0).all()
    assert rounds.dtype == np.uint8 and stall.dtype == np.int64
    assert levels(grid[None]) == ["singles"]
