"""The trainer's wiring, pinned piece by piece: each test fails when one connection inside `Trainer`
breaks, even where a training run would still go through and learn a little.

HSW weights at each slot's own step, the halting rule and the refill of halted slots, halting
exploration, gradient clipping, easier puzzles in the training stream, dev evaluation on the EMA at
its halting step, the warm-up's first learning rate, the RNG on resume, and the save on Ctrl-C.

Tiny CPU trainers on the committed fixture sample (hidden 16, one block, H=1 and L=1, batch 4-16).
The halting head is steered by overriding the halt logit the model returns (`HaltOverride`), so the
tests decide exactly which slot says "halt" at which step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config
from trainer_spies import learning_rates_per_step

from sudoku_trm.errors import UserError
from sudoku_trm.inference.engine import InferenceConfig, solve
from sudoku_trm.inference.scores import at_halting_step, score
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import BLANK_TOKEN
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_sets
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.curriculum import step_weights
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.training.stream import TrainingStream
from sudoku_trm.training.trainer import RunningMetrics, Trainer

TRAIN_NAMES = ("unbiased_1k.csv", "clue17.csv", "hard_train.csv")


def quiet(_line: str) -> None:
    pass


def tiny_model(**overrides) -> ModelConfig:
    values: dict = dict(
        hidden_size=16, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3, halt_exploration_prob=0.0
    )
    values.update(overrides)
    return ModelConfig(**values)


def tiny_train(sample: Path, tmp_path: Path, model: ModelConfig, **overrides) -> TrainConfig:
    data = tuple(str(sample / n) for n in TRAIN_NAMES)
    return tiny_train_config(tmp_path, model, **{"data": data, "steps": 20, **overrides})


Forward = Callable[[Carry, torch.Tensor, int, int], tuple[Carry, torch.Tensor, torch.Tensor]]


class HaltOverride:
    """Wraps `trainer.forward`: records what each call received and returned, and replaces the halt
    logit by `halt` (one value per slot) when it is set, keeping the graph so the loss still works."""

    def __init__(self, trainer: Trainer, halt: list[float] | None = None):
        self.inner: Forward = trainer.forward
        self.halt = halt
        self.carries_in: list[Carry] = []
        self.carries_out: list[Carry] = []
        self.logits: list[torch.Tensor] = []
        self.halt_logits: list[torch.Tensor] = []
        trainer.forward = self  # type: ignore[assignment]

    def __call__(
        self, carry: Carry, inputs: torch.Tensor, h_cycles: int, l_cycles: int
    ) -> tuple[Carry, torch.Tensor, torch.Tensor]:
        self.carries_in.append(Carry(carry.y.clone(), carry.z.clone()))
        new_carry, logits, halt_logit = self.inner(carry, inputs, h_cycles, l_cycles)
        if self.halt is not None:
            halt_logit = halt_logit * 0 + torch.tensor(self.halt, dtype=halt_logit.dtype)
        self.carries_out.append(Carry(new_carry.y.clone(), new_carry.z.clone()))
        self.logits.append(logits.detach().clone())
        self.halt_logits.append(halt_logit.detach().clone())
        return new_carry, logits, halt_logit


class BatchSpy:
    """Wraps `trainer.stream.next_batch`, keeping each batch it hands out."""

    def __init__(self, trainer: Trainer):
        self.inner = trainer.stream.next_batch
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        trainer.stream.next_batch = self  # type: ignore[method-assign]

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.inner()
        self.batches.append(batch)
        return batch


def is_initial_row(model: TRM, carry: Carry, row: int) -> bool:
    start = model.initial_carry(1)
    return torch.equal(carry.y[row], start.y[0]) and torch.equal(carry.z[row], start.z[0])


# -- 1. HSW: each slot weighs by its own supervision step ----------------------------------------


def test_loss_weighs_each_slot_by_the_hsw_weight_of_its_own_step(shared_sample, tmp_path):
    """Slots at steps 1, 2, 3, 4 in one batch: the logged loss must be the HSW mean with
    step_weights(1, 2, 3, 4), not one common weight or the weights of the previous step count."""
    model = tiny_model(halt_max_steps=4)
    trainer = Trainer(model, tiny_train(shared_sample, tmp_path, model, curriculum="hsw", hsw_decay=0.5), log=quiet)
    spy = HaltOverride(trainer, halt=[-10.0] * 4)  # nobody halts before the limit
    metrics = RunningMetrics(trainer.device)
    trainer.train_step(metrics)
    metrics.flush()
    # Stagger the slots: after the next step they are at steps 1, 2, 3, 4.
    trainer.slots.steps = torch.tensor([0, 1, 2, 3])
    labels = trainer.slots.labels.clone()
    trainer.train_step(metrics)

    steps = torch.tensor([1, 2, 3, 4])
    assert torch.equal(trainer.slots.steps, steps)
    weights = step_weights(steps, decay=0.5, max_steps=4)
    expected = supervision_loss(
        spy.logits[-1], spy.halt_logits[-1], labels, weights, trainer.config.halt_loss_weight
    ).total
    assert metrics.flush()["loss"] == pytest.approx(expected.item(), rel=1e-5)
    # The check could fail: the same batch under other weights gives another loss.
    for wrong in (step_weights(steps * 0 + 1, 0.5, 4), step_weights(steps - 1, 0.5, 4), torch.ones(4)):
        other = supervision_loss(
            spy.logits[-1], spy.halt_logits[-1], labels, wrong, trainer.config.halt_loss_weight
        ).total
        assert other.item() != pytest.approx(expected.item(), rel=1e-3)


# -- 2. the halting rule and the refill ----------------------------------------------------------


def test_slots_leave_on_a_positive_halt_logit_or_at_the_step_limit_and_come_back_fresh(shared_sample, tmp_path):
    model = tiny_model(halt_max_steps=3)
    trainer = Trainer(model, tiny_train(shared_sample, tmp_path, model), log=quiet)
    spy, batches = HaltOverride(trainer), BatchSpy(trainer)
    metrics = RunningMetrics(trainer.device)

    # Step 1: only a strictly positive logit halts (0 does not).
    spy.halt = [1.0, -1.0, 0.0, -1.0]
    trainer.train_step(metrics)
    assert trainer.slots.steps.tolist() == [1, 1, 1, 1]
    assert trainer.slots.halted.tolist() == [True, False, False, False]
    inputs, labels = trainer.slots.inputs.clone(), trainer.slots.labels.clone()

    # Step 2: slot 0 takes the freshly drawn puzzle, from the initial state, at step 1; the rest
    # carry on with their puzzle and their state.
    spy.halt = [-1.0] * 4
    trainer.train_step(metrics)
    fresh_inputs, fresh_labels = batches.batches[-1]
    assert trainer.slots.steps.tolist() == [1, 2, 2, 2]
    assert torch.equal(trainer.slots.inputs[0], fresh_inputs[0])
    assert torch.equal(trainer.slots.labels[0], fresh_labels[0])
    assert not torch.equal(fresh_inputs[0], inputs[0])  # else the refill would prove nothing
    assert torch.equal(trainer.slots.inputs[1:], inputs[1:]) and torch.equal(trainer.slots.labels[1:], labels[1:])
    carry_in, previous_out = spy.carries_in[-1], spy.carries_out[-2]
    assert is_initial_row(trainer.model, carry_in, 0)
    for row in (1, 2, 3):
        assert torch.equal(carry_in.y[row], previous_out.y[row]) and torch.equal(carry_in.z[row], previous_out.z[row])
        assert not is_initial_row(trainer.model, carry_in, row)
    assert trainer.slots.halted.tolist() == [False] * 4

    # Step 3: slots 1-3 reach the limit (3) and leave although the head says "continue".
    trainer.train_step(metrics)
    assert trainer.slots.steps.tolist() == [2, 3, 3, 3]
    assert trainer.slots.halted.tolist() == [False, True, True, True]

    # Step 4: they come back fresh; slot 0 keeps its puzzle and goes on to step 3.
    kept = trainer.slots.inputs[0].clone()
    trainer.train_step(metrics)
    fresh_inputs, _ = batches.batches[-1]
    assert trainer.slots.steps.tolist() == [3, 1, 1, 1]
    assert torch.equal(trainer.slots.inputs[0], kept)
    assert torch.equal(trainer.slots.inputs[1:], fresh_inputs[1:])
    assert not is_initial_row(trainer.model, spy.carries_in[-1], 0)
    assert all(is_initial_row(trainer.model, spy.carries_in[-1], row) for row in (1, 2, 3))
    assert trainer.slots.halted.tolist() == [True, False, False, False]  # slot 0 at the limit now


# -- 3. halting exploration ----------------------------------------------------------------------


def finishing_steps(trainer: Trainer, steps: int) -> list[int]:
    """The step counts at which slots left, over `steps` optimiser steps."""
    metrics = RunningMetrics(trainer.device)
    left: list[int] = []
    for _ in range(steps):
        trainer.train_step(metrics)
        left += trainer.slots.steps[trainer.slots.halted].tolist()
    return left


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_exploration_holds_slots_back_to_a_random_minimum_of_at_least_two_steps(shared_sample, tmp_path, probability):
    """The head always says halt: without exploration every slot leaves after one step; with it
    (probability 1) each stays for a random minimum drawn from 2..halt_max_steps."""
    model = tiny_model(halt_max_steps=4, halt_exploration_prob=probability)
    trainer = Trainer(model, tiny_train(shared_sample, tmp_path, model, batch_size=8), log=quiet)
    HaltOverride(trainer, halt=[10.0] * 8)
    left = finishing_steps(trainer, 6)
    if probability == 0.0:
        assert left == [1] * 8 * 6
    else:
        assert left and min(left) >= 2 and max(left) <= 4
        assert set(left) == {2, 3, 4}, left  # random minimums, not one fixed count


# -- 4. gradient clipping ------------------------------------------------------------------------


def gradient_norms_at_update(trainer: Trainer, steps: int) -> list[float]:
    """The model's total gradient norm each time the optimiser steps."""
    norms: list[float] = []
    step = trainer.optimizer.step

    def spy(*args, **kwargs):
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item())
        return step(*args, **kwargs)

    trainer.optimizer.step = spy  # type: ignore[method-assign]
    metrics = RunningMetrics(trainer.device)
    for _ in range(steps):
        trainer.train_step(metrics)
    return norms


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_gradients_are_clipped_to_grad_clip_before_the_update(shared_sample, tmp_path, clip):
    model = tiny_model()
    trainer = Trainer(model, tiny_train(shared_sample, tmp_path, model, grad_clip=clip), log=quiet)
    norms = gradient_norms_at_update(trainer, 3)
    assert len(norms) == 3
    if clip is None:
        assert min(norms) > 100 * 1e-3  # unclipped gradients are far larger than the clip tried here
    else:
        assert max(norms) <= clip * (1 + 1e-4), norms


# -- 5. easier puzzles ---------------------------------------------------------------------------


def test_easier_share_fills_blanks_with_the_answers_digits_only(shared_sample):
    """A plain stream in the same state draws the same augmented puzzles, so every difference is a
    filled blank: it must hold the answer's digit, and givens never change."""
    puzzles = load_puzzle_sets([str(shared_sample / n) for n in TRAIN_NAMES])
    plain = TrainingStream(puzzles, 64)
    easier = TrainingStream(puzzles, 64, seed=3, easier_share=1.0)
    for _ in range(2):
        plain.load_state_dict(easier.state_dict())
        questions, answers = plain.next_batch()
        filled, labels = easier.next_batch()
        assert torch.equal(labels, answers)
        blank = questions == BLANK_TOKEN
        assert torch.equal(filled[~blank], questions[~blank])  # givens untouched
        revealed = blank & (filled != BLANK_TOKEN)
        assert torch.equal(filled[revealed], answers[revealed])  # the right digits
        assert revealed.sum() > 0.2 * blank.sum()  # a uniform share of the blanks: ~half on average
        assert (blank & ~revealed).any()  # not all of them


def test_easier_share_makes_only_that_share_of_samples_easier(shared_sample):
    puzzles = load_puzzle_sets([str(shared_sample / n) for n in TRAIN_NAMES])
    plain = TrainingStream(puzzles, 200)
    easier = TrainingStream(puzzles, 200, seed=5, easier_share=0.25)
    plain.load_state_dict(easier.state_dict())
    questions, _ = plain.next_batch()
    filled, _ = easier.next_batch()
    changed = (filled != questions).any(1).float().mean().item()
    assert 0.1 < changed < 0.4, changed


# -- 6. dev evaluation ---------------------------------------------------------------------------


def test_dev_evaluation_scores_the_ema_at_its_own_halting_step(shared_sample, tmp_path):
    """The EMA's head says halt at once, the raw model's never: the dev figures must be the EMA's,
    read at step 1 of a 3-step traced run (mean_steps 1), with the all-steps figure from step 3."""
    model = tiny_model(halt_max_steps=3)
    config = tiny_train(shared_sample, tmp_path, model, dev=str(shared_sample / "hard_dev.csv"), dev_limit=12)
    trainer = Trainer(model, config, log=quiet)
    with torch.no_grad():
        for net, bias in ((trainer.ema, 10.0), (trainer.model, -10.0)):
            net.q_head.weight.zero_()
            net.q_head.bias.fill_(bias)
        trainer.ema.lm_head.weight.mul_(3.0)  # different answers as well

    result = trainer.evaluate_dev()
    assert result is not None

    dev = trainer.dev_set
    assert dev is not None and len(dev) == 12
    traced = solve(trainer.ema, dev.questions, InferenceConfig(steps=3, trace=True))
    expected = score(at_halting_step(traced), dev.answers).to_dict()
    assert result["mean_steps"] == 1.0 and result["max_steps"] == 1
    for key in ("grid_accuracy", "cell_accuracy", "valid", "halting_accuracy"):
        assert result[key] == pytest.approx(expected[key]), key
    assert result["grid_accuracy_all_steps"] == pytest.approx(float((traced.answers == dev.answers).all(1).mean()))
    # The check could fail: the last step's answers, or the raw model's, score otherwise.
    assert score(traced, dev.answers).mean_steps == 3.0
    raw = score(at_halting_step(solve(trainer.model, dev.questions, InferenceConfig(steps=3, trace=True))), dev.answers)
    assert raw.mean_steps == 3.0
    step_1, step_3 = traced.trace_answers[:, 0], traced.trace_answers[:, 2]  # type: ignore[index]
    assert (step_1 != step_3).any()


# -- 7. warm-up ----------------------------------------------------------------------------------


def test_warm_up_sets_lr_over_warmup_at_the_first_step(shared_sample, tmp_path):
    """The learning rate the optimiser actually steps with: lr/4, lr/2, 3lr/4, lr, lr."""
    model = tiny_model()
    trainer = Trainer(model, tiny_train(shared_sample, tmp_path, model, lr=2e-3, warmup_steps=4), log=quiet)
    used = learning_rates_per_step(trainer)
    metrics = RunningMetrics(trainer.device)
    for _ in range(5):
        trainer.train_step(metrics)
    expected = [5e-4, 1e-3, 1.5e-3, 2e-3, 2e-3]
    assert len(used) == 5
    for lrs, lr in zip(used, expected):
        assert lrs == pytest.approx([lr] * len(lrs))


# -- 8. the RNG on resume ------------------------------------------------------------------------


def test_resume_restores_the_global_torch_rng(shared_sample, tmp_path):
    """Halting exploration draws from the global RNG, so a resumed run must continue its stream."""
    model = tiny_model(halt_exploration_prob=0.5)
    config = tiny_train(shared_sample, tmp_path, model, steps=10)
    first = Trainer(model, config, log=quiet)
    first.run(until=3)
    at_stop = torch.get_rng_state()
    checkpoint = load_checkpoint(Path(config.runs_dir) / config.name / CHECKPOINT_NAME)
    assert checkpoint["step"] == 3
    assert torch.equal(checkpoint["ranks"][0]["torch_rng"], at_stop)
    continued = torch.rand(8)

    torch.manual_seed(999)  # whatever happens in between must not matter
    resumed = Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    assert resumed.step == 3
    assert torch.equal(torch.get_rng_state(), at_stop)
    assert torch.equal(torch.rand(8), continued)
    # The check could fail: the trainer seeds the global RNG when it starts, and training moved it on.
    torch.manual_seed(config.seed)
    assert not torch.equal(torch.get_rng_state(), at_stop)


# -- 9. Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_inside_a_step_saves_a_checkpoint_at_the_steps_done(shared_sample, tmp_path):
    model = tiny_model()
    config = tiny_train(shared_sample, tmp_path, model, steps=10)
    trainer = Trainer(model, config, log=quiet)
    forward = trainer.forward
    calls = 0

    def interrupted(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 4:  # in the middle of the fourth step, after three completed
            raise KeyboardInterrupt
        return forward(*args, **kwargs)

    trainer.forward = interrupted  # type: ignore[assignment]
    path = Path(config.runs_dir) / config.name / CHECKPOINT_NAME
    with pytest.raises((UserError, KeyboardInterrupt), match="interrupted at step 3"):
        trainer.run()
    assert path.is_file()
    checkpoint = load_checkpoint(path)
    assert checkpoint["step"] == 3
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(checkpoint["model"][name], value), name
