"""The command line as a user meets it: help, version, and `check` on good and bad input."""

import json
import subprocess
import sys

from conftest import PUZZLES
from typer.testing import CliRunner

from sudoku_trm import __version__
from sudoku_trm.cli.app import app

runner = CliRunner()

EASY = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2....".replace(".", "0")
EASY_ANSWER = "123675948456982371789314562964157283517238496832496157271849635395761824648523719"


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "solve", "eval", "download", "check"):
        assert command in result.output


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "train" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sudoku-trm {__version__}"


def test_module_entry_point_runs_the_same_app():
    done = subprocess.run([sys.executable, "-m", "sudoku_trm", "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip() == f"sudoku-trm {__version__}"


def test_the_program_ends_at_once_yet_every_line_is_written_and_the_exit_code_kept(tmp_path):
    # `script` ends solve/eval/check/generate with os._exit: whatever is still buffered must be flushed
    # first, and the command's own exit code (1: a bad line) must survive.
    puzzles = tmp_path / "mixed.txt"
    good = [line for line in (PUZZLES / "easy.txt").read_text().splitlines() if line and not line.startswith("#")]
    puzzles.write_text("\n".join([*good, "12345"]) + "\n")
    expected = runner.invoke(app, ["check", "--json", str(puzzles)])
    done = subprocess.run(
        [sys.executable, "-m", "sudoku_trm", "check", "--json", str(puzzles)], capture_output=True, text=True
    )
    assert done.returncode == expected.exit_code == 1
    assert done.stdout == expected.stdout
    assert len(done.stdout.splitlines()) == len(good) + 1  # every puzzle, and the bad line's record
    assert f"{puzzles}:{len(good) + 1}:" in done.stderr


def test_check_solves_a_unique_puzzle(tmp_path):
    puzzle_file = tmp_path / "one.txt"
    puzzle_file.write_text(EASY + "\n")
    result = runner.invoke(app, ["check", str(puzzle_file)])
    assert result.exit_code == 0, result.output
    assert f"{puzzle_file}:1: unique" in result.stdout
    assert EASY_ANSWER in result.stdout


def test_check_json_holds_one_record_per_puzzle(shared_sample):
    result = runner.invoke(app, ["check", "--json", "--limit", "5", str(shared_sample / "hard_dev.csv")])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 5
    listed = [line.split(",")[2] for line in (shared_sample / "hard_dev.csv").read_text().splitlines()[1:6]]
    assert [r["solution"] for r in records] == listed
    assert all(r["verdict"] == "unique" and r["guesses"] > 0 for r in records)


def test_check_reports_bad_lines_and_still_checks_good_ones(tmp_path):
    bad = tmp_path / "mixed.txt"
    duplicate_fives = "55" + EASY[2:]
    bad.write_text("\n".join([EASY, EASY[:80], duplicate_fives, EASY]) + "\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert f"{bad}:2:" in errors[0] and "80" in errors[0]
    assert f"{bad}:3:" in errors[1] and "5" in errors[1]
    assert f"{bad}:1: unique" in result.stdout and f"{bad}:4: unique" in result.stdout
    assert "Traceback" not in result.output


def test_check_flags_several_solutions(shared_sample):
    result = runner.invoke(app, ["check", "--limit", "3", str(shared_sample / "multi_solution_200.txt")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all("several solutions" in line for line in lines)


def test_check_flags_a_wrong_listed_answer(tmp_path):
    wrong = EASY_ANSWER[:80] + ("1" if EASY_ANSWER[80] != "1" else "2")
    csv_file = tmp_path / "wrong.csv"
    csv_file.write_text(f"question,answer\n{EASY},{wrong}\n")
    result = runner.invoke(app, ["check", str(csv_file)])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(f"error: {csv_file}:2:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_is_one_line_and_other_files_still_checked(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(EASY + "\n")
    result = runner.invoke(app, ["check", str(tmp_path / "absent.txt"), str(good)])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "absent.txt" in result.stderr
    assert f"{good}:1: unique" in result.stdout
