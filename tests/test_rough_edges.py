"""The rough edges a new user hits, each pinned by a test that fails on the old behaviour.

Halting figures that flatter a model that never halts; sample labels our own `check` contradicts;
`eval` reading files differently from `solve` and `check`; a closed pipe; wrapped plain text and
givens lost without colour; flags that contradict each other; plural grammar; metavars; the eval
JSON's `total`; a 20,000 px SVG; the Python API's strings and local paths; CPU threads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.errors import InputError, UserError
from sudoku_trm.inference import engine
from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.inference.solving import SINGLE_THREAD_BELOW, SolveSettings, solve_puzzles
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights, load_weights
from sudoku_trm.pretrained import load_model
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.puzzles import read_puzzles

runner = CliRunner()
PUZZLES = ROOT / "puzzles"
EASY_FILE = str(PUZZLES / "easy.txt")
NAMED_FILE = str(PUZZLES / "named.txt")
P1 = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."


@pytest.fixture(scope="module")
def never_halts(tmp_path_factory) -> Path:
    """A model whose halting head always says continue (logit -5), with the published 16-step limit."""
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=16))
    with torch.no_grad():
        model.q_head.weight.zero_()
        model.q_head.bias.fill_(-5.0)
    directory = tmp_path_factory.mktemp("never-halts")
    export_weights(model, directory)
    return directory


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


# -- halting figures --------------------------------------------------------------------------------


def test_eval_reports_what_halted_and_na_where_nothing_did(never_halts):
    result = invoke("eval", EASY_FILE, "--weights", never_halts, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for figures in (report["files"][0], report["total"]):
        assert figures["grid_accuracy"] == 0.0  # it solves nothing ...
        assert figures["halted"] == 0.0  # ... and never halts: no figure may read 100%
        assert figures["halt_precision"] is None
        assert "halting_accuracy" not in figures
    table = invoke("eval", EASY_FILE, "--weights", never_halts).stdout
    row = next(line for line in table.splitlines() if "easy.txt" in line)
    cells = [c.strip() for c in re.split(r"[│┃]", row) if c.strip()]
    assert cells[5:7] == ["0.0%", "n/a"] and "100.0%" not in row


# -- sample labels match what check measures -----------------------------------------------------------


def test_sample_labels_match_what_check_measures():
    """Every guess count written in puzzles/ is one `sudoku-trm check` measures, with the scale named."""
    for path in sorted(PUZZLES.glob("*.txt")) + sorted(PUZZLES.glob("*.sdk")):
        lines = path.read_text().splitlines()
        puzzles = read_puzzles(path).puzzles
        measured = {p.line: solver.rate(p.grid) for p in puzzles}
        for number, text in enumerate(lines, 1):
            if "guesses" in text:
                assert "sudoku-trm check" in text, f"{path.name}:{number}: a guess count without its scale"
        for p in puzzles:  # the comment above each puzzle (grid files: above the border)
            above = next(lines[i] for i in range(p.line - 2, -1, -1) if lines[i].startswith("#"))
            found = re.search(r"sudoku-trm check: (\d+) guesses", above) or re.search(r"(\d+) guesses by", above)
            if found:
                assert int(found[1]) == measured[p.line], f"{path.name}:{p.line}"
        values = sorted(measured.values())
        for low, high in re.findall(r"sudoku-trm check: (\d+) to (\d+) guesses", "\n".join(lines)):
            assert (int(low), int(high)) == (values[0], values[-1]), path.name
        if "0 guesses each" in lines[0]:
            assert values[-1] == 0
    readme = (PUZZLES / "README.md").read_text()
    for name, claim in re.findall(r"^\| `([\w.]+)` \|[^|]*\|([^|]*guesses[^|]*)\|$", readme, re.MULTILINE):
        measured = {solver.rate(p.grid) for p in read_puzzles(PUZZLES / name).puzzles}
        numbers = {int(n) for n in re.findall(r"(\d+)(?= to| and| guesses)", claim)}
        assert numbers <= measured, (name, claim, measured)


# -- one reading path -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["solve", "eval", "check"])
def test_every_command_reads_a_directory_stdin_and_a_missing_file_alike(command, tiny_weights, tmp_path):
    weights = ["--weights", tiny_weights] if command != "check" else []
    folder = invoke(command, tmp_path, *weights)
    assert folder.exit_code == 1 and f"error: {tmp_path}: is a directory, not a puzzle file" in folder.stderr
    missing = invoke(command, tmp_path / "absent.txt", *weights)
    assert missing.exit_code == 1 and f"{tmp_path / 'absent.txt'}: no such file" in missing.stderr
    stdin = invoke(command, "-", *weights, "--json", input=f"{P1}\n")
    assert stdin.exit_code == 0, stdin.output
    assert "<stdin>" in stdin.stdout


def test_eval_reads_stdin_as_a_file_named_stdin(tiny_weights):
    result = invoke("eval", "-", "--weights", tiny_weights, "--json", input=f"{P1}\n{P1}\n")
    report = json.loads(result.stdout)
    assert [f["file"] for f in report["files"]] == ["<stdin>"] and report["total"]["puzzles"] == 2


# -- a closed pipe ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "solve"])
def test_a_closed_pipe_ends_quietly_with_141(command, tiny_weights):
    args = [sys.executable, "-m", "sudoku_trm", command, EASY_FILE]
    if command == "solve":
        args += ["--weights", str(tiny_weights)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()  # the reader is gone before the first line is written, as after `| head -1`
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141, stderr
    assert stderr == b""


# -- plain text -------------------------------------------------------------------------------------


def final_grids(text: str) -> list[list[str]]:
    """Each answer's plain grid (the one just above its `N steps (...)` line), as 81 three-character cells."""
    grids, rows = [], []
    for line in text.splitlines():
        if line.startswith("│"):
            rows.append("".join(line.split("│")))
        elif re.match(r"\d+ steps? \(", line):
            grids.append([row[i : i + 3] for row in rows[-9:] for i in range(0, 27, 3)])
    return grids


def test_plain_output_never_wraps_and_keeps_givens_apart_without_colour(tiny_weights):
    result = invoke("solve", NAMED_FILE, "--weights", tiny_weights, "--trace")
    assert result.exit_code == 3  # --trace watches the model alone, whose answers break the rules
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) > 80  # long lines stay whole ...
    assert not [line for line in lines if line != line.rstrip()]  # ... with no trailing spaces
    for status in (line for line in lines if line.startswith("step ")):  # never cut mid-list
        assert status.endswith("blanks") if status.startswith("step 0") else re.search(r"unsure \d+$", status)
    puzzles = read_puzzles(NAMED_FILE).puzzles
    records = [
        json.loads(r)
        for r in invoke("solve", NAMED_FILE, "--weights", tiny_weights, "--json", "--effort", "off").stdout.splitlines()
    ]
    finals = final_grids(result.stdout)
    assert len(finals) == len(puzzles) == len(records)
    for puzzle, final, record in zip(puzzles, finals, records):
        assert [c.startswith("[") for c in final] == (puzzle.grid > 0).tolist()  # a marker, not a colour
        assert "".join(c.strip("[ ]") for c in final) == record["answer"]


def test_eval_table_off_a_terminal_has_no_trailing_spaces(tiny_weights):
    result = invoke("eval", EASY_FILE, NAMED_FILE, "--weights", tiny_weights)
    assert result.exit_code == 0
    assert all(line == line.rstrip() for line in result.stdout.splitlines())


# -- flags, grammar, metavars, JSON -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["solve", "eval"])
def test_steps_with_max_steps_is_bad_usage(command, tiny_weights):
    result = invoke(command, EASY_FILE, "--weights", tiny_weights, "--steps", "3", "--max-steps", "2")
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "--steps" in result.stderr and "--max-steps" in result.stderr


def test_fixed_steps_say_the_fixed_count_ran(never_halts, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text(P1 + "\n")
    result = invoke("solve", path, "--weights", never_halts, "--steps", "40")
    assert result.exit_code == 3
    assert "40 steps (the fixed count of --steps ran)" in result.stdout and "step limit" not in result.stdout


def test_check_counts_in_the_singular_for_one(tmp_path):
    one = invoke("check", "-", input=f"{P1}\n")
    assert one.stdout.splitlines()[-1] == "1 puzzle checked: 1 unique, 0 problems"
    path = tmp_path / "two.txt"
    path.write_text(f"{P1}\n{P1[:80]}\n")
    assert invoke("check", path).stdout.splitlines()[-1] == "1 puzzle checked: 1 unique, 1 problem"


def test_file_arguments_read_alike_in_every_help():
    usages = {}
    for command in ("solve", "eval", "check"):
        text = invoke(command, "--help").stdout
        usages[command] = re.search(rf"Usage: \S+ {command} \[OPTIONS\] (\S+)", text)[1]
        assert "{files}" not in text and "PUZZLE_FILE" not in text
    assert set(usages.values()) == {"{FILE|-}..."}, usages


def test_eval_total_is_always_the_total_and_only_computed_figures_appear(tiny_weights):
    for files in ([EASY_FILE], [EASY_FILE, NAMED_FILE]):
        report = json.loads(invoke("eval", *files, "--weights", tiny_weights, "--json").stdout)
        total = report["total"]
        assert "file" not in total and total["files"] == len(files)
        assert total["puzzles"] == sum(f["puzzles"] for f in report["files"])
        for figures in (*report["files"], total):
            assert "grid_accuracy_all_steps" not in figures and "halting_accuracy" not in figures


# -- the SVG ----------------------------------------------------------------------------------------


def test_svg_lays_the_steps_out_in_a_grid_with_the_legend_on_top(never_halts, tmp_path):
    svg = tmp_path / "steps.svg"
    result = invoke("solve", NAMED_FILE, "--weights", never_halts, "--svg", svg, "--json")
    assert result.exit_code == 3, result.output
    text = svg.read_text()
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text).groups())
    assert height < 6000 and width < 3000  # the old stack of 3 x 17 full frames was about 20,000 px tall
    assert len(text) < 1_000_000
    first_legend = text.index("breaks&#160;a&#160;rule")
    assert first_legend < text.index("step&#160;0/16")  # the legend comes first


# -- the Python API ---------------------------------------------------------------------------------


def test_solve_takes_a_puzzle_string_or_a_list_of_them(tiny_weights):
    model = load_weights(tiny_weights)
    one = solve(model, P1)
    given = np.array([c != "." for c in P1])
    assert len(one) == 1 and "".join(map(str, one.answers[0][given])) == P1.replace(".", "")
    two = solve(model, [P1, P1.replace(".", "0")])
    assert np.array_equal(two.answers[0], two.answers[1])
    with pytest.raises(InputError, match=r"^<puzzle>: expected 81 cells, found 80"):
        solve(model, P1[:80])
    with pytest.raises(InputError, match=r"^<puzzle 1>: illegal character 'a'"):
        solve(model, [P1, "a" + P1[1:]])


def test_the_readme_python_section_runs(monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)[1]
    monkeypatch.chdir(ROOT)
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a, **k: printed.append(a)})
    assert printed  # the example shows its results


@pytest.mark.parametrize("name", ["weightz", "./weights-typo", "/no/such/model", "a/b/c", "~/models/x"])
def test_load_model_on_a_local_looking_name_fails_in_one_line_without_the_hub(name, monkeypatch):
    import sudoku_trm.hub.client

    def no_hub(*args, **kwargs):
        raise AssertionError("a local-looking name must not reach the Hub")

    monkeypatch.setattr(sudoku_trm.hub.client, "fetch_model", no_hub)
    with pytest.raises(UserError) as caught:
        load_model(name)
    message = str(caught.value)
    assert message.startswith(f"{name}: no such directory") and "\n" not in message


def test_load_model_asks_the_hub_for_owner_slash_name_and_never_for_a_path(monkeypatch, tmp_path):
    import sudoku_trm.hub.client

    asked = []

    def fake_fetch(repo_id, *args, **kwargs):
        asked.append(repo_id)
        raise UserError(f"{repo_id}: not on the Hub")

    monkeypatch.setattr(sudoku_trm.hub.client, "fetch_model", fake_fetch)
    with pytest.raises(UserError):
        load_model("someone/model")
    assert asked == ["someone/model"]
    afile = tmp_path / "config.json"
    afile.write_text("{}")
    with pytest.raises(UserError, match="not a directory"):
        load_model(str(afile))


def test_the_default_model_loads_from_any_working_directory(monkeypatch, tmp_path):
    from sudoku_trm.model.weights import WEIGHTS_ENV

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_model().config == load_model(ROOT / "weights").config == load_model(str(ROOT / "weights")).config


# -- CPU threads ------------------------------------------------------------------------------------


def test_small_cpu_batches_run_on_one_thread_and_the_count_is_restored(tiny_weights, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    model = load_weights(tiny_weights)
    before = torch.get_num_threads()
    seen = []
    solve_for_real = engine.solve

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return solve_for_real(*args, **kwargs)

    monkeypatch.setattr(engine, "solve", spy)
    grids = read_puzzles(EASY_FILE).grids()
    solve_puzzles(model, grids, SolveSettings())
    assert seen == [1] and torch.get_num_threads() == before
    many = np.repeat(grids, SINGLE_THREAD_BELOW // len(grids) + 1, axis=0)
    solve_puzzles(model, many, SolveSettings(steps=1))
    assert seen[-1] == before  # a big batch keeps torch's own choice
    monkeypatch.setenv("OMP_NUM_THREADS", str(before))
    solve_puzzles(model, grids, SolveSettings(steps=1))
    assert seen[-1] == before  # the user's choice wins
    assert InferenceConfig().batch_size >= SINGLE_THREAD_BELOW
