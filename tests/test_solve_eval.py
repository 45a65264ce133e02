"""`solve` and `eval` through the CLI as a script sees them (not a terminal), with a tiny exported model."""

import io
import json
import re

import numpy as np
import pytest
from conftest import ROOT
from rich.console import Console
from typer.testing import CliRunner

from sudoku_trm.cli import solve as cli_solve
from sudoku_trm.cli.app import app
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import is_valid_solution
from sudoku_trm.sudoku.puzzles import read_puzzles

runner = CliRunner()

# Absolute, so the tests pass from any working directory; messages must show the path as given.
EASY_FILE = str(ROOT / "puzzles" / "easy.txt")
NAMED_FILE = str(ROOT / "puzzles" / "named.txt")
MIXED_FILE = str(ROOT / "puzzles" / "mixed_with_errors.txt")

UNSOLVABLE = "12345678.........9" + "." * 63  # r2c9 = 9 leaves r1c9 no digit: no conflict, no solution
SEVERAL = "8.........95.......76.........426798...571243...893165......916....3.487....1.532"  # multi_solution_200
EASY = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."
EASY_ANSWER = "123675948456982371789314562964157283517238496832496157271849635395761824648523719"


def solve_json(tiny_weights, *args, input=None):
    """solve --json with the model alone (--effort off): the random tiny model's answers break the rules."""
    args = ["solve", *args, "--weights", str(tiny_weights), "--effort", "off", "--json"]
    result = runner.invoke(app, args, input=input)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return result, records


def test_solve_prints_each_grid_with_a_checked_verdict(tiny_weights):
    result = runner.invoke(app, ["solve", EASY_FILE, "--weights", str(tiny_weights), "--effort", "off"])
    assert result.exit_code == 3, result.output  # answers that break the rules
    count = len(read_puzzles(EASY_FILE).puzzles)
    assert result.stdout.count("┌") == count  # one grid each
    verdicts = result.stdout.count("valid solution") + result.stdout.count("breaks the rules:")
    assert verdicts == count
    assert f"{count} puzzles:" in result.stdout  # the closing summary
    assert "\x1b[" not in result.stdout  # no control codes off a terminal


def test_solve_json_is_one_record_per_puzzle_and_nothing_else(tiny_weights):
    result, records = solve_json(tiny_weights, EASY_FILE)
    puzzles = read_puzzles(EASY_FILE).puzzles
    assert result.exit_code == 3
    assert [(r["file"], r["line"]) for r in records] == [(p.file, p.line) for p in puzzles]
    for record, puzzle in zip(records, puzzles):
        answer = np.array([int(c) for c in record["answer"]], dtype=np.uint8)
        given = puzzle.grid > 0
        assert np.array_equal(answer[given], puzzle.grid[given])  # givens kept
        assert record["valid"] == is_valid_solution(puzzle.grid, answer)
        solution = puzzle.answer if puzzle.answer is not None else solver.solve(puzzle.grid)  # easy.txt lists none
        assert record["correct"] is bool(np.array_equal(answer, solution))
        assert record["wrong_cells"] == int((answer != solution).sum())
        assert len(record["halt_probabilities"]) == record["steps"] <= 3
        assert record["halted"] == (record["halt_probabilities"][-1] > 0.5)
        assert record["puzzle_solutions"] == "unique"


def test_trace_shows_every_step(tiny_weights, tmp_path):
    puzzle = tmp_path / "one.txt"
    puzzle.write_text(EASY + "\n")
    result = runner.invoke(app, ["solve", str(puzzle), "--weights", str(tiny_weights), "--trace", "--steps", "3"])
    assert result.exit_code == 3  # --trace and --steps watch the model alone, whose answer breaks the rules
    for step in (1, 2, 3):
        assert f"step {step}/3" in result.stdout
    assert result.stdout.count("┌") == 5  # the puzzle as posed, three steps and the final answer
    # with --steps the run goes on whatever the head says; the trace shows what it said
    assert re.search(r"-> (continue|halt ignored \(--steps\))", result.stdout) and "changed" in result.stdout
    assert "step 3/3" in result.stdout and "-> done (--steps)" in result.stdout
    assert "3 steps (the fixed count of --steps ran)" in result.stdout


def test_bad_lines_are_reported_and_good_puzzles_still_solved(tiny_weights):
    result, records = solve_json(tiny_weights, MIXED_FILE)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    good = read_puzzles(MIXED_FILE)
    assert len(errors) == len(good.errors) == 4
    for error, expected in zip(errors, good.errors):
        assert error == f"error: {expected}" and f"{MIXED_FILE}:" in error
    # Every line has its record on stdout, in file order: the bad ones say what stderr says (issue 30, item 8).
    assert [r["line"] for r in records if "error" not in r] == [p.line for p in good.puzzles]
    bad = [r for r in records if "error" in r]
    assert [(r["file"], r["line"], r["error"]) for r in bad] == [(e.file, e.line, e.message) for e in good.errors]
    assert [r["line"] for r in records] == sorted(r["line"] for r in records)
    assert "Traceback" not in result.output


def test_unsolvable_puzzle_is_an_error_and_several_solutions_a_note(tiny_weights, tmp_path):
    puzzles = tmp_path / "mixed.txt"
    puzzles.write_text(f"{EASY}\n{UNSOLVABLE}\n{SEVERAL}\n")
    result, records = solve_json(tiny_weights, str(puzzles))
    assert result.exit_code == 1
    assert f"error: {puzzles}:2: puzzle has no solution" in result.stderr
    assert f"note: {puzzles}:3: the puzzle has several solutions" in result.stderr
    assert [r["line"] for r in records] == [1, 2, 3]  # line 2 as an error record (issue 30, item 8)
    assert records[1] == {"file": str(puzzles), "line": 2, "error": "puzzle has no solution"}
    assert records[2]["puzzle_solutions"] == "several" and records[2]["correct"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["no/such/file.txt"], "no/such/file.txt: no such file"),
        ([EASY_FILE, "--weights", "no/such/dir"], "no/such/dir/config.json: missing"),
        ([EASY_FILE, "--device", "cuda"], "device cuda: no CUDA device"),
    ],
)
def test_bad_files_and_devices_are_one_line_errors(tiny_weights, args, message):
    if "--weights" not in args:
        args = [*args, "--weights", str(tiny_weights)]
    result = runner.invoke(app, ["solve", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_corrupt_weights_are_a_one_line_error(tiny_weights, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_weights / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a tensor file")
    result = runner.invoke(app, ["solve", EASY_FILE, "--weights", str(broken)])
    assert result.exit_code == 1
    assert "model.safetensors: not a readable safetensors file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_stdin_output_file_and_svg(tiny_weights, tmp_path):
    answers, svg = tmp_path / "answers.csv", tmp_path / "steps.svg"
    result = runner.invoke(
        app,
        ["solve", "-", "--weights", str(tiny_weights), "--json", "--output", str(answers), "--svg", str(svg)],
        input=f"{EASY}\n{EASY}\n",
    )
    assert result.exit_code == 3, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == ["<stdin>", "<stdin>"]
    written = read_puzzles(answers)
    # the answers file reads back as question + answer when the answer is valid, or reports it when not
    assert len(written.puzzles) + len(written.errors) == 2
    text = svg.read_text()
    assert text.startswith("<svg") and "step&#160;1/" in text


def test_votes_are_reported_per_puzzle(tiny_weights, tmp_path):
    puzzle = tmp_path / "one.txt"
    puzzle.write_text(EASY + "\n")
    result, records = solve_json(tiny_weights, str(puzzle), "--votes", "4")
    assert result.exit_code == 3
    assert records[0]["votes"] == 4 and 0 <= records[0]["agreeing"] <= 4


def test_animation_draws_frames_on_a_terminal(tiny_weights):
    """The terminal path: Rich Live frames with colour codes, then the legend once and the final grids."""
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system="truecolor")
    options = cli_solve.SolveOptions(weights=tiny_weights, delay=0.0)
    code = cli_solve.run(NAMED_FILE, options, terminal, Console(file=io.StringIO()))
    shown = screen.getvalue()
    assert code == 3  # SolveOptions' own default is the model alone (the CLI's is search)
    assert "\x1b[" in shown and "step 1/" in shown and "halt p=" in shown
    assert shown.count("breaks a rule") == 1  # one legend, above the first answer


# -- eval ------------------------------------------------------------------------------------------


def eval_json(tiny_weights, *args):
    result = runner.invoke(app, ["eval", *args, "--weights", str(tiny_weights), "--json"])
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_eval_matches_a_hand_count(tiny_weights, tmp_path, shared_sample):
    """Complete grids are right by construction; the rest is counted by hand from solve's answers."""
    rows = ["question,answer"] + [f"{EASY_ANSWER},{EASY_ANSWER}"] * 2
    sample = read_puzzles(shared_sample / "hard_dev.csv").puzzles[:6]
    rows += [f"{''.join(map(str, p.grid))},{''.join(map(str, p.answer))}" for p in sample]
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("\n".join(rows) + "\n")

    result, report = eval_json(tiny_weights, str(labelled))
    assert result.exit_code == 0, result.output
    _, records = solve_json(tiny_weights, str(labelled))
    answers = [p.answer for p in read_puzzles(labelled).puzzles]
    exact = [r["answer"] == "".join(map(str, a)) for r, a in zip(records, answers)]
    blanks = right = 0
    for record, answer in zip(records, answers):
        for given, got, want in zip(record["puzzle"], record["answer"], answer):
            if given == ".":
                blanks += 1
                right += int(got) == want
    scores = report["total"]
    assert scores["puzzles"] == 8
    assert exact[:2] == [True, True]
    assert scores["grid_accuracy"] == pytest.approx(sum(exact) / 8)
    assert scores["cell_accuracy"] == pytest.approx(right / blanks)
    assert scores["valid"] == pytest.approx(sum(r["valid"] for r in records) / 8)
    halted = [r["halted"] for r in records]
    assert scores["halted"] == pytest.approx(sum(halted) / 8)
    precision = sum(h and e for h, e in zip(halted, exact)) / sum(halted) if any(halted) else None
    assert scores["halt_precision"] == pytest.approx(precision)
    assert scores["mean_steps"] == pytest.approx(sum(r["steps"] for r in records) / 8)
    assert scores["max_steps"] == max(r["steps"] for r in records)


def test_eval_reports_bad_lines_and_files_and_scores_the_rest(tiny_weights, shared_sample):
    result, report = eval_json(
        tiny_weights, MIXED_FILE, "no/such.csv", str(shared_sample / "hard_dev.csv"), "--limit", "10"
    )
    assert result.exit_code == 1
    assert [f["file"] for f in report["files"]] == [MIXED_FILE, str(shared_sample / "hard_dev.csv")]
    assert report["files"][1]["puzzles"] == 10
    assert report["total"]["puzzles"] == report["files"][0]["puzzles"] + 10
    assert any(e.startswith(f"{MIXED_FILE}:") for e in report["errors"])
    assert "no/such.csv: no such file" in result.stderr


def test_eval_with_votes_accounts_for_rescues(tiny_weights, shared_sample):
    result, report = eval_json(tiny_weights, str(shared_sample / "hard_dev.csv"), "--limit", "8", "--votes", "3")
    assert result.exit_code == 0
    total = report["total"]
    voting = total["voting"]
    change = (voting["rescued"] - voting["spoiled"]) / total["puzzles"]
    assert total["grid_accuracy"] == pytest.approx(voting["single_grid_accuracy"] + change)


def test_eval_table_off_a_terminal(tiny_weights, shared_sample):
    result = runner.invoke(
        app,
        [
            "eval",
            str(shared_sample / "hard_dev.csv"),
            str(shared_sample / "unbiased_1k.csv"),
            "--limit",
            "5",
            "--weights",
            str(tiny_weights),
        ],
    )
    assert result.exit_code == 0
    for heading in ("exact", "cells", "valid", "halted", "precision", "steps", "puzzles/s", "total", "hard_dev.csv"):
        assert heading in result.stdout
    assert "\x1b[" not in result.stdout


def test_default_weights_come_from_the_environment_or_say_what_to_do(tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("SUDOKU_TRM_WEIGHTS", str(tiny_weights))
    result = runner.invoke(app, ["solve", EASY_FILE, "--json"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == len(read_puzzles(EASY_FILE).puzzles)
    monkeypatch.setenv("SUDOKU_TRM_WEIGHTS", str(tmp_path))
    result = runner.invoke(app, ["eval", EASY_FILE])
    assert result.exit_code == 1
    assert f"{tmp_path}: no default model there" in result.stderr and "download weights" in result.stderr
