"""The Python API (`from sudoku_trm import solve, check, generate, load_model`) against the commands it mirrors:
the same answers, counts and labels as `solve`, `eval`, `check` and `generate`, the same one-line errors,
and imports that stay cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import PUZZLES, ROOT
from scripted_models import Scripted, always_right, first_wave
from typer.testing import CliRunner

import sudoku_trm
from sudoku_trm import api
from sudoku_trm.cli.app import app
from sudoku_trm.errors import InputError
from sudoku_trm.inference import settings as settings_module
from sudoku_trm.inference.adaptive import PRESETS
from sudoku_trm.inference.commit import DEFAULT_THRESHOLD
from sudoku_trm.inference.found import (
    COMMIT_DECODING,
    EXACT_SOLVER,
    GUIDED_SEARCH,
    MODEL_ALONE,
    SEARCH_FOUND,
    UNSOLVED,
    VOTES,
)
from sudoku_trm.inference.search import DEFAULT_BUDGET, legal_digits
from sudoku_trm.pretrained import load_model
from sudoku_trm.sudoku.grid import CELLS
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzles import format_line, read_puzzles

runner = CliRunner()
P = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"  # the README's puzzle
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
FILES = sorted(str(path) for path in PUZZLES.glob("*.txt"))  # mixed_with_errors.txt: its good puzzles only
# Two runs of fewer than 32 puzzles each (21 and 13): one torch thread, as for the command (solving.cpu_threads)
GROUPS = (FILES[:4], FILES[4:])


def good_puzzles(*files: str) -> list[str]:
    """Every puzzle of the files that reads, in file and line order: what `solve FILE...` solves."""
    return [format_line(p.grid) for f in files for p in read_puzzles(f).puzzles]


@pytest.fixture(scope="module")
def solver_model(solver_weights):
    return load_model(solver_weights)


def solve_command(*args: str) -> list[dict]:
    result = runner.invoke(app, ["solve", *args, "--json"])
    assert result.exit_code in (0, 1, 3), result.output  # 1: mixed_with_errors.txt's bad lines
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return [r for r in records if "error" not in r]  # a bad line's record: the API is given good puzzles only


# -- the same answers and counts as the command ------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, options, groups",
    [
        (["--effort", "off"], {"effort": "off"}, GROUPS),
        (["--effort", "off", "--votes", "3"], {"effort": "off", "votes": 3}, GROUPS),
        (["--effort", "commit"], {"effort": "commit"}, GROUPS),
        (["--effort", "search"], {"effort": "search"}, GROUPS),
        ([], {}, GROUPS[1:]),  # auto on both sides: guided search
        (["--effort", "search", "--budget", "2"], {"effort": "search", "budget": 2}, GROUPS[:1]),
        (["--effort", "fast"], {"effort": "fast"}, GROUPS),
    ],
)
def test_solve_gives_the_commands_answers_and_counts_on_the_sample_files(
    solver_weights, solver_model, flags, options, groups
):
    for files in groups:
        records = solve_command(*files, "--weights", str(solver_weights), *flags)
        results = api.solve(good_puzzles(*files), model=solver_model, **options)
        assert len(results) == len(records) == (21 if files == GROUPS[0] else 13)
        for result, record in zip(results, records):
            assert_same(result, record)
        searched = options.get("effort", "search") == "search"
        assert all(r.valid for r in results) == searched  # this tiny model alone leaves every answer wrong


def assert_same(result: api.Solution, record: dict) -> None:
    """One puzzle's API result against the command's --json record."""
    assert (result.puzzle, result.answer) == (record["puzzle"], record["answer"])
    assert (result.valid, result.steps) == (record["valid"], record["steps"])
    if "search" in record:
        search = record["search"]
        counts = (search["found_by"], search["model_calls"], search["guesses"])
        assert (result.found_by, result.model_calls, result.guesses) == counts
    elif "adaptive" in record:
        assert result.model_calls == record["adaptive"]["chains"]
        assert (result.found_by == MODEL_ALONE) == record["adaptive"]["single_pass_valid"]
    elif "agreeing" in record:
        assert result.model_calls == 3 and result.found_by == (VOTES if result.valid else UNSOLVED)
    else:
        assert result.found_by in ((MODEL_ALONE, COMMIT_DECODING) if result.valid else (UNSOLVED,))


SUMMARY_WORDS = {
    MODEL_ALONE: "by the model alone",
    COMMIT_DECODING: "by commit decoding",
    GUIDED_SEARCH: "by guided search with",
    EXACT_SOLVER: "finished by the exact solver",
}


def test_the_search_summary_counts_the_labels_solve_returns(solver_weights, solver_model):
    files = GROUPS[0]
    last = runner.invoke(app, ["solve", *files, "--weights", str(solver_weights)]).stdout.strip().splitlines()[-1]
    found = Counter(r.found_by for r in api.solve(good_puzzles(*files), "search", solver_model))
    assert found == {EXACT_SOLVER: 11, GUIDED_SEARCH: 10}  # this tiny model's; two labels, so the counts can differ
    assert last.startswith("21 valid: ")
    for label, words in SUMMARY_WORDS.items():
        assert (f"{found[label]} {words}" in last) == (label in found)


def test_the_adaptive_summary_counts_the_shipped_models_single_pass_answers():
    easy = str(PUZZLES / "easy.txt")
    last = runner.invoke(app, ["solve", easy, "--effort", "fast"]).stdout.strip().splitlines()[-1]
    results = api.solve(good_puzzles(easy), "fast")
    alone = sum(r.found_by == MODEL_ALONE for r in results)
    assert alone > 0 and f"{sum(r.valid for r in results)} valid ({alone} by the model alone)" in last


def test_search_finds_as_many_by_each_means_as_eval_counts(solver_weights, solver_model):
    hard = str(PUZZLES / "hard.txt")
    result = runner.invoke(app, ["eval", hard, "--weights", str(solver_weights), "--effort", "search", "--json"])
    counted = json.loads(result.stdout)["files"][0]["search"]["found_by"]
    results = api.solve(good_puzzles(hard), "search", solver_model)
    assert all(r.valid for r in results)
    assert {name: sum(r.found_by == name for r in results) for name in SEARCH_FOUND} == counted
    assert counted[EXACT_SOLVER] > 0  # this tiny model leaves the exact solver work on hard.txt


def test_the_shipped_model_is_loaded_once_and_finds_the_solution(monkeypatch):
    import sudoku_trm.pretrained

    loads = []
    real = sudoku_trm.pretrained.load_model
    monkeypatch.setattr(sudoku_trm.pretrained, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    api.default_model.cache_clear()
    try:
        first = sudoku_trm.solve(P)
        again = sudoku_trm.solve([P, P.replace(".", "0")], effort="off")
    finally:
        api.default_model.cache_clear()  # other tests get the real loader's model
    assert loads == [()]
    assert first.answer == SOLUTION and first.valid and first.found_by in SEARCH_FOUND[:4]
    assert [r.answer for r in again] == [SOLUTION, SOLUTION]


# -- labels and counts that can be worked out by hand: scripted stand-in models -------------------------------


def test_scripted_models_are_credited_exactly():
    puzzles = good_puzzles(str(PUZZLES / "medium.txt"))
    grids = np.array([[int(c) if c != "." else 0 for c in p] for p in puzzles], dtype=np.uint8)
    rounds, solved, _ = logic_rounds(grids)
    waves = rounds.max(1)  # first_wave commits one wave of logic per call
    committed = api.solve(puzzles, "commit", Scripted(first_wave))
    assert [(r.found_by, r.model_calls, r.guesses, r.valid) for r in committed] == [
        (COMMIT_DECODING, int(w), 0, True) for w in waves
    ]
    # The search's logic places every wave itself, then asks again: where logic stalls, first_wave is sure of
    # every blank left, and right (one more call); where logic solves the puzzle, the exact solver's logic did.
    searched = api.solve(puzzles, "search", Scripted(first_wave))
    assert [(r.found_by, r.model_calls, r.guesses, r.valid) for r in searched] == [
        (EXACT_SOLVER, 1, 0, True) if done else (COMMIT_DECODING, 2, 0, True) for done in solved
    ]
    assert 0 < solved.sum() < len(solved)  # both cases are seen
    alone = api.solve(puzzles[0], "search", Scripted(always_right))
    assert (alone.found_by, alone.model_calls, alone.guesses, alone.steps) == (MODEL_ALONE, 1, 0, 1)
    assert alone.valid and alone.answer == api.check(puzzles[0]).solution

    cell = puzzles[0].index(".")
    # Sure of every cell but one: those are committed, and logic places the last (no guess, no second call).
    committed_one = api.solve(puzzles[0], "search", Scripted(unsure_of(cell)))
    assert (committed_one.found_by, committed_one.model_calls, committed_one.guesses) == (COMMIT_DECODING, 1, 0)
    assert committed_one.valid
    finished = api.solve(puzzles[0], "search", Scripted(unsure_of(*range(CELLS))), budget=1)
    assert (finished.found_by, finished.model_calls, finished.valid) == (EXACT_SOLVER, 1, True)
    wrong = api.solve(puzzles[0], "off", Scripted(unsure_of(cell)))
    assert (wrong.found_by, wrong.model_calls, wrong.valid) == (UNSOLVED, 1, False)


def unsure_of(*cells: int):
    """Right everywhere, sure everywhere but `cells`, which read as a wrong digit (scripted_models.Scripted)."""

    def rule(grids: torch.Tensor):
        answers, sure = always_right(grids)
        sure[:, list(cells)] = False
        return answers, sure

    return rule


# -- one in, one out; a list in, a list out ----------------------------------------------------------------


def test_a_string_a_grid_or_an_array_in_gives_one_result_and_a_list_gives_a_list(solver_model):
    grid = np.array([int(c) if c != "." else 0 for c in P])
    one = api.solve(P, "off", solver_model)
    assert isinstance(one, api.Solution) and one.puzzle == P
    assert api.solve(grid.reshape(9, 9), "off", solver_model) == one
    assert api.solve(grid.tolist(), "off", solver_model) == one
    assert api.solve(P.replace(".", "0"), "off", solver_model) == one
    many = api.solve(np.stack([grid, grid]), "off", solver_model)
    assert many == [one, one] == api.solve([P, grid.reshape(9, 9)], "off", solver_model)
    assert api.solve(np.stack([grid.reshape(9, 9)] * 3), "off", solver_model) == [one] * 3
    assert api.solve([P], "off", solver_model) == [one] and api.solve([], "off", solver_model) == []


def test_trace_keeps_each_steps_answer_and_auto_then_watches_the_model_alone(solver_model):
    traced = api.solve(P, model=solver_model, trace=True, steps=3)
    assert traced.steps == 3 and len(traced.trace) == 3 and traced.trace[-1] == traced.answer
    assert traced.found_by in (MODEL_ALONE, UNSOLVED) and traced.model_calls == 1
    assert api.solve(P, model=solver_model).trace is None


# -- bad input: the command's one-line errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "puzzles, message",
    [
        (P[:80], "<puzzle>: expected 81 cells, found 80"),
        ([P, "a" + P[1:]], "<puzzle 1>: illegal character 'a'"),
        ([P[:80]], "<puzzle>: expected 81 cells, found 80"),
        (np.zeros(80, dtype=int), "<puzzle>: expected 81 cells, found 80"),
        ([P, np.zeros((9, 8), dtype=int)], "<puzzle 1>: expected 81 cells, found 72"),
        (np.full(81, 10), "<puzzle>: r1c1 holds 10: a cell is 0 (blank) or a digit 1..9"),
        ("55" + P[2:], "<puzzle>: conflicting givens: row 1 has two 5s (r1c1, r1c2)"),
        (np.array([5, 5] + [0] * 79), "<puzzle>: conflicting givens: row 1 has two 5s (r1c1, r1c2)"),
    ],
)
def test_bad_puzzles_are_the_commands_one_line_input_errors_before_any_model_loads(puzzles, message, monkeypatch):
    monkeypatch.setattr(api, "_model", lambda model: pytest.fail("no model for bad input"))
    for function in (api.solve, api.check):
        with pytest.raises(InputError) as caught:
            function(puzzles)
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_puzzle_without_a_solution_is_refused_as_the_command_refuses_it(tmp_path, monkeypatch):
    grid = np.array([int(c) if c != "." else 0 for c in P], dtype=np.uint8)
    cell = int(np.flatnonzero(grid == 0)[0])
    digit = next(d + 1 for d in range(9) if legal_digits(grid)[0, cell, d] and str(d + 1) != SOLUTION[cell])
    unsolvable = P[:cell] + str(digit) + P[cell + 1 :]  # breaks no rule, yet contradicts the only solution
    (tmp_path / "bad.txt").write_text(unsolvable + "\n")
    command = runner.invoke(app, ["solve", str(tmp_path / "bad.txt"), "--json"])
    assert f"{tmp_path / 'bad.txt'}:1: puzzle has no solution" in command.stderr
    monkeypatch.setattr(api, "_model", lambda model: pytest.fail("no model for an unsolvable puzzle"))
    with pytest.raises(InputError, match=r"^<puzzle 1>: puzzle has no solution$"):
        api.solve([P, unsolvable])
    assert api.check(unsolvable).verdict == "no solution" and api.check(unsolvable).solutions == 0


def test_settings_that_cannot_go_together_are_refused_in_words():
    for options, words in [
        ({"effort": "fastest"}, "effort must be one of auto, off, commit, search, fast, default, thorough"),
        ({"effort": "search", "trace": True}, "a trace records one run's steps"),
        ({"effort": "search", "steps": 4}, "effort 'search' stops each puzzle by itself"),
        ({"effort": "commit", "budget": 4}, "commit decoding stops when nothing new is sure"),
        ({"steps": 2, "max_steps": 4}, "give one of steps"),
        ({"votes": 0}, "votes and batch_size must be at least 1"),
    ]:
        with pytest.raises(ValueError, match=words):
            api.solve(P, model=object(), **options)
    with pytest.raises(TypeError, match="weights"):
        api.solve(P, model=object(), weights="weights/")


# -- check and generate: the commands' own results -----------------------------------------------------------


def test_check_reports_what_the_check_command_reports(tmp_path):
    files = [str(PUZZLES / "mixed_with_errors.txt"), str(PUZZLES / "hard.txt")]
    command = runner.invoke(app, ["check", *files, "--json"])
    records = [json.loads(line) for line in command.stdout.splitlines()]
    records = [r for r in records if "error" not in r]  # mixed_with_errors.txt's bad lines have records too
    results = api.check(good_puzzles(*files))
    assert len(results) == len(records) == 10
    reported = ("puzzle", "verdict", "solutions", "guesses", "level", "solution")
    for result, record in zip(results, records):
        assert vars(result) == {k: record[k] for k in reported}
    assert {r.level for r in results} >= {"singles", "guesses"} and sum(r.guesses for r in results) > 0
    one = api.check(P)
    assert (one.verdict, one.solutions, one.solution, one.level, one.guesses) == ("unique", 1, SOLUTION, "singles", 0)
    several = api.check("." * 81)
    assert (several.verdict, several.solutions, several.solution, several.level) == ("several solutions", 2, None, None)


def test_generate_makes_the_generate_commands_puzzles():
    command = runner.invoke(app, ["generate", "-n", "3", "-d", "logic", "--seed", "7", "--json"])
    records = [json.loads(line) for line in command.stdout.splitlines()]
    made = api.generate(3, "logic", seed=7)
    assert [vars(m) for m in made] == [{k: r[k] for k in ("puzzle", "solution", "level")} for r in records]
    assert api.generate(0) == []
    one = api.generate(level="logic", seed=7)
    assert one == made[0] and api.check(one.puzzle).solution == one.solution
    with pytest.raises(ValueError, match="level must be one of singles, logic, guesses"):
        api.generate(1, "hardest")


def test_the_readmes_three_lines_print_the_solution_and_who_found_it():
    section = (ROOT / "README.md").read_text().split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a, **k: printed.append(a)})
    assert len([line for line in code.splitlines() if line]) == 3 and printed[0][:2] == (SOLUTION, True)
    assert printed[0][2] in SEARCH_FOUND[:4] and printed[0][3] >= 1


# -- the package: lazy exports, cheap imports, settings shared with the command ------------------------------


def test_the_package_exports_its_functions_lazily_and_check_and_generate_never_import_torch():
    probe = (
        "import sys, sudoku_trm\n"
        "assert 'sudoku_trm.api' not in sys.modules and 'numpy' not in sys.modules\n"
        "from sudoku_trm import check, generate, solve\n"
        f"assert check({P!r}).verdict == 'unique' and len(generate(2, 'logic', seed=1)) == 2\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
    assert sudoku_trm.solve is api.solve and sudoku_trm.check is api.check and sudoku_trm.generate is api.generate
    assert sudoku_trm.load_model is load_model and set(sudoku_trm.__all__) <= set(dir(sudoku_trm))
    with pytest.raises(AttributeError, match="solver"):
        sudoku_trm.solver  # noqa: B018


def test_the_settings_repeat_the_torch_modules_defaults():
    """settings.py repeats them so that the command line imports no torch for --help."""
    assert settings_module.PRESETS == PRESETS
    assert settings_module.SEARCH_BUDGET == DEFAULT_BUDGET
    assert settings_module.COMMIT_THRESHOLD == DEFAULT_THRESHOLD
    assert settings_module.SolveSettings(effort="search").search_config().budget == DEFAULT_BUDGET
    assert settings_module.SolveSettings(effort="search").search_config().probes == settings_module.SEARCH_PROBES
    assert settings_module.SolveSettings(effort="search", probes=0).search_config().probes == 0


def test_the_command_line_keeps_no_effort_dispatch():
    """What an effort means is inference/settings.py's and solving.py's to say; cli/ parses and draws."""
    text = (ROOT / "sudoku_trm" / "cli" / "model_options.py").read_text()
    for name in ("solve_puzzles", "solve_committed", "solve_searched", "solve_adaptive", "solve_with_votes"):
        assert name not in text


def test_a_puzzle_watched_live_is_credited_as_one_solved_in_a_batch(solver_weights):
    """The live view hands its solver's outcome to the same SolvedBatch; under commit decoding it once fell
    through to adaptive solving's note and crashed (CommitSolutions.found_by takes no row)."""
    import io

    from rich.console import Console

    from sudoku_trm.cli import solve as cli_solve

    easy = str(PUZZLES / "easy.txt")
    shown = []
    for animate in (True, False):
        out = Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)
        options = cli_solve.SolveOptions(weights=solver_weights, delay=0.0, effort="commit", animate=animate)
        assert cli_solve.run(easy, options, out, Console(file=io.StringIO())) == 3  # the tiny model is wrong
        shown.append(out.file.getvalue())
    summaries = [text.strip().splitlines()[-1] for text in shown]
    assert summaries[0].split(";")[:2] == summaries[1].split(";")[:2]  # all but the timing
    assert summaries[0].startswith("6 puzzles: 0 valid, 6 break the rules; mean ")
