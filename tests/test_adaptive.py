"""Adaptive solving (inference/adaptive.py): stages, stopping, budget and cost, on scripted models whose every
answer is known, and on the committed fixture model that really solves easy puzzles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_models import StandIn, drain

from sudoku_trm.inference.adaptive import Budget, Stage, adaptive_steps, preset, solve_adaptive
from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.model.tokens import DIGIT_TOKENS, from_tokens
from sudoku_trm.model.trm import Carry
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import CELLS, valid_solutions
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

HORIZON = 4


class Scripted(StandIn):
    """A stand-in for the TRM whose answers follow `rule(grids, steps, random_start) -> (answers, halts)`:
    `grids` are the (B, 81) puzzles as the chain sees them (a copy is transformed), `steps` each row's
    step (1-based), `random_start` whether the chain began from a random latent. It counts its calls."""

    def __init__(self, rule, horizon: int = HORIZON):
        super().__init__(rule, horizon)

    def forward(self, carry: Carry, inputs: torch.Tensor):
        self.rows_run += len(inputs)
        steps = carry.y[:, 0, 0] + 1
        random_start = carry.z[:, 0, 0] != 0
        answers, halts = self.rule(from_tokens(inputs).long(), steps.long(), random_start)
        logits = torch.zeros(len(inputs), CELLS, self.config.vocab_size)
        logits.scatter_(2, (answers + DIGIT_TOKENS.start - 1).unsqueeze(-1), 30.0)
        y = carry.y.clone()
        y[:, 0, 0] = steps
        halt_logit = torch.where(halts, 10.0, -10.0)
        return Carry(y, carry.z), logits, halt_logit


def solution_of(grid: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(solver.solve(grid.numpy().astype(np.uint8)).astype(np.int64))


def broken(answer: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The solution with its first blank cell one digit off: wrong, and breaking a rule whatever the givens."""
    wrong = answer.clone()
    cell = int(torch.nonzero(grid == 0)[0])
    wrong[cell] = answer[cell] % 9 + 1
    return wrong


@pytest.fixture(scope="module")
def puzzles(shared_sample):
    return load_puzzle_set(str(shared_sample / "unbiased_1k.csv")).subset(np.arange(6))


def rule_of(per_row):
    """A rule from a function of one row: (grid, step, random_start) -> (right: bool, halt: bool)."""

    def rule(grids, steps, random_start):
        answers, halts = [], []
        for grid, step, rand in zip(grids, steps.tolist(), random_start.tolist()):
            right, halt = per_row(grid, step, rand)
            answer = solution_of(grid)
            answers.append(answer if right else broken(answer, grid))
            halts.append(halt)
        return torch.stack(answers), torch.tensor(halts)

    return rule


def test_a_valid_halted_answer_ends_a_puzzles_work_at_once(puzzles):
    model = Scripted(rule_of(lambda grid, step, rand: (step >= 2, step >= 2)))
    result = solve_adaptive(model, puzzles.questions, Budget(steps=8, copies=4))
    assert (result.stage == Stage.MODEL).all()
    assert (result.work == 2).all() and (result.found_step == 2).all() and (result.chains == 1).all()
    assert model.rows_run == 2 * len(puzzles)
    assert (result.solutions.answers == puzzles.answers).all()
    assert result.solutions.halted.all()


def test_the_model_alone_runs_to_its_own_stop_and_its_answer_stays_the_single_pass_one(puzzles):
    """Right at step 2 but halting only at step 3 (wrong by then): the valid answer is kept, the single-pass
    answer is the model's own (step 3), and the work counts the three steps that ran."""
    model = Scripted(rule_of(lambda grid, step, rand: (step == 2, step == 3)))
    result = solve_adaptive(model, puzzles.questions, "default")
    assert (result.stage == Stage.MODEL).all() and (result.found_step == 2).all()
    assert (result.work == 3).all()
    assert (result.solutions.answers == puzzles.answers).all()
    assert not valid_solutions(puzzles.questions, result.single.answers).any()
    assert (result.single.steps == 3).all() and result.single.halted.all()


def test_the_first_valid_answer_is_the_one_kept(puzzles):
    """Right from step 2 on, halting at 3: the answer found is step 2's, and the model alone stops at 3."""
    model = Scripted(rule_of(lambda grid, step, rand: (step >= 2, step == 3)))
    result = solve_adaptive(model, puzzles.questions, "default")
    assert (result.found_step == 2).all() and (result.single.steps == 3).all() and (result.work == 3).all()


def test_more_steps_come_before_copies_and_count_beyond_the_horizon(puzzles):
    model = Scripted(rule_of(lambda grid, step, rand: (step == HORIZON + 3, False)))
    result = solve_adaptive(model, puzzles.questions, Budget(steps=3 * HORIZON, copies=4))
    assert (result.stage == Stage.STEPS).all() and (result.found_step == HORIZON + 3).all()
    assert (result.work == HORIZON + 3).all() and (result.chains == 1).all()
    assert (result.single.steps == HORIZON).all() and not result.single.halted.any()


def test_copies_are_mapped_back_exactly(puzzles):
    """Only a transformed copy is ever answered right: a right answer of the puzzle itself can only come
    from a copy's answer mapped back through the inverse symmetry, digit for digit."""
    originals = {tuple(q) for q in puzzles.questions.tolist()}
    model = Scripted(rule_of(lambda grid, step, rand: (tuple(grid.tolist()) not in originals, False)))
    result = solve_adaptive(model, puzzles.questions, Budget(copies=3, copy_steps=2))
    assert (result.stage == Stage.COPIES).all()
    assert (result.solutions.answers == puzzles.answers).all()
    assert (result.found_step == 1).all() and (result.chain == 1).all()  # all copies right: the first wins
    # The own chain ran its horizon, then all three copies started together and stopped after one step.
    assert (result.work == HORIZON + 3).all() and (result.chains == 4).all()


def test_random_restarts_come_after_copies_and_start_from_a_random_latent(puzzles):
    model = Scripted(rule_of(lambda grid, step, rand: (rand and step == 2, False)))
    result = solve_adaptive(model, puzzles.questions, Budget(copies=2, copy_steps=3, restarts=2), seed=1)
    assert (result.stage == Stage.RESTARTS).all()
    assert (result.chain == 3).all()  # chains 1-2 were the copies
    assert (result.work == HORIZON + 2 * 3 + 2 * 2).all()
    assert (result.solutions.answers == puzzles.answers).all()
    assert [result.found_by(0)] == ["found by random restart 1 at step 2"]


@pytest.mark.parametrize(
    "budget",
    [Budget(work=HORIZON), Budget(steps=6, copies=5, copy_steps=4, work=17), Budget(copies=8, restarts=3, work=23)],
)
def test_the_budget_is_never_exceeded_and_the_cost_reported_is_what_ran(puzzles, budget):
    model = Scripted(rule_of(lambda grid, step, rand: (False, step % 3 == 0)))
    steps, result = drain(adaptive_steps(model, puzzles.questions, budget, InferenceConfig(batch_size=5)))
    resolved = budget.resolve(HORIZON)
    assert (result.work <= resolved.work).all()
    assert (result.stage == Stage.UNSOLVED).all() and (result.chain == -1).all()
    ran = np.bincount(np.concatenate([e.puzzles for e in steps]), minlength=len(puzzles))
    assert (ran == result.work).all() and result.work.sum() == model.rows_run
    assert max(len(e.puzzles) for e in steps) <= 5 + resolved.copies  # rows beyond the batch: one puzzle's copies
    assert (result.solutions.answers == result.single.answers).all()  # unsolved: the model's own answer


@pytest.mark.parametrize("left, chains, spent", [(10, 2, 8), (8, 2, 8), (3, 1, 3), (40, 8, 32)])
def test_a_stage_starts_as_many_whole_chains_as_the_rest_of_the_budget_allows(puzzles, left, chains, spent):
    """Copies of 4 steps with `left` model steps after the own chain: whole chains first (10 -> two of 4, not
    eight of 1), one shortened chain when not even one fits (3 -> one of 3), never more than asked (8)."""
    model = Scripted(rule_of(lambda grid, step, rand: (False, False)))
    result = solve_adaptive(model, puzzles.questions[:1], Budget(copies=8, copy_steps=4, work=HORIZON + left))
    assert result.chains[0] == 1 + chains
    assert result.work[0] == HORIZON + spent


def test_chains_of_different_puzzles_and_stages_share_batches(puzzles):
    first = tuple(puzzles.questions[0].tolist())
    model = Scripted(rule_of(lambda grid, step, rand: (tuple(grid.tolist()) != first and step == 1, True)))
    events = []
    config = InferenceConfig(batch_size=3)
    result = solve_adaptive(model, puzzles.questions, Budget(copies=2), config, on_step=events.append)
    assert result.stage[0] == Stage.COPIES and (result.stage[1:] == Stage.MODEL).all()
    mixed = [e for e in events if len(set(e.stages.tolist())) > 1]
    assert mixed, "the first puzzle's copies should run beside later puzzles' own chains"
    assert sorted(np.concatenate([e.solved for e in events]).tolist()) == list(range(len(puzzles)))


def test_presets_scale_with_the_horizon_and_a_budget_below_the_model_is_refused():
    assert preset("fast", 16).work == 32
    assert preset("default", 16).work == 32 + 8 * 16
    assert preset("thorough", 8).work == 32 + 24 * 16
    with pytest.raises(ValueError, match="less than the model's own run"):
        Budget(work=3).resolve(4)
    with pytest.raises(ValueError, match="effort must be one of"):
        preset("hard", 16)


def test_the_fixture_model_single_pass_matches_the_plain_engine(solver_weights):
    model = load_weights(solver_weights, torch.device("cpu"))
    sample = load_puzzle_set(str(solver_weights.parent / "solver_puzzles.csv"))
    plain = solve(model, sample.questions)
    result = solve_adaptive(model, sample.questions, "default")
    for field in ("answers", "steps", "halted"):
        assert (getattr(result.single, field) == getattr(plain, field)).all(), field
    right = (result.solutions.answers == sample.answers).all(1)
    alone = (plain.answers == sample.answers).all(1)
    assert right[alone].all() and right.sum() >= alone.sum()
    solved = result.stage != Stage.UNSOLVED
    assert (right == solved).all()  # unique puzzles: valid means right, and every valid answer is kept
