"""Guided search (inference/search.py) on scripted stand-in models whose every answer and confidence is
known: always right, wrong on one cell, confidently wrong; and through `solve`/`eval --effort search`."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import torch
from conftest import PUZZLES
from scripted_models import Scripted, Unhurried, always_right, drain, first_wave
from typer.testing import CliRunner

from sudoku_trm.cli import app
from sudoku_trm.inference.engine import InferenceConfig
from sudoku_trm.inference.search import (
    COMMIT_DECODING,
    EXACT_SOLVER,
    GUIDED_SEARCH,
    MODEL_ALONE,
    NO_SOLUTION,
    Move,
    SearchConfig,
    legal_digits,
    search_steps,
    solve_searched,
)
from sudoku_trm.model.tokens import DIGIT_TOKENS, from_tokens
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import CELLS, valid_solutions
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

EASY, MEDIUM = str(PUZZLES / "easy.txt"), str(PUZZLES / "medium.txt")


def confidently_wrong(grids: torch.Tensor):
    """Every blank filled with its lowest legal digit, all sure: commits that lead into dead ends."""
    legal = legal_digits(grids.numpy())
    lowest = torch.from_numpy(legal.argmax(2) + 1)
    return torch.where(grids > 0, grids, lowest), torch.ones(grids.shape, dtype=torch.bool)


def wrong_on_one_cell(solution: np.ndarray, cell: int, digit: int):
    """Right everywhere and sure, except `cell`, where it is sure of the wrong `digit`; the cells whose true
    digit is `digit` in `cell`'s units read unsure (else the clash would keep the wrong digit out)."""
    from sudoku_trm.sudoku.grid import UNITS

    peers = np.zeros(CELLS, dtype=bool)
    for unit in UNITS:
        if cell in unit:
            peers[unit] = True
    shy = peers & (solution == digit)

    def rule(grids: torch.Tensor):
        answers = torch.from_numpy(np.tile(solution.astype(np.int64), (len(grids), 1)))
        answers[:, cell] = digit
        sure = torch.from_numpy(np.tile(~shy, (len(grids), 1)))
        return torch.where(grids > 0, grids, answers), sure

    return rule


@pytest.fixture(scope="module")
def easy():
    return load_puzzle_set(PUZZLES / "easy.txt")


@pytest.fixture(scope="module")
def medium():
    return load_puzzle_set(PUZZLES / "medium.txt")


def test_an_always_right_model_is_the_model_alone(easy):
    model = Scripted(always_right)
    result = solve_searched(model, easy.questions)
    assert result.found == [MODEL_ALONE] * len(easy)
    assert (result.calls == 1).all() and model.rows_run == len(easy)
    assert not (result.committed.any() or result.guesses.any() or result.backtracks.any())
    assert result.valid.all() and (result.solutions.answers == easy.answers).all()


def test_commit_decoding_without_a_guess(easy):
    # The search's own moves, without logic between calls (which would place these cells itself).
    result = solve_searched(Scripted(first_wave), easy.questions, SearchConfig(logic=False))
    _, _, stall = logic_rounds(easy.questions)
    assert result.found == [COMMIT_DECODING] * len(easy)
    assert (result.calls == stall).all() and not result.guesses.any()
    assert result.valid.all()


def test_a_wrong_commit_is_undone_by_backtracking(easy):
    puzzle, solution = easy.questions[0], easy.answers[0]
    legal = legal_digits(puzzle)[0]
    cell = next(c for c in range(CELLS) if legal[c].sum() >= 2)
    digit = next(d + 1 for d in range(9) if legal[cell, d] and d + 1 != solution[cell])
    model = Scripted(wrong_on_one_cell(solution, cell, digit))
    events, result = drain(search_steps(model, puzzle[None], SearchConfig(budget=50, logic=False)))
    moves = [e for e in events if isinstance(e, Move)]
    first = moves[0]
    assert first.kind == "commit" and first.cells[cell] and first.grid[cell] == digit  # the wrong digit went in
    assert any(m.kind == "backtrack" and m.cells[cell] for m in moves)  # ... and came out again
    # Once the wrong commit stands alone and fails, its digit is known wrong there: never guessed after.
    assert not any(m.kind == "guess" and m.cell == cell and m.digit == digit for m in moves)
    assert result.found == [GUIDED_SEARCH] and result.valid.all()
    assert (result.solutions.answers[0] == solution).all()
    # The counts are the moves: one call a row the model ran, one guess a guess move, one backtrack each.
    assert result.calls[0] == model.rows_run
    assert result.guesses[0] == sum(m.kind == "guess" for m in moves)
    assert result.backtracks[0] == sum(m.kind == "backtrack" for m in moves)
    # Committed: the cells the model committed that stand in the answer, replayed from the moves (a backtrack
    # undoes cells); never a count that adds the undone commits again, so never more than the blanks.
    in_force = np.zeros(CELLS, dtype=bool)
    for m in moves:
        if m.kind in ("commit", "retry"):
            in_force |= m.cells
        elif m.kind == "backtrack":
            in_force &= ~m.cells
    assert result.committed[0] == in_force.sum() <= (puzzle == 0).sum()


@pytest.mark.parametrize("budget", [1, 2, 5])
def test_the_budget_is_never_exceeded_and_the_exact_solver_finishes(medium, budget):
    model = Scripted(confidently_wrong)
    result = solve_searched(model, medium.questions, SearchConfig(budget=budget), InferenceConfig(batch_size=4))
    assert (result.calls <= budget).all()
    assert model.rows_run == result.calls.sum()
    assert result.valid.all()  # every valid puzzle gets a valid answer, whatever the model
    assert (result.solutions.answers == medium.answers).all()
    # Its sure commits may be right by chance and logic finish from them (commit decoding); never the model alone.
    assert set(result.found) <= {COMMIT_DECODING, GUIDED_SEARCH, EXACT_SOLVER}
    assert (np.array(result.found) == EXACT_SOLVER).sum() >= 1
    assert (result.solver_guesses[np.array(result.found) != EXACT_SOLVER] == 0).all()


@pytest.mark.parametrize("budget", [1, 3, 8])
def test_the_hand_off_costs_exactly_the_exact_solvers_own_guesses_on_hard_puzzles(shared_sample, budget):
    """Forum-hardest puzzles and a model sure of wrong digits: whatever the search did with its budget, the
    exact solver's finish needs no more guesses than it needs on the puzzle as posed (it once needed ~4x)."""
    hard = load_puzzle_set(shared_sample / "hard_dev.csv").subset(np.arange(12))
    result = solve_searched(Scripted(confidently_wrong), hard.questions, SearchConfig(budget=budget))
    finished = np.array(result.found) == EXACT_SOLVER
    assert finished.all() and result.valid.all()
    assert (result.solutions.answers == hard.answers).all()
    own = np.array([solver.analyse(q, limit=1).guesses for q in hard.questions])
    assert (result.solver_guesses == own).all()
    assert (result.committed == 0).all()  # nothing the model committed stands on the finish's path


def unsure_and_wrong(grids: torch.Tensor):
    """Every blank filled with its lowest legal digit, none sure: each call stalls, and the search guesses."""
    answers, sure = confidently_wrong(grids)
    return answers, ~sure


@pytest.mark.parametrize("budget", [1, 2, 4])
def test_no_guess_follows_a_puzzles_last_call(shared_sample, budget):
    """A guess sets up the next call; after the last one (budget spent) it would only add to the guesses: the
    search makes none there, and the exact solver finishes with its own guesses, no more."""
    hard = load_puzzle_set(shared_sample / "hard_dev.csv").subset(np.arange(6))
    events, result = drain(search_steps(Scripted(unsure_and_wrong), hard.questions, SearchConfig(budget=budget)))
    guesses = [e for e in events if isinstance(e, Move) and e.kind == "guess"]
    assert bool(guesses) == (budget > 1)  # with calls to follow, a stall still branches
    assert all(move.calls < budget for move in guesses)
    assert result.guesses.sum() == len(guesses)
    assert result.found == [EXACT_SOLVER] * len(hard) and result.valid.all()
    own = np.array([solver.analyse(q, limit=1).guesses for q in hard.questions])
    assert (result.solver_guesses == own).all()


def test_no_guess_follows_the_call_that_spends_the_time_limit(shared_sample):
    hard = load_puzzle_set(shared_sample / "hard_dev.csv").subset(np.arange(3))
    config = SearchConfig(budget=8, time_limit=1e-12)  # any call spends it
    result = solve_searched(Scripted(unsure_and_wrong), hard.questions, config)
    assert (result.calls == 1).all() and (result.guesses == 0).all()
    assert result.timed_out.all() and result.found == [EXACT_SOLVER] * len(hard)


@pytest.mark.parametrize("branch", ["surest", "fewest"])
def test_no_answer_that_breaks_a_rule_is_reported_valid(medium, branch):
    result = solve_searched(Scripted(confidently_wrong), medium.questions, SearchConfig(budget=3, branch=branch))
    assert (result.valid == valid_solutions(medium.questions, result.solutions.answers)).all()
    assert (result.single.answers != medium.answers).any(1).all()  # the model alone is wrong on each


def test_a_puzzle_without_a_solution_is_never_reported_valid():
    unsolvable = np.zeros((1, CELLS), dtype=np.uint8)
    unsolvable[0, :8] = np.arange(1, 9)
    unsolvable[0, 17] = 9  # r2c9 = 9 leaves r1c9 no digit: no conflict, no solution
    for budget in (1, 4):
        result = solve_searched(Scripted(confidently_wrong), unsolvable, SearchConfig(budget=budget))
        assert result.found == [NO_SOLUTION] and not result.valid.any()
        assert not valid_solutions(unsolvable, result.solutions.answers).any()


def test_every_move_keeps_the_rules(medium):
    events, result = drain(search_steps(Scripted(confidently_wrong), medium.questions, SearchConfig(budget=8)))
    for move in (e for e in events if isinstance(e, Move)):
        legal = legal_digits(np.where(move.cells, 0, move.grid))[0]
        if move.kind in ("commit", "retry", "guess"):
            placed = np.flatnonzero(move.cells)
            assert legal[placed, move.grid[placed] - 1].all()  # a commit or guess never breaks a rule


def test_guesses_follow_the_model_order(easy):
    puzzle = easy.questions[0]

    def unsure_everywhere(grids: torch.Tensor):
        answers, _ = always_right(grids)
        return answers, torch.zeros(grids.shape, dtype=torch.bool)

    config = SearchConfig(budget=3, logic=False)  # logic would solve this easy puzzle before any guess
    events, result = drain(search_steps(Scripted(unsure_everywhere), puzzle[None], config))
    guess = next(e for e in events if isinstance(e, Move) and e.kind == "guess")
    # Unsure cells read as the next digit (p ~ 0.6), so the first guess is that digit, where legal.
    legal = legal_digits(puzzle)[0, guess.cell]
    runner_up = easy.answers[0, guess.cell] % 9 + 1
    assert guess.digit == (runner_up if legal[runner_up - 1] else easy.answers[0, guess.cell])
    assert result.valid.all()


def test_bad_settings_are_refused():
    for bad in (dict(budget=0), dict(threshold=0.0), dict(threshold=1.01), dict(branch="widest"), dict(settle=0)):
        with pytest.raises(ValueError):
            SearchConfig(**bad)
    assert SearchConfig(threshold=1.0, budget=1, settle=1).threshold == 1.0  # the edges themselves are allowed


# -- in the commands -------------------------------------------------------------------------------------


def test_solve_answers_every_valid_puzzle_by_default(solver_weights):
    result = CliRunner().invoke(app, ["solve", EASY, "--weights", str(solver_weights)])
    assert result.exit_code == 0, result.output
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("6 valid: ") and "model calls" in summary
    records = CliRunner().invoke(app, ["solve", EASY, "--weights", str(solver_weights), "--json"])
    search = [json.loads(line)["search"] for line in records.stdout.splitlines()]
    assert all(json.loads(line)["valid"] for line in records.stdout.splitlines())
    assert {s["found_by"] for s in search} <= {MODEL_ALONE, COMMIT_DECODING, GUIDED_SEARCH, EXACT_SOLVER}
    assert all(s["model_calls"] <= s["budget"] == 16 for s in search)


def test_a_rule_breaking_answer_exits_3_and_points_to_the_way_out(solver_weights):
    result = CliRunner().invoke(app, ["solve", EASY, "--weights", str(solver_weights), "--effort", "off"])
    assert result.exit_code == 3, result.output
    note = result.stderr.strip().splitlines()[-1]
    assert "break the rules" in note and "--effort search" in note and f"sudoku-trm check {EASY}" in note


def test_watching_the_model_alone_turns_the_search_off(solver_weights):
    result = CliRunner().invoke(app, ["solve", EASY, "--weights", str(solver_weights), "--steps", "2"])
    assert result.exit_code == 3  # the model alone, two steps: wrong, said so
    refused = CliRunner().invoke(
        app, ["solve", EASY, "--weights", str(solver_weights), "--effort", "search", "--trace"]
    )
    assert refused.exit_code == 2


def test_eval_reports_the_search_beside_the_model_alone_and_the_exact_solver(solver_weights):
    result = CliRunner().invoke(
        app,
        ["eval", MEDIUM, "--weights", str(solver_weights), "--effort", "search", "--budget", "3"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(
        CliRunner()
        .invoke(
            app,
            [
                "eval",
                MEDIUM,
                "--weights",
                str(solver_weights),
                "--effort",
                "search",
                "--budget",
                "3",
            ]
            + ["--json"],
        )
        .stdout
    )
    assert document["effort"] == "search" and document["budget"] == 3
    search = document["files"][0]["search"]
    assert sum(search["found_by"].values()) == 6 and search["mean_model_calls"] <= 3
    assert search["mean_exact_solver_guesses"] == pytest.approx(
        np.mean([solver.analyse(q, 1).guesses for q in load_puzzle_set(PUZZLES / "medium.txt").questions])
    )
    assert document["files"][0]["valid"] == 1.0 and search["single_grid_accuracy"] < 1.0


def test_the_live_view_draws_commits_guesses_and_backtracks(easy, monkeypatch):
    import io

    from rich.console import Console

    from sudoku_trm.cli import live

    puzzle, solution = easy.questions[0], easy.answers[0]
    legal = legal_digits(puzzle)[0]
    cell = next(c for c in range(CELLS) if legal[c].sum() >= 2)
    digit = next(d + 1 for d in range(9) if legal[cell, d] and d + 1 != solution[cell])
    model = Scripted(wrong_on_one_cell(solution, cell, digit))
    frames = []
    monkeypatch.setattr(live.Live, "update", lambda self, renderable, refresh=False: frames.append(renderable))
    out = Console(file=io.StringIO(), force_terminal=True, width=120)
    from sudoku_trm.sudoku.puzzles import Puzzle

    shown = Puzzle(puzzle, None, "<test>", 1)
    solutions, last, outcome = live.watch(
        out,
        shown,
        lambda: model,
        InferenceConfig,
        0.0,
        lambda m, n: contextlib.nullcontext(),
        None,
        lambda: SearchConfig(budget=50, logic=False),
    )
    text = []
    for frame in frames:
        console = Console(file=io.StringIO(), width=160, color_system=None)
        console.print(frame)
        text.append(console.file.getvalue())
    statuses = [t.strip().splitlines()[-1] for t in text]
    assert any("committed" in s for s in statuses)
    assert any("backtrack" in s for s in statuses) and any("guess r" in s for s in statuses)
    assert any(s.startswith("call 2") for s in statuses)
    assert (solutions.answers[0] == solution).all() and outcome.found == [GUIDED_SEARCH]


# -- logic between calls, and calls that stop as they settle ---------------------------------------------------


@pytest.fixture(scope="module")
def very_hard():
    return load_puzzle_set(PUZZLES / "very_hard.txt")


def wrong_and_unsure(grids: torch.Tensor):
    """Every blank read as a wrong digit, unsure: the model never helps."""
    answers, _ = always_right(grids)
    return torch.where(grids > 0, grids, answers % 9 + 1), torch.zeros(grids.shape, dtype=torch.bool)


def sure_of_the_first_blank(grids: torch.Tensor):
    """Sure and right of each node's first blank only; every other blank read as a wrong digit, unsure."""
    answers, _ = wrong_and_unsure(grids)
    right, _ = always_right(grids)
    sure = torch.zeros(grids.shape, dtype=torch.bool)
    for row, grid in enumerate(grids):
        first = int(torch.nonzero(grid == 0).min())
        sure[row, first] = True
        answers[row, first] = right[row, first]
    return answers, sure


def test_a_puzzle_logic_solves_is_the_exact_solvers_when_the_model_fails(easy):
    model = Scripted(wrong_and_unsure)
    events, result = drain(search_steps(model, easy.questions[:2]))
    moves = [e for e in events if isinstance(e, Move)]
    assert result.found == [EXACT_SOLVER] * 2 and result.valid.all()
    assert result.calls.tolist() == [1, 1] and model.rows_run == 2
    assert not (result.guesses.any() or result.solver_guesses.any() or result.committed.any())
    logic = [m for m in moves if m.kind == "logic"]
    assert [m.row for m in logic] == [0, 1]
    for m in logic:  # one move places every blank of the puzzle as posed
        assert (m.cells == (easy.questions[m.row] == 0)).all() and (m.grid == easy.answers[m.row]).all()
        assert m.describe() == f"logic placed {int(m.cells.sum())} cells"


def test_without_logic_the_same_model_leaves_the_puzzle_to_the_budget(easy):
    result = solve_searched(Scripted(wrong_and_unsure), easy.questions[:2], SearchConfig(budget=3, logic=False))
    assert (result.calls == 3).all() and set(result.found) <= {GUIDED_SEARCH, EXACT_SOLVER}


@pytest.mark.parametrize("rule", [wrong_and_unsure, confidently_wrong, sure_of_the_first_blank])
def test_every_node_the_model_sees_after_the_first_is_as_far_as_logic_goes(very_hard, rule):
    """Logic runs before each later call: the model is never asked about a cell logic places, nor about a
    node logic proves dead. Its first call sees the puzzle as posed (the model alone)."""
    events, result = drain(search_steps(Scripted(rule), very_hard.questions, SearchConfig(budget=6)))
    calls = [e for e in events if not isinstance(e, Move)]
    assert all((e.grids == very_hard.questions[e.rows]).all() for e in calls if e.call == 1)
    later = [grid for e in calls if e.call > 1 for grid in e.grids]
    assert later
    for grid in later:
        pushed = solver.propagate(grid)
        assert pushed is not None and (pushed[0] == grid).all()
    assert result.valid.all() and (result.calls <= 6).all()


def test_a_guess_is_one_of_the_digits_logic_leaves(very_hard):
    events, _ = drain(search_steps(Scripted(wrong_and_unsure), very_hard.questions, SearchConfig(budget=6)))
    guesses = [e for e in events if isinstance(e, Move) and e.kind == "guess"]
    assert guesses
    for move in guesses:
        before = move.grid.copy()
        before[move.cell] = 0
        pushed = solver.propagate(before)
        assert pushed is not None and pushed[1][move.cell, move.digit - 1]
        # ... which may be fewer than the digits no peer holds: locked candidates and hidden singles strike some.
        assert pushed[1][move.cell].sum() <= legal_digits(before)[0, move.cell].sum()


def test_commits_that_logic_carries_to_the_end_are_commit_decoding(very_hard):
    """One right commit a call, logic between: the answer is commit decoding's, never the model alone's."""
    model = Scripted(sure_of_the_first_blank)
    events, result = drain(search_steps(model, very_hard.questions[:2], SearchConfig(budget=81)))
    commits = [e for e in events if isinstance(e, Move) and e.kind == "commit"]
    assert result.found == [COMMIT_DECODING] * 2 and result.valid.all()
    assert not result.guesses.any() and not result.backtracks.any()
    for row in (0, 1):  # one commit a call: the last call's, too, unless its own answer was right
        made = sum(m.row == row for m in commits)
        assert made == result.committed[row] and result.calls[row] - 1 <= made <= result.calls[row]
    assert (result.calls > 1).all()


@pytest.mark.parametrize("settle", [1, 2, 3])
def test_calls_after_the_first_stop_once_their_answer_stood_settle_steps(very_hard, settle):
    horizon = 8
    result = solve_searched(
        Unhurried(wrong_and_unsure, horizon), very_hard.questions[:3], SearchConfig(budget=4, settle=settle)
    )
    assert (result.single.steps == horizon).all()  # the model alone runs to its own limit
    assert (result.calls == 4).all()
    assert result.solutions.steps.tolist() == [horizon + 3 * (settle + 1)] * 3


def test_calls_that_never_settle_run_to_the_step_limit(very_hard):
    result = solve_searched(
        Unhurried(wrong_and_unsure, 8), very_hard.questions[:2], SearchConfig(budget=3, settle=None)
    )
    assert result.solutions.steps.tolist() == [3 * 8] * 2


def test_after_logic_moves_the_puzzle_the_model_is_asked_again_before_any_guess():
    """The first call saw the puzzle as posed; logic then placed cells. With nothing sure, the search asks the
    model about the new node instead of guessing from what it said about the old one."""
    candidates = np.concatenate([load_puzzle_set(PUZZLES / name).questions for name in ("hard.txt", "very_hard.txt")])
    puzzle = next(p for p in candidates if (solver.propagate(p)[0] != p).any() and (solver.propagate(p)[0] == 0).any())
    pushed = solver.propagate(puzzle)[0]
    events, result = drain(search_steps(Scripted(wrong_and_unsure), puzzle[None], SearchConfig(budget=4)))
    kinds = [("call", e.call) if not isinstance(e, Move) else e.kind for e in events]
    second = kinds.index(("call", 2))
    assert "logic" in kinds[:second] and "guess" not in kinds[:second]
    assert all((e.grids[0] == pushed).all() for e in events if not isinstance(e, Move) and e.call == 2)
    assert result.valid.all()


def test_solve_has_a_time_limit_by_default_and_eval_none(monkeypatch):
    from sudoku_trm.cli import eval as cli_eval
    from sudoku_trm.cli import solve as cli_solve
    from sudoku_trm.inference.settings import SOLVE_TIME_LIMIT

    seen = {}
    monkeypatch.setattr(cli_solve, "run", lambda files, options, out, err: seen.setdefault("solve", options) and 0)
    monkeypatch.setattr(cli_eval, "run", lambda files, options, out, err: seen.setdefault("eval", options) and 0)
    runner = CliRunner()
    assert runner.invoke(app, ["solve", EASY]).exit_code == 0
    assert runner.invoke(app, ["eval", EASY, "--effort", "search"]).exit_code == 0
    assert seen["solve"].search_config().time_limit == SOLVE_TIME_LIMIT == 1.0
    assert seen["eval"].search_config().time_limit is None
    seen.clear()
    assert runner.invoke(app, ["solve", EASY, "--time-limit", "3"]).exit_code == 0
    assert seen["solve"].search_config().time_limit == 3.0
    assert runner.invoke(app, ["solve", EASY, "--time-limit", "0"]).exit_code == 2


class Counting(Scripted):
    """`rule`'s answers; records the state each forward starts from (carry.y, which every step raises by 1)."""

    def __init__(self, rule):
        super().__init__(rule)
        self.seen: list[float] = []

    def forward(self, carry, inputs):
        self.seen += carry.y[:, 0, 0].tolist()
        _, logits, halt = super().forward(carry, inputs)
        return type(carry)(carry.y + 1, carry.z), logits, halt


@pytest.mark.parametrize("warm", [False, True])
def test_a_warm_call_starts_where_the_puzzles_last_call_ended(very_hard, warm):
    model = Counting(wrong_and_unsure)
    result = solve_searched(model, very_hard.questions[:1], SearchConfig(budget=3, warm=warm))
    assert result.calls.tolist() == [3]  # one step a call (the stand-in halts at once)
    assert model.seen == ([0.0, 1.0, 2.0] if warm else [0.0, 0.0, 0.0])


def _no_solution_logic_cannot_see(puzzles: np.ndarray) -> np.ndarray:
    """A puzzle with no solution whose contradiction logic alone does not find: a hard puzzle with one more
    given that no peer forbids but that no solution holds."""
    for puzzle in puzzles:
        solution = solver.solve(puzzle)
        for cell in np.flatnonzero(puzzle == 0):
            for digit in np.flatnonzero(legal_digits(puzzle)[0, cell]) + 1:
                if digit == solution[cell]:
                    continue
                broken = puzzle.copy()
                broken[cell] = digit
                if solver.propagate(broken) is not None and solver.count_solutions(broken, 1) == 0:
                    return broken
    raise AssertionError("no such puzzle among those given")


def test_every_move_names_its_own_puzzle_and_every_puzzle_ends_once(very_hard, easy):
    """A batch of puzzles that end every way: model alone, commits, guesses and backtracks, the budget, no
    solution. Each move says which puzzle it is about (its grid keeps that puzzle's givens), and each puzzle's
    last move is its one ending."""
    broken = _no_solution_logic_cannot_see(very_hard.questions)
    puzzles = np.concatenate([easy.questions[:2], very_hard.questions[:3], broken[None]])
    for rule, budget in ((always_right, 4), (wrong_and_unsure, 3), (sure_of_the_first_blank, 40)):
        events, result = drain(search_steps(Scripted(rule), puzzles, SearchConfig(budget=budget)))
        moves = [e for e in events if isinstance(e, Move)]
        ends = ("solved", "exact solver", "time limit", "no solution")
        for move in moves:
            assert isinstance(move.row, int) and 0 <= move.row < len(puzzles)
            givens = puzzles[move.row] > 0
            assert (move.grid[givens] == puzzles[move.row][givens]).all()
        assert sorted(m.row for m in moves if m.kind in ends) == list(range(len(puzzles)))
        for row in range(len(puzzles)):
            last = [m for m in moves if m.row == row][-1]
            said = {EXACT_SOLVER: ("exact solver", "time limit"), NO_SOLUTION: ("no solution",)}
            assert last.kind in said.get(result.found[row], ("solved",))
            assert (last.grid == result.solutions.answers[row]).all()
        for call in (e for e in events if not isinstance(e, Move)):  # each node run is its puzzle's
            assert call.rows.dtype == np.int64 and len(call.rows) == len(call.grids)
            for row, grid in zip(call.rows, call.grids):
                assert (grid[puzzles[row] > 0] == puzzles[row][puzzles[row] > 0]).all()
        for move in moves:  # a move's depth and calls are the puzzle's own, counted so far
            assert isinstance(move.depth, int) and 0 <= move.depth and 0 <= move.calls <= result.calls[move.row]
        assert result.found[-1] == NO_SOLUTION and not result.valid[-1] and result.valid[:-1].all()
        if rule is wrong_and_unsure:  # the budget ran out on the broken puzzle: the exact solver proved it
            assert result.calls[-1] == budget and result.solver_guesses[-1] > 0


class Graded(Scripted):
    """Never sure: the right digit a little above the next one, by more the later the cell (so a node's surest
    cell is its last blank), except at its first blank, which reads as the next digit (so no answer is valid)."""

    def forward(self, carry, inputs):
        self.rows_run += len(inputs)
        grids = from_tokens(inputs).long()
        answers, _ = always_right(grids)
        logits = torch.full((len(inputs), CELLS, self.config.vocab_size), -30.0)
        lift = (1.0 + 0.004 * torch.arange(CELLS, dtype=torch.float32)).repeat(len(inputs), 1)
        for row, grid in enumerate(grids):
            lift[row, int(torch.nonzero(grid == 0).min())] = 0.9
        logits.scatter_(2, (answers % 9 + DIGIT_TOKENS.start).unsqueeze(-1), torch.ones(len(inputs), CELLS, 1))
        logits.scatter_(2, (answers + DIGIT_TOKENS.start - 1).unsqueeze(-1), lift.unsqueeze(-1))
        return carry, logits, torch.full((len(inputs),), 10.0)


@pytest.mark.parametrize("branch", ["surest", "fewest"])
def test_a_stall_branches_on_the_cell_its_measure_names(very_hard, branch):
    events, _ = drain(
        search_steps(Graded(always_right), very_hard.questions[:3], SearchConfig(budget=3, branch=branch))
    )
    for row in range(3):
        guess = next(e for e in events if isinstance(e, Move) and e.row == row and e.kind == "guess")
        node = guess.grid.copy()
        node[guess.cell] = 0
        candidates = solver.propagate(node)[1].sum(1)
        blanks = np.flatnonzero(node == 0)
        if branch == "fewest":
            blanks = blanks[candidates[blanks] == candidates[blanks].min()]
        assert guess.cell == blanks.max()  # the surest (the last) among the cells the measure allows
        assert len(np.flatnonzero(node == 0)) > len(blanks) or branch == "surest"


def test_the_final_confidence_is_the_models_where_the_answer_is_its_own(very_hard):
    """Givens 1; a blank whose final digit is the one the model's last call gave keeps that call's confidence;
    a blank the search or the exact solver filled otherwise reads 0 (drawn as unsure)."""
    from sudoku_trm.inference.engine import Step

    for rule in (wrong_and_unsure, always_right, sure_of_the_first_blank):
        events, result = drain(search_steps(Scripted(rule), very_hard.questions[:3], SearchConfig(budget=2)))
        said, sure = {}, {}
        for event in events:  # the last step of each puzzle's last call
            if not isinstance(event, Move) and isinstance(event.event, Step):
                for j, row in enumerate(event.rows):
                    said[int(row)], sure[int(row)] = event.event.answers[j], event.event.confidence[j]
        final = result.solutions
        assert final.confidence.dtype == np.float32 and final.step_limit == result.single.step_limit == 2
        for row in range(3):
            given = final.puzzles[row] > 0
            own = ~given & (final.answers[row] == said[row])
            assert (final.confidence[row][given] == 1.0).all()
            assert np.array_equal(final.confidence[row][own], sure[row][own].astype(np.float32))
            assert (final.confidence[row][~given & ~own] == 0.0).all()
        if rule is always_right:
            assert (final.confidence[final.puzzles == 0] > 0.9).all()
