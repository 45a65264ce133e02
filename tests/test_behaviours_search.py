"""What a user sees of guided search (inference/search.py), commit decoding (inference/commit.py) and solve's
summary of them, pinned exactly: stand-in models whose every answer and confidence is known make every count
known. The rule checks (legal digits, dead ends, sure cells) are tried on each unit kind alone: a row, a
column, a box."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import PUZZLES, at, grid_with
from scripted_models import SURE, Scripted, StandIn, Unhurried, always_right, drain, first_wave
from typer.testing import CliRunner

from sudoku_trm.cli import app
from sudoku_trm.inference import commit as commit_module
from sudoku_trm.inference import engine as engine_module
from sudoku_trm.inference import search as search_module
from sudoku_trm.inference.commit import solve_committed, sure_cells
from sudoku_trm.inference.engine import InferenceConfig, finish, solve_steps
from sudoku_trm.inference.search import (
    COMMIT_DECODING,
    EXACT_SOLVER,
    GUIDED_SEARCH,
    MODEL_ALONE,
    NO_SOLUTION,
    SearchConfig,
    dead_ends,
    legal_digits,
    solve_searched,
)
from sudoku_trm.inference.settings import SolveSettings
from sudoku_trm.model.tokens import DIGIT_TOKENS, from_tokens
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import CELLS
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

EASY = PUZZLES / "easy.txt"


@pytest.fixture(scope="module")
def easy():
    return load_puzzle_set(EASY)


class Chosen(StandIn):
    """A stand-in whose unsure cells read as the right digit, a little unsure (p ~ 0.89 under stable-max,
    below the commit threshold 0.9): `rule(grids) -> (answers, sure)`. Halts at once: one step a call."""

    def __init__(self, rule):
        super().__init__(rule, horizon=2)

    def forward(self, carry, inputs):
        self.rows_run += len(inputs)
        answers, sure = self.rule(from_tokens(inputs).long())
        logits = torch.full((len(inputs), CELLS, self.config.vocab_size), -SURE)
        index = (answers + DIGIT_TOKENS.start - 1).unsqueeze(-1)
        logits.scatter_(2, index, torch.where(sure, SURE, 1.0).unsqueeze(-1))
        return carry, logits, torch.full((len(inputs),), 10.0)


def unsure_everywhere(grids: torch.Tensor):
    """Unsure everywhere, right but on the last blank (so the answer fails): a stall, whose surest cell is the
    first blank, with the right digit first."""
    answers, _ = always_right(grids)
    for row, grid in enumerate(grids):
        last = int(torch.nonzero(grid == 0).max())
        answers[row, last] = answers[row, last] % 9 + 1
    return answers, torch.zeros(grids.shape, dtype=torch.bool)


def per_puzzle(puzzles: np.ndarray, rules: list):
    """A rule that follows `rules[i]` on every node of puzzle i (a node holds the puzzle's givens)."""

    def rule(grids: torch.Tensor):
        answers, sure = [], []
        for grid in grids:
            node = grid.numpy()
            owner = next(i for i, p in enumerate(puzzles) if (node[p > 0] == p[p > 0]).all())
            a, s = rules[owner](grid[None], puzzles[owner])
            answers.append(a[0])
            sure.append(s[0])
        return torch.stack(answers), torch.stack(sure)

    return rule


def alone(grid, puzzle):
    return always_right(grid)


def waves(grid, puzzle):
    """Sure and right of what one round of logic places; the rest reads as a wrong digit, unsure."""
    answers, sure = first_wave(grid)
    return torch.where(sure | (grid > 0), answers, answers % 9 + 1), sure


def guessing_once(grid, puzzle):
    """Unsure (but right) on the puzzle itself, sure and right on any node past it: one guess, then solved."""
    if (grid.numpy()[0] == puzzle).all():
        return unsure_everywhere(grid)
    return always_right(grid)


def never_sure(grid, puzzle):
    return unsure_everywhere(grid)


# The six puzzles of easy.txt, each found another way. Commit decoding needs stall = 8 calls on puzzle 2.
MIXED = [alone, alone, waves, guessing_once, never_sure, alone]
MIXED_BUDGET = 10


class SteppedClock:
    """The engine's clock (its `time` module), which moves only while the model runs: each model step takes
    `seconds`, whatever the machine's load."""

    def __init__(self, seconds: float):
        self.now, self.seconds = 0.0, seconds

    def perf_counter(self) -> float:
        return self.now


class Clocked:
    """A model whose every step moves `clock` on by its `seconds`; anything else goes to the model."""

    def __init__(self, model, clock: SteppedClock):
        self.model, self.clock = model, clock

    def __call__(self, *args, **kwargs):
        self.clock.now += self.clock.seconds
        return self.model(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.model, name)


def timed(module, monkeypatch, seconds: float) -> list[int]:
    """Every model step run through `module`'s engine takes `seconds` (the stand-ins run one step a call);
    returns the list of rows each engine run had."""
    real = module.solve_steps
    clock = SteppedClock(seconds)
    monkeypatch.setattr(engine_module, "time", clock)
    runs: list[int] = []

    def run(model, grids, config, *start):
        runs.append(len(grids))
        return (yield from real(Clocked(model, clock), grids, config, *start))

    monkeypatch.setattr(module, "solve_steps", run)
    return runs


# -- the rule checks, one unit kind at a time ------------------------------------------------------------


@pytest.mark.parametrize(
    "peer, shares",
    [(at(1, 9), "row"), (at(9, 1), "column"), (at(3, 3), "box"), (at(5, 5), "nothing")],
)
def test_a_digit_is_legal_unless_a_peer_holds_it(peer, shares):
    grid = np.zeros(CELLS, dtype=np.uint8)
    grid[peer] = 7
    legal = legal_digits(grid)[0]
    assert legal[at(1, 1), 6] == (shares == "nothing")  # r1c1 = 7
    assert legal[at(1, 1)].sum() == (9 if shares == "nothing" else 8)
    assert not legal[peer].any()  # a filled cell takes no digit


# Dead only because one unit has no place left for 5, each blank keeping a legal digit: r1c8 and r1c9 may
# only be 9 (the 5s of columns 8 and 9 strike them), so row 1 has no place for its 5.
ROW_DEAD = grid_with(r1c1=1, r1c2=2, r1c3=3, r1c4=4, r1c5=6, r1c6=7, r1c7=8, r6c8=5, r8c9=5)
# Box 1 full but r3c2 and r3c3, both struck for 5 by their columns' 5s.
BOX_DEAD = grid_with(r1c1=1, r1c2=2, r1c3=3, r2c1=4, r2c2=6, r2c3=7, r3c1=8, r5c2=5, r8c3=5)


@pytest.mark.parametrize(
    "grid, striker",
    [(ROW_DEAD, at(6, 8)), (ROW_DEAD.reshape(9, 9).T.ravel(), at(8, 6)), (BOX_DEAD, at(5, 2))],
    ids=["row", "column", "box"],
)
def test_a_unit_with_no_place_left_for_a_digit_is_a_dead_end(grid, striker):
    blank = grid == 0
    assert legal_digits(grid)[0][blank].any(1).all()  # no cell is stuck: only the unit rule sees it
    assert dead_ends(grid)[0]
    alive = grid.copy()
    alive[striker] = 0  # the 5 that took the last place away
    assert not dead_ends(alive)[0]
    assert dead_ends(np.stack([alive, grid])).tolist() == [False, True]


def test_a_blank_with_no_legal_digit_is_a_dead_end():
    stuck = grid_with(r1c1=1, r1c2=2, r1c3=3, r1c4=4, r1c5=5, r1c6=6, r1c7=7, r1c8=8, r9c9=9)
    assert dead_ends(stuck)[0]
    stuck[at(9, 9)] = 0
    assert not dead_ends(stuck)[0]


@pytest.mark.parametrize(
    "other, shares",
    [(at(1, 9), "row"), (at(9, 1), "column"), (at(2, 2), "box"), (at(5, 5), "nothing")],
)
def test_a_sure_digit_beside_the_same_digit_in_any_unit_is_not_committed(other, shares):
    grids = np.zeros((1, CELLS), dtype=np.uint8)
    answers = np.zeros((1, CELLS), dtype=np.uint8)
    confidence = np.zeros((1, CELLS), dtype=np.float32)
    answers[0, at(1, 1)], confidence[0, at(1, 1)] = 4, 0.99
    # Beside a given 4: refused when they share a unit.
    given = grids.copy()
    given[0, other] = 4
    assert sure_cells(given, answers, confidence, 0.9)[0, at(1, 1)] == (shares == "nothing")
    # Beside another sure 4 of the same round: both refused when they share a unit.
    answers[0, other], confidence[0, other] = 4, 0.99
    sure = sure_cells(grids, answers, confidence, 0.9)[0]
    assert sure[at(1, 1)] == sure[other] == (shares == "nothing")
    assert sure.sum() == (2 if shares == "nothing" else 0)


# -- guided search: exact counts ----------------------------------------------------------------------------


def test_a_unique_puzzle_is_not_reported_as_having_several_solutions(easy):
    several = np.zeros(CELLS, dtype=np.uint8)
    several[:9] = easy.answers[0, :9]  # one row given: a great many solutions
    assert solver.count_solutions(several, limit=2) == 2
    puzzles = np.stack([easy.questions[0], several, easy.questions[1]])
    result = solve_searched(Scripted(always_right), puzzles)
    assert result.several.tolist() == [False, True, False]
    assert result.valid.all() and result.found == [MODEL_ALONE] * 3
    assert [result.record(i)["several_solutions"] for i in range(3)] == [False, True, False]
    assert result.note(0) == MODEL_ALONE
    assert result.note(1) == "model alone; the puzzle has several solutions, this is one"


def test_model_steps_and_seconds_count_every_call(easy, monkeypatch):
    runs = timed(search_module, monkeypatch, 0.25)
    result = solve_searched(Scripted(first_wave), easy.questions, SearchConfig(logic=False))
    _, _, stall = logic_rounds(easy.questions)
    assert result.calls.tolist() == stall.tolist()
    assert result.solutions.steps.tolist() == stall.tolist()  # one step a call, every call counted
    assert result.single.steps.tolist() == [1] * len(easy)  # the model alone: the first call only
    assert len(runs) == stall.max()  # one engine run a round of calls (the batch fits)
    assert result.solutions.seconds == pytest.approx(0.25 * stall.max())
    assert result.single.seconds == pytest.approx(0.25)


def test_the_seconds_add_up_over_batches(easy, monkeypatch):
    runs = timed(search_module, monkeypatch, 0.5)
    result = solve_searched(Scripted(always_right), easy.questions, inference=InferenceConfig(batch_size=4))
    assert runs == [4, 2] and result.solutions.seconds == pytest.approx(1.0)


def test_each_way_of_finding_the_answer_is_counted_exactly(easy):
    model = Chosen(per_puzzle(easy.questions, MIXED))
    result = solve_searched(model, easy.questions, SearchConfig(budget=MIXED_BUDGET, logic=False))
    _, _, stall = logic_rounds(easy.questions)
    assert stall[2] == 8
    assert result.found == [MODEL_ALONE, MODEL_ALONE, COMMIT_DECODING, GUIDED_SEARCH, EXACT_SOLVER, MODEL_ALONE]
    assert result.calls.tolist() == [1, 1, 8, 2, MIXED_BUDGET, 1]
    assert result.guesses.tolist() == [0, 0, 0, 1, MIXED_BUDGET - 1, 0]  # no guess after the last call
    assert result.backtracks.tolist() == [0] * 6
    rounds, _, _ = logic_rounds(easy.questions[2:3])
    assert result.committed.tolist() == [0, 0, int(((rounds > 0) & (rounds < 8)).sum()), 0, 0, 0]
    assert result.solutions.steps.tolist() == result.calls.tolist()
    assert model.rows_run == result.calls.sum()
    assert result.valid.all() and (result.solutions.answers == easy.answers).all()
    assert result.note(3) == "guided search: 2 model calls, 1 guess, 0 backtracks"
    assert result.note(4).startswith(f"finished by the exact solver after {MIXED_BUDGET} model calls (the budget)")
    assert result.note(2).startswith("commit decoding: 8 model calls, ")
    record = result.record(4)
    assert record["found_by"] == EXACT_SOLVER and record["model_calls"] == MIXED_BUDGET
    assert record["guesses"] == MIXED_BUDGET - 1 and record["budget"] == MIXED_BUDGET
    assert not record["single_pass_valid"] and result.record(0)["single_pass_valid"]


def test_a_puzzle_dead_by_a_unit_alone_ends_after_one_model_call():
    """Row 1 has no place for 5: every commit or guess keeps that, so the search sees each child dead and
    ends without calling the model again."""
    model = Scripted(always_right)
    result = solve_searched(model, ROW_DEAD[None], SearchConfig(budget=6))
    assert result.found == [NO_SOLUTION] and not result.valid.any()
    assert result.calls.tolist() == [1] and model.rows_run == 1


# -- commit decoding: the time figure -------------------------------------------------------------------


def test_commit_decodings_seconds_count_every_round(easy, monkeypatch):
    runs = timed(commit_module, monkeypatch, 0.25)
    result = solve_committed(Scripted(first_wave), easy.questions)
    _, _, stall = logic_rounds(easy.questions)
    assert len(runs) == stall.max()
    assert result.solutions.seconds == pytest.approx(0.25 * stall.max())
    assert result.single.seconds == pytest.approx(0.25)
    assert result.solutions.steps.tolist() == stall.tolist() and result.rounds.tolist() == stall.tolist()


# -- solve's summary and records -----------------------------------------------------------------------------


def solve_mixed(easy, monkeypatch, solver_weights, *flags: str):
    from sudoku_trm.cli import solve as cli_solve

    model = Chosen(per_puzzle(easy.questions, MIXED))
    monkeypatch.setattr(cli_solve, "load_model", lambda options: model)
    # The summary of the search's own moves: without logic between calls, which would solve these easy puzzles.
    monkeypatch.setattr(SolveSettings, "search_config", lambda self: SearchConfig(self.budget, logic=False))
    args = ["solve", str(EASY), "--weights", str(solver_weights), "--effort", "search", "--budget"]
    result = CliRunner().invoke(app, [*args, str(MIXED_BUDGET), *flags])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_solves_summary_names_who_found_each_answer(easy, monkeypatch, solver_weights):
    summary = solve_mixed(easy, monkeypatch, solver_weights).strip().splitlines()[-1]
    head, calls, _ = summary.split("; ")
    assert head == (
        "6 valid: 3 by the model alone, 1 by commit decoding, 1 by guided search with 1 guess, "
        "1 finished by the exact solver"
    )
    assert calls == f"mean {(1 + 1 + 8 + 2 + MIXED_BUDGET + 1) / 6:.1f} model calls"


def test_solves_records_carry_each_puzzles_own_counts(easy, monkeypatch, solver_weights):
    records = [json.loads(line) for line in solve_mixed(easy, monkeypatch, solver_weights, "--json").splitlines()]
    search = [r["search"] for r in records]
    assert [s["found_by"] for s in search] == [
        MODEL_ALONE,
        MODEL_ALONE,
        COMMIT_DECODING,
        GUIDED_SEARCH,
        EXACT_SOLVER,
        MODEL_ALONE,
    ]
    assert [s["model_calls"] for s in search] == [1, 1, 8, 2, MIXED_BUDGET, 1]
    assert [s["guesses"] for s in search] == [0, 0, 0, 1, MIXED_BUDGET - 1, 0]
    assert [r["steps"] for r in records] == [1, 1, 8, 2, MIXED_BUDGET, 1]
    assert [s["single_pass_valid"] for s in search] == [True, True, False, False, False, True]
    assert all(r["valid"] for r in records)


class SlowerLater(Scripted):
    """first_wave, halting at once in the first round and at its second step in every later one."""

    def __init__(self):
        super().__init__(first_wave)
        self.config = type(self.config)(hidden_size=8, halt_max_steps=3, puzzle_emb_len=1)
        self.runs = 0

    def initial_carry(self, batch, device=None):
        self.runs += 1
        return super().initial_carry(batch, device)

    def forward(self, carry, inputs):
        carry, logits, _ = super().forward(carry, inputs)
        carry = type(carry)(carry.y + 1, carry.z)
        step = int(carry.y[0, 0, 0])
        halt = 10.0 if self.runs == 1 or step >= 2 else -10.0
        return carry, logits, torch.full((len(inputs),), halt)


def test_commit_decodings_final_record_is_the_last_rounds(easy):
    """Answers, confidence (givens 1), halting and its probabilities per step are each puzzle's last round's;
    model steps add up over the rounds; the step limit is the model's."""
    model = SlowerLater()
    result = solve_committed(model, easy.questions)
    _, _, stall = logic_rounds(easy.questions)
    final = result.solutions
    assert result.rounds.tolist() == stall.tolist()
    assert final.steps.tolist() == (1 + 2 * (stall - 1)).tolist()
    assert final.halted.all() and final.step_limit == 3
    sigmoid = 1 / (1 + np.exp(-10.0))
    assert final.halt_probabilities.shape == (len(easy), 2)
    assert np.allclose(final.halt_probabilities, [[1 - sigmoid, sigmoid]] * len(easy))
    given = easy.questions > 0
    assert (final.confidence[given] == 1.0).all()
    last_wave = ~given & (final.confidence < 1.0)
    assert last_wave.any() and np.allclose(final.confidence[last_wave], final.confidence[last_wave].max())
    assert (final.answers == easy.answers).all() and (final.puzzles == easy.questions).all()
    assert result.single.halt_probabilities.shape == (len(easy), 1) and result.single.step_limit == 3


def test_commit_decoding_stops_each_puzzle_by_itself_and_reports_every_round(easy, monkeypatch):
    """A puzzle the model is sure of nothing in stops after one round while another goes on; the events name
    each round's puzzles, commits, grids and verdicts; counts are integers; the batch size is honoured."""
    from sudoku_trm.inference.commit import Committed, RoundStep, commit_steps
    from sudoku_trm.inference.engine import Step

    def nothing_sure(grids):
        answers, _ = unsure_everywhere(grids)
        return answers, torch.zeros(grids.shape, dtype=torch.bool)

    puzzles = easy.questions[:3]
    rule = per_puzzle(puzzles, [waves, lambda g, p: nothing_sure(g), waves])
    runs = timed(commit_module, monkeypatch, 0.0)
    events, result = drain(commit_steps(Chosen(rule), puzzles, inference=InferenceConfig(batch_size=2)))
    _, _, stall = logic_rounds(puzzles)
    assert result.rounds.tolist() == [stall[0], 1, stall[2]]
    assert runs[:2] == [2, 1]  # round 1 in batches of two
    for counts in (result.rounds, result.committed, result.solved_round, result.solutions.steps):
        assert counts.dtype.kind == "i"
    assert all(isinstance(e.event, Step) for e in events if isinstance(e, RoundStep))
    commits = [e for e in events if isinstance(e, Committed)]
    assert commits[0].rows.tolist() == [0, 1, 2] and commits[1].rows.tolist() == [0, 2]
    for row in (0, 1, 2):
        mine = [(c, list(c.rows).index(row)) for c in commits if row in c.rows]
        assert sum(int(c.cells[i].sum()) for c, i in mine) == result.committed[row]
        assert [bool(c.solved[i]) for c, i in mine] == [False] * (len(mine) - 1) + [row != 1]
        last, i = mine[-1]
        assert (last.grids[i] == np.where(last.cells[i], easy.answers[row], last.grids[i])).all()
        assert ((last.grids[i] == 0) | (last.grids[i] == easy.answers[row])).all()


def test_solve_committed_honours_the_inference_settings(easy, monkeypatch):
    runs = timed(commit_module, monkeypatch, 0.0)
    solve_committed(Scripted(always_right), easy.questions, inference=InferenceConfig(batch_size=4))
    assert runs == [4, 2]


# -- the time limit --------------------------------------------------------------------------------------


def never_helps(grids: torch.Tensor):
    """Every blank read as a wrong digit, unsure: the search guesses against the model's order."""
    answers, _ = always_right(grids)
    return torch.where(grids > 0, grids, answers % 9 + 1), torch.zeros(grids.shape, dtype=torch.bool)


@pytest.fixture(scope="module")
def very_hard():
    return load_puzzle_set(PUZZLES / "very_hard.txt")


def test_each_puzzle_pays_its_share_of_its_batch_until_the_time_limit(very_hard, monkeypatch):
    """Every engine run reports 0.25 s. Puzzles 0 and 1 share their batches (0.125 s each a call), puzzle 2 runs
    alone (0.25 s): with a limit of 0.5 s it stops after 2 calls, the others after 4 (reaching the limit ends)."""
    timed(search_module, monkeypatch, 0.25)
    config = SearchConfig(budget=16, time_limit=0.5)
    events, result = drain(
        search_module.search_steps(
            Scripted(never_helps), very_hard.questions[:3], config, InferenceConfig(batch_size=2)
        )
    )
    assert result.calls.tolist() == [4, 4, 2]
    assert result.found == [EXACT_SOLVER] * 3 and result.valid.all() and result.timed_out.all()
    ends = [e for e in events if getattr(e, "kind", None) in ("time limit", "exact solver")]
    assert [e.kind for e in ends] == ["time limit"] * 3
    assert ends[0].describe() == "time limit reached: the exact solver finishes"
    assert result.note(2).startswith("finished by the exact solver after 2 model calls (the time limit)")
    assert result.record(2)["time_limit_reached"] and result.record(2)["model_calls"] == 2


def test_a_call_stops_at_the_step_that_spends_the_time_limit(very_hard, monkeypatch):
    """Each step takes 0.25 s, shared by the puzzles it ran. Alone, a puzzle with 1 s stops after 4 of its 16
    steps, not halted; one that spent 0.5 s before stops after 4 steps at 0.125 s, the other then runs alone
    and stops after 6. `steps` (exactly so many) ignores the limit, as it ignores settling."""
    clock = SteppedClock(0.25)
    monkeypatch.setattr(engine_module, "time", clock)
    model = Clocked(Unhurried(never_helps, horizon=16), clock)
    grids = very_hard.questions[:2]
    result = finish(solve_steps(model, grids[:1], InferenceConfig(time_limit=1.0)))
    assert result.steps.tolist() == [4] and not result.halted.any() and result.puzzle_seconds.tolist() == [1.0]
    result = finish(solve_steps(model, grids, InferenceConfig(time_limit=1.0), None, np.array([0.5, 0.0])))
    assert result.steps.tolist() == [4, 6] and result.puzzle_seconds.tolist() == [1.0, 1.0]
    assert result.seconds == pytest.approx(6 * 0.25)
    assert finish(solve_steps(model, grids, InferenceConfig())).steps.tolist() == [16, 16]
    assert finish(solve_steps(model, grids, InferenceConfig(steps=16, time_limit=1.0))).steps.tolist() == [16, 16]
    with pytest.raises(ValueError, match="time limit"):
        InferenceConfig(time_limit=0.0)


def test_the_time_limit_cuts_the_first_call_short(very_hard, monkeypatch):
    """`solve`'s time limit is a limit: a puzzle the model cannot solve hands over to the exact solver when
    its time is spent, not after the 16 steps its first call would take."""
    timed(search_module, monkeypatch, 0.25)
    config = SearchConfig(budget=16, time_limit=1.0)
    result = solve_searched(Unhurried(never_helps, horizon=16), very_hard.questions[:1], config)
    assert result.calls.tolist() == [1] and result.solutions.steps.tolist() == [4]
    assert result.timed_out.all() and result.found == [EXACT_SOLVER] and result.guesses.tolist() == [0]
    assert result.valid.all()


class HaltsOnFirst(Unhurried):
    """Unhurried, but it halts at once on the nodes of the first of `puzzles` (the one its rule solves)."""

    def __init__(self, puzzles: np.ndarray, horizon: int):
        super().__init__(per_puzzle(puzzles, [alone, lambda g, p: never_helps(g)]), horizon)
        self.first = puzzles[0]

    def forward(self, carry, inputs):
        carry, logits, halt = super().forward(carry, inputs)
        grids = from_tokens(inputs).numpy()
        first = torch.from_numpy((grids[:, self.first > 0] == self.first[self.first > 0]).all(1))
        return carry, logits, torch.where(first, 10.0, halt)


def test_a_puzzle_that_leaves_the_batch_pays_only_for_the_steps_it_ran(easy, very_hard, monkeypatch):
    """Step 1 (0.25 s) is shared by both puzzles; the first halts, the second runs on alone at 0.25 s a step
    and spends its 1 s after 5 steps (0.125 + 4 x 0.25), ending its first call. Split evenly, the call's
    1.25 s would have charged it 0.625 s and left it a second call."""
    timed(search_module, monkeypatch, 0.25)
    puzzles = np.stack([easy.questions[0], very_hard.questions[0]])
    result = solve_searched(HaltsOnFirst(puzzles, horizon=16), puzzles, SearchConfig(budget=16, time_limit=1.0))
    assert result.found == [MODEL_ALONE, EXACT_SOLVER] and result.valid.all()
    assert result.calls.tolist() == [1, 1] and result.solutions.steps.tolist() == [1, 5]
    assert result.timed_out.tolist() == [False, True]


def test_the_budget_that_runs_out_first_is_the_one_named(very_hard, monkeypatch):
    timed(search_module, monkeypatch, 0.25)
    result = solve_searched(Scripted(never_helps), very_hard.questions[:2], SearchConfig(budget=3, time_limit=0.5))
    assert result.calls.tolist() == [3, 3] and not result.timed_out.any()  # 0.375 s: the call budget ran out first
    assert result.note(0).startswith("finished by the exact solver after 3 model calls (the budget)")
    assert not result.record(0)["time_limit_reached"]
    # Both spent by the same call (4 x 0.125 s = 0.5 s): the call budget is named, as without a limit.
    result = solve_searched(Scripted(never_helps), very_hard.questions[:2], SearchConfig(budget=4, time_limit=0.5))
    assert result.calls.tolist() == [4, 4] and not result.timed_out.any()


def test_no_time_limit_by_default_and_a_bad_one_is_refused():
    assert SearchConfig().time_limit is None and SolveSettings().time_limit is None
    assert SolveSettings(effort="search", time_limit=1.5).search_config().time_limit == 1.5
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError):
            SearchConfig(time_limit=bad)
        with pytest.raises(ValueError):
            SolveSettings(time_limit=bad)
