"""What a training run asks of each slot and how it shares out a time budget, checked against expectations
computed independently: per-step targets from logic's rounds (training/targets.py) for fresh and continuing
slots alike, `--pending unknown` for the cells logic never places, and the time budget's shares
(training/schedule.py TimeBudget) on a clock that moves only when told."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import SHARED_SAMPLE, tiny_train_config
from trainer_spies import FakeClock

from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set
from sudoku_trm.training import trainer as trainer_module
from sudoku_trm.training.slots import Slots
from sudoku_trm.training.targets import NEVER_REACHED, cell_weights, reached, rounds_of
from sudoku_trm.training.trainer import RunningMetrics, Trainer

TRAIN = tuple(str(SHARED_SAMPLE / name) for name in ("unbiased_1k.csv", "clue17.csv", "hard_train.csv"))


def quiet(_line: str) -> None:
    pass


def expected_targets(inputs: torch.Tensor, steps: torch.Tensor, per_step: int, unknown_mode: bool):
    """(reached, unknown) per cell, straight from logic's rounds: a cell is reached once its round is at most
    per_step * the slot's step; a cell logic never places is reached after the stall, unless pending is
    "unknown", where it never is."""
    grids = (inputs - 1).clamp(min=0).numpy().astype(np.uint8)  # tokens: 1 blank, 2..10 the digits
    rounds, solved, stall = logic_rounds(grids)
    never = ~solved[:, None] & (rounds.astype(np.int64) > stall[:, None])
    known_by = per_step * steps.numpy()[:, None]
    got = rounds.astype(np.int64) <= known_by
    if unknown_mode:
        got &= ~never
    return torch.from_numpy(got), torch.from_numpy(~got)


# -- per-step targets ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def partly_logical():
    """Puzzles where logic places some cells and then stalls (neither none nor all)."""
    puzzles = load_puzzle_set(str(SHARED_SAMPLE / "unbiased_1k.csv"))
    rounds, solved, stall = logic_rounds(puzzles.questions)
    placed = ((rounds > 0) & (rounds <= stall[:, None])).sum(1)
    rows = np.flatnonzero(~solved & (placed > 3))[:4]
    assert len(rows) == 4
    return puzzles.subset(rows)


@pytest.mark.parametrize("unknown_mode", [False, True])
def test_cells_logic_never_places_are_asked_for_as_pending_says_even_after_the_stall(partly_logical, unknown_mode):
    tokens = to_tokens(torch.from_numpy(partly_logical.questions).long())
    rounds = rounds_of(tokens, never_reached=unknown_mode)
    _, _, stall = logic_rounds(partly_logical.questions)
    late = torch.full((4,), int(stall.max()) + 5)  # every slot well past its stall
    want, _ = expected_targets(tokens, late, 1, unknown_mode)
    assert (reached(rounds, late, 1) == want).all()
    if unknown_mode:
        assert not want.all() and (rounds[~want] == NEVER_REACHED).all()
    else:
        assert want.all()  # after the stall every cell is asked for its solution digit
    for step in (1, 2, 3):
        steps = torch.full((4,), step)
        want, _ = expected_targets(tokens, steps, 2, unknown_mode)
        assert (cell_weights(rounds, steps, 2, 0.25) == torch.where(want, 1.0, 0.25)).all()


def test_a_refill_gives_fresh_slots_the_fresh_rounds_and_continuing_slots_keep_theirs():
    model = TRM(ModelConfig(hidden_size=8, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=4))
    slots = Slots.empty(model, 4, torch.device("cpu"))
    first = (torch.full((4, 81), 2), torch.full((4, 81), 2))
    slots.refill(first, model, torch.full((4, 81), 1))
    assert slots.steps.tolist() == [1, 1, 1, 1] and (slots.rounds == 1).all()
    slots.halted = torch.tensor([True, False, True, False])
    fresh = (torch.full((4, 81), 3), torch.full((4, 81), 4))
    slots.refill(fresh, model, torch.full((4, 81), 7))
    assert slots.steps.tolist() == [1, 2, 1, 2]
    assert slots.rounds[:, 0].tolist() == [7, 1, 7, 1]
    assert slots.inputs[:, 0].tolist() == [3, 2, 3, 2] and slots.labels[:, 0].tolist() == [4, 2, 4, 2]


@pytest.mark.parametrize("pending", ["solution", "unknown"])
def test_every_slot_is_scored_on_its_own_puzzles_rounds_at_its_own_step(tmp_path, monkeypatch, pending):
    """A few real training steps with slots halting at different steps: at each step the loss weighs and
    marks unknown exactly the cells the slot's own puzzle has (not) reached by the slot's own step."""
    model = ModelConfig(
        hidden_size=16, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=4, halt_exploration_prob=0.5
    )
    config = tiny_train_config(
        tmp_path,
        model,
        data=TRAIN,
        batch_size=8,
        steps=8,
        targets="logic",
        rounds_per_step=1,
        pending=pending,
        pending_weight=0.25,
    )
    trainer = Trainer(model, config, log=quiet)
    with torch.no_grad():  # the head says halt at once: exploration alone keeps some slots 2..4 steps
        trainer.model.q_head.weight.zero_()
        trainer.model.q_head.bias.fill_(20.0)
    seen = []
    real = trainer_module.supervision_loss

    def spy(logits, halt_logit, labels, weights, halt_weight, loss, smoothing, per_cell, unknown):
        slots = trainer.slots
        seen.append((slots.inputs.clone(), slots.steps.clone(), per_cell.clone(), unknown))
        return real(logits, halt_logit, labels, weights, halt_weight, loss, smoothing, per_cell, unknown)

    monkeypatch.setattr(trainer_module, "supervision_loss", spy)
    metrics = RunningMetrics(trainer.device)
    for _ in range(8):
        trainer.train_step(metrics)
    mixed = 0
    for inputs, steps, per_cell, unknown in seen:
        want, not_yet = expected_targets(inputs, steps, 1, pending == "unknown")
        assert (per_cell == torch.where(want, 1.0, 0.25)).all()
        if pending == "unknown":
            assert unknown is not None and (unknown == not_yet).all()
        else:
            assert unknown is None
        mixed += int(len(set(steps.tolist())) > 1)
    assert mixed >= 2  # fresh and continuing slots side by side


# -- the time budget's shares, through the trainer ---------------------------------------------------------


def budget_trainer(tmp_path, monkeypatch, per_puzzle: float, dev_limit: int | None, save_seconds=lambda n: 0.2):
    """A 0.5-minute budget on a FakeClock; each dev puzzle takes `per_puzzle` s to evaluate, each step 0.5 s,
    the n-th save `save_seconds(n)`. Returns the trainer, its clock and the seconds each evaluation was given."""
    import sudoku_trm.inference.scores as scores

    model = ModelConfig(hidden_size=16, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3)
    config = tiny_train_config(
        tmp_path, model, data=TRAIN, dev=str(SHARED_SAMPLE / "hard_dev.csv"), dev_limit=dev_limit, eval_batch_size=8
    )
    config = dataclasses.replace(config, time_budget=0.5, eval_every=0, log_every=10**6, warmup_steps=0)
    trainer = Trainer(model, config, log=quiet)
    clock = FakeClock()
    trainer.clock = trainer.budget.clock = clock  # type: ignore[union-attr, assignment]
    real_solve = scores.solve

    def slow(model, questions, config):
        clock.now += per_puzzle * len(questions)
        return real_solve(model, questions, config)

    monkeypatch.setattr(scores, "solve", slow)
    train_step, save, evaluate = trainer.train_step, trainer.save, trainer.evaluate_dev
    saves, given = [0], []

    def step(metrics):
        train_step(metrics)
        clock.now += 0.5

    def timed_save():
        save()
        saves[0] += 1
        clock.now += save_seconds(saves[0])

    def spy(seconds=None):
        given.append((seconds, clock.now))
        return evaluate(seconds)

    trainer.train_step, trainer.save, trainer.evaluate_dev = step, timed_save, spy  # type: ignore[method-assign]
    return trainer, clock, given


def test_a_cut_short_first_evaluation_plans_the_final_one_at_its_full_share(tmp_path, monkeypatch):
    trainer, clock, given = budget_trainer(tmp_path, monkeypatch, per_puzzle=1.0, dev_limit=None)
    trainer.time_final_work()
    assert given[0][0] == pytest.approx(1.5)  # 5% of 30 s: one puzzle of the dev set fits
    budget = trainer.budget
    assert budget is not None and budget.final_eval == pytest.approx(0.10 * 30.0)  # not 1.25 x the cut-short one
    assert budget.reserve == pytest.approx(3.0 + 2 * 2.0 * 0.2 + 1.0)


def test_a_whole_first_evaluation_plans_the_final_one_from_its_time(tmp_path, monkeypatch):
    trainer, clock, given = budget_trainer(tmp_path, monkeypatch, per_puzzle=0.25, dev_limit=2)
    trainer.time_final_work()
    budget = trainer.budget
    assert budget is not None and budget.final_eval == pytest.approx(1.25 * 0.5)  # two puzzles, 0.25 s each


def test_the_final_evaluation_gets_only_the_time_left(tmp_path, monkeypatch):
    """The final checkpoint takes 3 s where the first took 0.2: the final evaluation is cut to what is left
    once the export (2 x 0.2 s) and the grace (1 s) are kept back, not given its planned 3 s."""
    trainer, clock, given = budget_trainer(
        tmp_path, monkeypatch, per_puzzle=1.0, dev_limit=None, save_seconds=lambda n: 0.2 if n == 1 else 3.0
    )
    trainer.run()
    seconds, now = given[-1]
    assert seconds == pytest.approx(max(0.0, min(3.0, 30.0 - now - 2 * 0.2 - 1.0)))
    assert seconds < 3.0
