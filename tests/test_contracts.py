"""Contracts a user relies on, each tested where it can break.

1. Weights load strictly through every entry point: one missing or one extra tensor is a one-line
   error naming the file and the key (library, Hub mixin, `solve` and `eval`).
2. The rules: a conflict confined to one unit kind (a row, a column or a box only) is caught by the
   parser and by every answer checker.
3. The command line: bad usage exits 2 on every command, `check -` reads stdin, `--max-steps` caps the
   steps, and a user's Ctrl-C exits 130 with one plain line on every command.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, SHARED_SAMPLE
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.errors import InputError, UserError
from sudoku_trm.inference import engine, search
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import WEIGHTS_NAME, export_weights, load_weights
from sudoku_trm.pretrained import load_model
from sudoku_trm.sudoku.grid import answer_problems, find_conflicts, has_conflicts, is_valid_solution, valid_solutions
from sudoku_trm.sudoku.puzzles import format_line, parse_grid_string, parse_text
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from sudoku_trm.training.trainer import Trainer

runner = CliRunner()

EASY_FILE = str(ROOT / "puzzles" / "easy.txt")
HARD_FILE = str(ROOT / "puzzles" / "hard.txt")
P1 = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."
A1 = "123675948456982371789314562964157283517238496832496157271849635395761824648523719"


def digits(text: str) -> np.ndarray:
    return np.array([0 if c == "." else int(c) for c in text], dtype=np.uint8)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- 1. strict weights ---------------------------------------------------------------------------------

MISSING_KEY = "q_head.bias"
EXTRA_KEY = "L_level.layers.2.mlp.down_proj.weight"  # what a model with one more layer would hold


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("exported")
    export_weights(TRM(ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=2)), directory)
    return directory


@pytest.fixture(params=["missing", "extra"])
def misfit(request, exported, tmp_path) -> tuple[Path, str]:
    """A copy of `exported` whose safetensors lacks one tensor or holds one too many: (dir, expected words)."""
    directory = tmp_path / "model"
    shutil.copytree(exported, directory)
    tensors = load_file(directory / WEIGHTS_NAME)
    if request.param == "missing":
        del tensors[MISSING_KEY]
        expected = f"missing key {MISSING_KEY}"
    else:
        tensors[EXTRA_KEY] = torch.zeros_like(tensors["L_level.layers.1.mlp.down_proj.weight"])
        expected = f"unexpected key {EXTRA_KEY}"
    save_file(tensors, directory / WEIGHTS_NAME)
    return directory, expected


def assert_names_file_and_key(message: str, directory: Path, expected: str) -> None:
    assert f"{directory / WEIGHTS_NAME}: weights do not fit the config" in message
    assert expected in message


def test_the_undamaged_export_loads(exported):
    """The control: what the damaged copies fail on is the damage alone."""
    assert isinstance(load_weights(exported), TRM)
    assert isinstance(load_model(exported), TRM)


def test_load_weights_refuses_a_missing_or_extra_tensor(misfit):
    directory, expected = misfit
    with pytest.raises(UserError) as caught:
        load_weights(directory)
    assert_names_file_and_key(one_line(str(caught.value)), directory, expected)


def test_load_model_refuses_a_missing_or_extra_tensor(misfit):
    directory, expected = misfit
    for source in (directory, str(directory)):
        with pytest.raises(UserError) as caught:
            load_model(source)
        assert_names_file_and_key(one_line(str(caught.value)), directory, expected)


@pytest.mark.parametrize("command", ["solve", "eval"])
def test_cli_refuses_a_missing_or_extra_tensor_in_one_line(misfit, command):
    directory, expected = misfit
    result = runner.invoke(app, [command, EASY_FILE, "--weights", str(directory), "--json"])
    assert result.exit_code == 1, result.output
    line = one_line(result.stderr)
    assert line.startswith("error: ")
    assert_names_file_and_key(line, directory, expected)
    assert result.stdout == ""


# -- 2. a conflict in one unit kind only ---------------------------------------------------------------


def units_ok(grid: np.ndarray, kind: str) -> bool:
    """Written out here, independently of grid.py: every unit of `kind` holds 1..9 exactly once."""
    g = grid.reshape(9, 9)
    if kind == "row":
        units = [g[r] for r in range(9)]
    elif kind == "column":
        units = [g[:, c] for c in range(9)]
    else:
        units = [g[r : r + 3, c : c + 3].ravel() for r in (0, 3, 6) for c in (0, 3, 6)]
    return all(sorted(u.tolist()) == list(range(1, 10)) for u in units)


def broken_answer(kind: str) -> np.ndarray:
    """A1 with two cells (or two columns) swapped so that only units of `kind` repeat a digit."""
    grid = digits(A1).reshape(9, 9).copy()
    if kind == "column":  # r1c1 <-> r1c2: same row, same box
        grid[0, [0, 1]] = grid[0, [1, 0]]
    elif kind == "row":  # r1c1 <-> r2c1: same column, same box
        grid[[0, 1], 0] = grid[[1, 0], 0]
    else:  # columns 3 <-> 4: every row and column still holds 1..9, the boxes beside the swap do not
        grid[:, [2, 3]] = grid[:, [3, 2]]
    return grid.ravel()


KINDS = ["row", "column", "box"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_broken_answers_break_exactly_one_unit_kind(kind):
    answer = broken_answer(kind)
    assert [units_ok(answer, k) for k in KINDS] == [k != kind for k in KINDS]


@pytest.mark.parametrize("kind", KINDS)
def test_answer_checkers_catch_a_conflict_in_one_unit_kind(kind):
    answer = broken_answer(kind)
    blank = np.zeros(81, dtype=np.uint8)
    conflicts = find_conflicts(answer)
    assert conflicts and {c.unit.split()[0] for c in conflicts} == {kind}
    problems = answer_problems(blank, answer)
    assert problems == [str(c) for c in conflicts] and all(p.startswith(f"{kind} ") for p in problems)
    assert not is_valid_solution(blank, answer) and is_valid_solution(blank, digits(A1))
    assert valid_solutions(np.stack([blank, blank]), np.stack([digits(A1), answer])).tolist() == [True, False]
    assert has_conflicts(np.stack([digits(A1), answer])).tolist() == [False, True]


# Two 5s as the only givens: in one row, one column or one box, and nothing else shared.
CONFLICTING_GIVENS = {"row": (0, 8), "column": (0, 72), "box": (0, 10)}  # r1c1 with r1c9, r9c1, r2c2


def givens(kind: str) -> str:
    cells = ["."] * 81
    for cell in CONFLICTING_GIVENS[kind]:
        cells[cell] = "5"
    return "".join(cells)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("row", "row 1 has two 5s (r1c1, r1c9)"),
        ("column", "column 1 has two 5s (r1c1, r9c1)"),
        ("box", "box 1 has two 5s (r1c1, r2c2)"),
    ],
)
def test_parser_refuses_givens_that_conflict_in_one_unit_kind(kind, expected):
    result = parse_text(f"{P1}\n{givens(kind)}\n", "f.txt")
    assert [format_line(p.grid) for p in result.puzzles] == [P1]
    assert [str(e) for e in result.errors] == [f"f.txt:2: conflicting givens: {expected}"]
    with pytest.raises(InputError, match=re.escape(f"conflicting givens: {expected}")):
        parse_grid_string(givens(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_parser_refuses_a_listed_answer_that_breaks_one_unit_kind(kind):
    answer = broken_answer(kind)
    question = digits(A1)
    question[answer != digits(A1)] = 0  # the changed cells are blanks: no given is changed, only rules broken
    result = parse_text(f"{format_line(question)},{format_line(answer)}\n{P1},{A1}\n", "f.csv")
    assert [p.line for p in result.puzzles] == [2]
    (error,) = result.errors
    assert error.line == 1
    assert error.message.startswith(f"answer is not a valid solution: {kind} ")


# -- 3. the command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check"],  # missing argument
        ["check", EASY_FILE, "--bogus"],
        ["check", EASY_FILE, "--limit", "0"],  # a bad value
        ["solve"],
        ["solve", EASY_FILE, "--bogus"],
        ["solve", EASY_FILE, "--device", "bogus"],  # a bad choice
        ["solve", EASY_FILE, "--max-steps", "0"],
        ["eval"],
        ["eval", EASY_FILE, "--bogus"],
        ["eval", EASY_FILE, "--device", "bogus"],
        ["eval", EASY_FILE, "--votes", "many"],
        ["train", "--steps"],  # an option missing its value
        ["train", "--bogus"],
        ["train", "--device", "bogus"],
        ["train", "--curriculum", "bogus"],
        ["train", "--optimizer", "bogus"],
    ],
    ids=lambda args: " ".join(a if a != EASY_FILE else "FILE" for a in args),
)
def test_bad_usage_exits_2_before_any_work(args, tiny_weights, tmp_path):
    if args[0] in ("solve", "eval") and len(args) > 1:
        args = [*args, "--weights", str(tiny_weights)]
    if args[0] == "train":  # the case's own arguments last: "--steps" must be the final word
        args = [
            "train",
            "--data",
            str(SHARED_SAMPLE / "hard_dev.csv"),
            "--dev",
            "",
            "--runs-dir",
            str(tmp_path / "runs"),
            *args[1:],
        ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_check_dash_reads_stdin():
    result = runner.invoke(app, ["check", "-"], input=f"{P1}\n{P1[:80]}\n")
    assert result.exit_code == 1  # the second line is short
    assert "<stdin>:1: unique" in result.stdout and A1 in result.stdout
    assert one_line(result.stderr).startswith("error: <stdin>:2: expected 81 cells, found 80")

    result = runner.invoke(app, ["check", "-", "--json"], input=f"{P1}\n")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["file"] == "<stdin>" and record["solution"] == A1


def solve_steps(weights: Path, puzzle_file: str, *args: str) -> list[dict]:
    """The model alone (--effort off); exit 3 where its answers break the rules."""
    result = runner.invoke(app, ["solve", puzzle_file, "--weights", str(weights), "--json", "--effort", "off", *args])
    assert result.exit_code in (0, 3), result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(len(r["halt_probabilities"]) == r["steps"] for r in records)
    return records


def test_max_steps_caps_the_steps_and_leaves_earlier_halts_alone(tiny_weights):
    free = [r["steps"] for r in solve_steps(tiny_weights, HARD_FILE)]
    assert max(free) > 1, "the fixture model must run past step 1 on some puzzle, or a cap proves nothing"
    for cap in (1, 2):
        capped = solve_steps(tiny_weights, HARD_FILE, "--max-steps", str(cap))
        assert [r["steps"] for r in capped] == [min(steps, cap) for steps in free]


def test_max_steps_is_reached_by_a_model_that_never_halts(tmp_path):
    model = TRM(ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=3))
    with torch.no_grad():
        model.q_head.weight.zero_()
        model.q_head.bias.fill_(-5.0)  # the halting logit is -5 whatever the puzzle
    export_weights(model, tmp_path / "never-halts")
    weights = tmp_path / "never-halts"
    for args, steps in (((), 3), (("--max-steps", "2"), 2), (("--max-steps", "5"), 5)):
        records = solve_steps(weights, EASY_FILE, *args)
        assert [r["steps"] for r in records] == [steps] * len(records), args
        assert not any(r["halted"] for r in records)


# Ctrl-C: exit 130 and one plain line on stderr, never "error:", on every command.


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", ["solve", "eval"])
def test_interrupting_solve_or_eval_exits_130_with_one_plain_line(command, tiny_weights, monkeypatch):
    monkeypatch.setattr(engine, "solve", interrupt)  # the model work, after the files and weights are read
    monkeypatch.setattr(search, "solve_searched", interrupt)  # solve's default: guided search
    result = runner.invoke(app, [command, EASY_FILE, "--weights", str(tiny_weights)])
    assert result.exit_code == 130, result.output
    assert one_line(result.stderr) == "interrupted"
    assert result.stdout == ""


def test_interrupting_check_exits_130_with_one_plain_line(monkeypatch):
    import sudoku_trm.sudoku.checking

    monkeypatch.setattr(sudoku_trm.sudoku.checking, "check_files", interrupt)
    result = runner.invoke(app, ["check", EASY_FILE])
    assert result.exit_code == 130 and one_line(result.stderr) == "interrupted"


def test_interrupting_train_saves_exits_130_and_says_how_to_resume(tmp_path, monkeypatch):
    args = [
        "train",
        "--data",
        str(SHARED_SAMPLE / "hard_train.csv"),
        "--dev",
        "",
        "--hidden-size",
        "16",
        "--h-cycles",
        "1",
        "--l-cycles",
        "1",
        "--max-steps",
        "2",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--warmup-steps",
        "1",
        "--log-every",
        "1",
        "--checkpoint-every",
        "100",
        "--device",
        "cpu",
        "--no-compile",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--name",
        "stop",
    ]
    checkpoint = tmp_path / "runs" / "stop" / CHECKPOINT_NAME
    train_step = Trainer.train_step

    def interrupted_at_step_2(self, metrics):
        if self.step == 2:
            raise KeyboardInterrupt
        return train_step(self, metrics)

    monkeypatch.setattr(Trainer, "train_step", interrupted_at_step_2)
    result = runner.invoke(app, args)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert not any(line.startswith("error:") for line in lines)
    assert lines[-1] == f"interrupted at step 2; checkpoint saved to {checkpoint}, continue with --resume"
    assert load_checkpoint(checkpoint)["step"] == 2  # saved on the way out, not by --checkpoint-every

    monkeypatch.setattr(Trainer, "train_step", train_step)
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed from step 2" in resumed.stderr
    assert load_checkpoint(checkpoint)["step"] == 4
