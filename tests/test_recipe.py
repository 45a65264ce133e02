"""The fast training recipe ("Speed is Confidence") and the time budget, pinned piece by piece.

1. Muon with AdamW: Muon's group holds exactly the blocks' weight matrices, AdamW everything else, each
   with its own learning rate; a checkpoint of the pair resumes bit-for-bit.
2. Schedules: the cosine ends on its floor at the last step; under a time budget progress follows the
   clock, PDC reaches full depth and the cosine its floor before the budget ends, a run stops by itself
   and saves inside its budget, and a resumed run continues the clock.
3. The gated MLP and the softmax loss with label smoothing, against their formulas.
4. `--init-from` starts from an export's exact outputs, and refuses an export of another config.
5. `--recipe fast` sets each published value; an explicit flag wins.

Tiny CPU trainers on the committed fixture sample (hidden 16, one block, H and L of 1-2, batch 4-8).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_train_config
from trainer_spies import FakeClock, depths_per_step, learning_rates_per_step
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM, SwiGLU, rms_norm
from sudoku_trm.model.weights import export_weights, load_weights
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from sudoku_trm.training.config import TrainConfig, stages_for
from sudoku_trm.training.losses import cell_cross_entropy, stablemax_cross_entropy
from sudoku_trm.training.optim import CombinedOptimizer, training_optimizer
from sudoku_trm.training.recipes import RECIPES, configs, default_recipe
from sudoku_trm.training.schedule import TimeBudget, lr_factor
from sudoku_trm.training.trainer import RunningMetrics, Trainer

TRAIN_NAMES = ("unbiased_1k.csv", "clue17.csv", "hard_train.csv")
BLOCK_MATRICES = {
    f"L_level.layers.{i}.{mlp}.{proj}.weight"
    for i in (0, 1)
    for mlp in ("mlp_t", "mlp")
    for proj in ("gate_up_proj", "down_proj")
}
OTHER_TENSORS = {
    "embed_tokens.embedding_weight",
    "puzzle_emb.weights",
    "lm_head.weight",
    "q_head.weight",
    "q_head.bias",
}


def quiet(_line: str) -> None:
    pass


def tiny_model(**overrides) -> ModelConfig:
    values: dict = dict(hidden_size=16, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3)
    values.update(overrides)
    return ModelConfig(**values)


def tiny_train(sample: Path, tmp_path: Path, model: ModelConfig, **overrides) -> TrainConfig:
    data = tuple(str(sample / n) for n in TRAIN_NAMES)
    return tiny_train_config(tmp_path, model, **{"data": data, "warmup_steps": 0, **overrides})


def muon_train(sample: Path, tmp_path: Path, model: ModelConfig, **overrides) -> TrainConfig:
    """The fast recipe's optimiser and loss at tiny scale."""
    values: dict = dict(
        optimizer="muon",
        muon_lr=0.02,
        lr=1e-3,
        lr_schedule="cosine",
        lr_floor=0.1,
        grad_clip=1.0,
        loss="softmax",
        label_smoothing=0.2,
        halt_loss_weight=0.05,
    )
    values.update(overrides)
    return tiny_train(sample, tmp_path, model, **values)


def assert_same_state(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and values, equal exactly."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


# -- 1. Muon with AdamW ----------------------------------------------------------------------------


@pytest.mark.parametrize("mixer", ["mlp", "attention"])
def test_muon_holds_exactly_the_block_matrices_and_adamw_everything_else(mixer):
    model = TRM(ModelConfig(hidden_size=32, num_heads=4, num_layers=2, mixer=mixer, mlp="gated_rms"))
    config = TrainConfig(optimizer="muon", lr=3e-4, muon_lr=0.05, weight_decay=0.5, muon_weight_decay=0.01)
    optimizer = training_optimizer(model, config)
    assert isinstance(optimizer, CombinedOptimizer) and set(optimizer.parts) == {"adamw", "muon"}
    muon, adamw = optimizer.parts["muon"], optimizer.parts["adamw"]
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)

    names = {id(p): name for name, p in model.named_parameters()}
    in_muon = [names[id(p)] for group in muon.param_groups for p in group["params"]]
    in_adamw = [names[id(p)] for group in adamw.param_groups for p in group["params"]]
    matrices = (
        BLOCK_MATRICES
        if mixer == "mlp"
        else {f"L_level.layers.{i}.{m}.weight" for i in (0, 1) for m in ("self_attn.qkv_proj", "self_attn.o_proj")}
        | {f"L_level.layers.{i}.mlp.{p}.weight" for i in (0, 1) for p in ("gate_up_proj", "down_proj")}
    )
    assert sorted(in_muon) == sorted(matrices)
    assert sorted(in_adamw) == sorted(OTHER_TENSORS)
    assert len(in_muon) + len(in_adamw) == len(names)  # none in both, none missing

    # A learning rate (and decay) per group, each group's base rate kept for the schedule.
    assert [(g["lr"], g["base_lr"], g["weight_decay"]) for g in muon.param_groups] == [(0.05, 0.05, 0.01)]
    assert [(g["lr"], g["base_lr"], g["weight_decay"]) for g in adamw.param_groups] == [(3e-4, 3e-4, 0.5)]
    assert muon.param_groups[0]["momentum"] == 0.6 and muon.param_groups[0]["ns_steps"] == 3
    assert muon.param_groups[0]["nesterov"] is True
    assert optimizer.param_groups == [*adamw.param_groups, *muon.param_groups]


def test_each_group_steps_with_its_own_scheduled_learning_rate(shared_sample, tmp_path):
    """The trainer scales each group's own base rate: AdamW's from --lr, Muon's from --muon-lr; and
    both optimisers move their own tensors."""
    model = tiny_model()
    trainer = Trainer(model, muon_train(shared_sample, tmp_path, model, steps=3, lr_floor=0.5), log=quiet)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    used = learning_rates_per_step(trainer)
    trainer.run()
    # The cosine from 1 to the floor 0.5 at progress 0, 1/3 and 1 (the last step's).
    factors = [1.0, 0.5 + 0.5 * 0.5 * (1 + math.cos(math.pi / 3)), 0.5]
    assert used == [pytest.approx([1e-3 * f, 0.02 * f]) for f in factors]
    for name, p in trainer.model.named_parameters():
        assert not torch.equal(p, before[name]), name


def test_a_checkpoint_of_muon_and_adamw_resumes_bit_for_bit(shared_sample, tmp_path):
    model = tiny_model(H_cycles=2, L_cycles=1, mlp="gated_rms", halt_max_steps=3)

    def config(name: str) -> TrainConfig:
        return muon_train(
            shared_sample,
            tmp_path,
            model,
            name=name,
            curriculum="cgar",
            pdc_boundaries=(0.5,),
            pdc_depths=((1, 1), (2, 1)),
            steps=8,
            batch_size=6,
            warmup_steps=2,
            checkpoint_every=4,
        )

    straight = Trainer(model, config("straight"), log=quiet)
    straight.run()
    first = Trainer(model, config("stopped"), log=quiet)
    first.run(until=3)
    torch.manual_seed(1234)  # whatever happens to the global RNG in between must not matter
    resumed = Trainer(model, dataclasses.replace(config("stopped"), resume=True), log=quiet)
    assert resumed.step == 3
    resumed.run()

    assert resumed.step == straight.step == 8
    assert not torch.equal(resumed.model.lm_head.weight, TRM(model).lm_head.weight)
    assert_same_state(straight.model.state_dict(), resumed.model.state_dict(), "model")
    assert_same_state(straight.ema.state_dict(), resumed.ema.state_dict(), "ema")
    saved = straight.optimizer.state_dict()
    assert set(saved) == {"adamw", "muon"} and saved["muon"]["state"]  # Muon's momentum buffers are in it
    assert_same_state(saved, resumed.optimizer.state_dict(), "optimizer")
    assert_same_state(straight.slots.state_dict(), resumed.slots.state_dict(), "slots")


def test_resume_with_another_optimiser_is_a_user_error(shared_sample, tmp_path):
    model = tiny_model()
    config = tiny_train(shared_sample, tmp_path, model)
    Trainer(model, config, log=quiet).run(until=1)
    with pytest.raises(UserError, match="trained with optimizer adam_atan2, this run uses muon"):
        Trainer(model, dataclasses.replace(config, optimizer="muon", resume=True), log=quiet)


# -- 2. schedules ----------------------------------------------------------------------------------


def test_lr_factor_warms_up_and_the_cosine_runs_from_one_to_its_floor():
    assert lr_factor("constant", 0.7, 10, 0, 0.0) == 1.0
    assert lr_factor("constant", 0.7, 1, 4, 0.0) == 0.5  # warm-up: (step + 1) / warmup
    assert lr_factor("cosine", 0.0, 100, 0, 0.2) == 1.0
    assert lr_factor("cosine", 0.5, 100, 0, 0.2) == pytest.approx(0.6)
    assert lr_factor("cosine", 1.0, 100, 0, 0.2) == pytest.approx(0.2)
    assert lr_factor("cosine", 1.0, 100, 0, 0.0) == 0.0
    assert lr_factor("cosine", 0.5, 0, 2, 0.0) == pytest.approx(0.25)  # warm-up times the cosine


def test_cosine_reaches_its_floor_at_the_last_step(shared_sample, tmp_path):
    model = tiny_model()
    config = tiny_train(shared_sample, tmp_path, model, steps=6, lr=2e-3, lr_schedule="cosine", lr_floor=0.25)
    trainer = Trainer(model, config, log=quiet)
    used = learning_rates_per_step(trainer)
    trainer.run()
    lrs = [group[0] for group in used]
    assert len(lrs) == 6
    assert lrs[0] == 2e-3 and lrs[-1] == pytest.approx(0.25 * 2e-3)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))  # decays every step


def test_time_budget_progress_follows_the_clock_and_the_last_step_ends_inside_the_horizon():
    """Budget 1 minute; the whole dev set took 2.4 s and a checkpoint 1 s, so the reserve is 1.25 x 2.4 s
    for the final evaluation, 2 x 2 x 1 s for the checkpoint and export, 1 s of grace: 8 s. Steps of 1.5 s
    run at progress elapsed / 52 s, the last one at exactly 1, and none ends past the horizon."""
    clock = FakeClock()
    budget = TimeBudget(1.0, clock)  # type: ignore[arg-type]
    clock.now = 1.0  # setup
    budget.set_reserve(eval_seconds=2.4, save_seconds=1.0)
    assert budget.reserve == pytest.approx(8.0) and budget.horizon == pytest.approx(52.0)
    progress = []
    while (p := budget.next_progress()) is not None:
        progress.append(p)
        clock.now += 1.5
        budget.step_seconds = 1.5
    assert progress[0] == pytest.approx(1 / 52) and progress[1] == pytest.approx(2.5 / 52)
    assert progress[-1] == 1.0 and progress[-2] < 1.0
    assert all(a < b for a, b in zip(progress, progress[1:]))
    # The last step ended inside the horizon, with no room for another of up to 1.25 x 1.5 s.
    assert 52.0 - 1.5 * 2.25 < clock.now <= 52.0
    assert budget.next_progress() is None


def test_a_step_that_would_end_past_the_horizon_does_not_start():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock)  # type: ignore[arg-type]
    budget.set_reserve(eval_seconds=2.4, save_seconds=1.0)  # horizon 52 s
    clock.now, budget.step_seconds = 40.0, 1.0
    assert budget.next_progress() == pytest.approx(40 / 52)
    clock.now, budget.step_seconds = 48.5, 1.6  # that step was slower: room for this one, not for another
    assert budget.next_progress() == 1.0
    assert budget.next_progress() is None

    stalled = TimeBudget(1.0, clock)  # type: ignore[arg-type]
    stalled.set_reserve(eval_seconds=2.4, save_seconds=1.0)
    clock.now, stalled.step_seconds = 45.0, 10.0  # a step that stalled for 10 s: another would end past 52 s
    assert stalled.next_progress() is None

    late = TimeBudget(1.0, clock)  # type: ignore[arg-type]
    late.set_reserve(eval_seconds=2.4, save_seconds=1.0)
    clock.now = 52.5  # a periodic evaluation ran past the horizon
    assert late.next_progress() is None


def test_evaluations_get_shares_of_the_budget_and_the_final_one_what_is_left():
    """10 minutes: the first evaluation at most 30 s (5%), each periodic one 30 s and all of them 60 s
    (10%), the final one at most 60 s (10%) or 1.25 x the whole dev set's time, and never more than
    the time left once the export (2 x a checkpoint) and the grace are kept back."""
    clock = FakeClock()
    budget = TimeBudget(10.0, clock)  # type: ignore[arg-type]
    clock.now = 4.0
    assert budget.first_eval_seconds() == 30.0
    budget.set_reserve(eval_seconds=None, save_seconds=0.5)  # the first evaluation was cut short
    assert budget.final_eval == 60.0 and budget.reserve == 60.0 + 2.0 + 1.0
    budget.set_reserve(eval_seconds=8.0, save_seconds=0.5)  # the whole dev set took 8 s
    assert budget.final_eval == 10.0 and budget.horizon == 600.0 - 13.0
    assert budget.periodic_eval_seconds() == 30.0
    budget.periodic_spent = 45.0
    assert budget.periodic_eval_seconds() == 15.0
    clock.now = 580.0  # 7 s before the horizon
    assert budget.periodic_eval_seconds() == 7.0
    clock.now = 589.0  # a slow last step: 11 s left, 1 s export and 1 s grace kept back
    assert budget.final_eval_seconds() == 9.0
    clock.now = 599.0
    assert budget.final_eval_seconds() == 0.0
    setup_spent = TimeBudget(0.5, clock)  # type: ignore[arg-type]
    assert setup_spent.first_eval_seconds() == 0.0  # 599 s spent of 30: no evaluation, and no error


class SlowEvaluations:
    """Puzzles that each take `seconds` of a FakeClock to solve (the real solve runs, instantly)."""

    def __init__(self, clock: FakeClock, seconds: float, monkeypatch):
        import sudoku_trm.inference.scores as scores

        real = scores.solve
        self.batches: list[int] = []

        def slow(model, questions, config):
            self.batches.append(len(questions))
            clock.now += seconds * len(questions)
            return real(model, questions, config)

        monkeypatch.setattr(scores, "solve", slow)


def test_an_evaluation_given_seconds_scores_the_first_puzzles_that_fit_in_growing_batches(shared_sample, monkeypatch):
    from sudoku_trm.inference.scores import evaluate
    from sudoku_trm.sudoku.puzzle_sets import load_puzzle_sets

    clock = FakeClock()
    slow = SlowEvaluations(clock, 0.5, monkeypatch)
    puzzles = load_puzzle_sets([shared_sample / "hard_dev.csv"])
    model = TRM(tiny_model()).eval()
    scores = evaluate(model, puzzles, batch_size=4, seconds=5.0, now=clock.elapsed)
    assert scores is not None and scores.puzzles == 10 and clock.now == 5.0  # 1 + 2 + 4 + 3: the last cut to fit
    assert slow.batches == [1, 2, 4, 3]
    assert evaluate(model, puzzles, batch_size=4, seconds=0.0, now=clock.elapsed) is None


def test_a_time_budget_holds_with_slow_evaluations_and_every_output_is_written(shared_sample, tmp_path, monkeypatch):
    """A 1-minute budget, a dev set whose every puzzle takes 2 s to evaluate (the whole set would take
    minutes) and steps of 0.1 s: the evaluations are cut to their shares (said in the log and the
    records), training gets most of the minute, and the run ends inside it, checkpoint and metrics
    written; the activities are reported in order."""
    model, config = budget_run(shared_sample, tmp_path, dev=str(shared_sample / "hard_dev.csv"))
    config = dataclasses.replace(config, time_budget=1.0, eval_every=100, eval_batch_size=8, log_every=100)
    lines: list[str] = []
    activities: list[str] = []
    trainer = Trainer(model, config, log=lines.append, on_activity=activities.append)
    clock = FakeClock()
    trainer.clock = trainer.budget.clock = clock  # type: ignore[union-attr, assignment]
    SlowEvaluations(clock, 2.0, monkeypatch)
    train_step, save = trainer.train_step, trainer.save
    training = [0.0]

    def step(metrics):
        train_step(metrics)
        clock.now += 0.1
        training[0] += 0.1

    def slow_save():
        save()
        clock.now += 0.2

    trainer.train_step, trainer.save = step, slow_save  # type: ignore[method-assign]
    summary = trainer.run()

    assert clock.now <= 60.0
    assert training[0] >= 0.7 * 60.0, training[0]
    records = [json.loads(line) for line in (tmp_path / "runs" / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval" in r]
    # Periodic evaluations of one puzzle (2 s of their 3 s each) spend their 6 s share by step 300.
    assert [r["step"] for r in evals] == [0, 100, 200, 300, trainer.step] and trainer.step > 400
    assert any(line.startswith("eval step 400: skipped") for line in lines)
    assert all(r["dev_puzzles"] == len(trainer.dev_set) > r["eval"]["puzzles"] for r in evals)  # type: ignore[arg-type]
    assert evals[0]["eval"]["puzzles"] == 1  # 3 s (5%) fit one puzzle of 2 s
    assert summary["eval"] == evals[-1]["eval"] and records[-2]["step"] == trainer.step
    assert load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)["step"] == trainer.step
    assert sum("cut to fit the time budget" in line for line in lines) == 5
    assert activities[0].startswith("evaluating") and activities[1].startswith("saving")
    assert activities[2] == "training" and activities[-1] == "done"
    assert activities[-3].startswith("saving") and activities[-2].startswith("evaluating")


def test_a_budget_spent_before_training_trains_no_step_but_still_saves_and_ends(shared_sample, tmp_path):
    model, config = budget_run(shared_sample, tmp_path, dev=str(shared_sample / "hard_dev.csv"))
    lines: list[str] = []
    trainer = Trainer(model, config, log=lines.append)
    clock = FakeClock()
    clock.now = 3.5  # setup took the whole 3 s budget and more
    trainer.clock = trainer.budget.clock = clock  # type: ignore[union-attr, assignment]
    trainer.run()
    assert trainer.step == 0
    assert load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)["step"] == 0
    assert any("no step runs" in line for line in lines)


def budget_run(sample: Path, tmp_path: Path, **overrides) -> tuple[ModelConfig, TrainConfig]:
    """A run with no step limit under a 0.05-minute (3 s) budget, PDC in three stages, cosine to 0.1."""
    model = tiny_model(H_cycles=2, L_cycles=2)
    config = tiny_train(
        sample,
        tmp_path,
        model,
        curriculum="pdc",
        pdc_boundaries=(0.3, 0.6),
        pdc_depths=((1, 1), (1, 2), (2, 2)),
        steps=1,  # ignored under a time budget
        time_budget=0.05,
        lr_schedule="cosine",
        lr_floor=0.1,
        log_every=5,
        **overrides,
    )
    return model, config


def test_under_a_time_budget_depth_and_learning_rate_follow_the_clock_to_their_ends(shared_sample, tmp_path):
    """Each step takes 1/16 s of a clock that moves only with the steps: 47 steps fit the 3 s (a 48th
    might take 1.25 x as long and end past it), PDC moves on at 30% and 60% of the time (steps 15 and
    29), and the last step runs at full depth with the cosine on its floor, at progress 1."""
    model, config = budget_run(shared_sample, tmp_path)
    trainer = Trainer(model, config, log=quiet)
    clock = FakeClock()
    trainer.clock = trainer.budget.clock = clock  # type: ignore[union-attr, assignment]
    trainer.budget.GRACE = 0.0  # type: ignore[union-attr]  # the whole 3 s for training: steps of 1/16 s fill it
    train_step = trainer.train_step

    def step_of_a_sixteenth(metrics):
        train_step(metrics)
        clock.now += 1 / 16

    trainer.train_step = step_of_a_sixteenth  # type: ignore[method-assign]
    depths, lrs = depths_per_step(trainer), learning_rates_per_step(trainer)
    trainer.run()

    assert trainer.step == 47
    assert depths == [(1, 1)] * 15 + [(1, 2)] * 14 + [(2, 2)] * 18
    factors = [lr / 1e-3 for (lr,) in lrs]
    progress = [min(1.0, step / 16 / 3.0) for step in range(46)] + [1.0]
    assert factors == pytest.approx([0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)) for p in progress])
    assert factors[-1] == pytest.approx(0.1)
    checkpoint = load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)
    assert checkpoint["step"] == 47 and checkpoint["elapsed_seconds"] == 47 / 16


def test_a_run_under_a_time_budget_stops_by_itself_and_saves_inside_it(shared_sample, tmp_path):
    """A clock that moves only with the work (steps of 0.05 s, saves of 0.2 s), so a loaded machine cannot
    change the outcome: the run ends by itself, at full depth with the learning rate in the cosine's tail,
    and its checkpoint is written inside the 3 s budget, with every step in it and in the metrics."""
    model, config = budget_run(shared_sample, tmp_path)
    trainer = Trainer(model, config, log=quiet)
    clock = FakeClock()
    trainer.clock = trainer.budget.clock = clock  # type: ignore[union-attr, assignment]
    train_step, save = trainer.train_step, trainer.save

    def step(metrics):
        train_step(metrics)
        clock.now += 0.05

    def slow_save():
        save()
        clock.now += 0.2

    trainer.train_step, trainer.save = step, slow_save  # type: ignore[method-assign]
    depths, lrs = depths_per_step(trainer), learning_rates_per_step(trainer)
    trainer.run()
    trainer.export(tmp_path / "weights")

    # Past `steps` (1): the steps fill the time for training, between the first save and the horizon
    # (the budget less the reserve for the final save and export), to within the margin of one step.
    training = trainer.budget.horizon - 0.2  # type: ignore[union-attr]
    assert config.steps < 10 < trainer.step and training - 0.05 * 2.25 <= 0.05 * trainer.step <= training
    assert clock.now <= 3.0
    assert depths[0] == (1, 1) and depths[-1] == (2, 2)
    assert lrs[-1][0] < 0.5e-3 < lrs[0][0]
    checkpoint = load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)
    assert checkpoint["step"] == trainer.step
    assert 0 < checkpoint["elapsed_seconds"] <= 3.0
    assert load_weights(tmp_path / "weights").config == model
    records = [json.loads(line) for line in (tmp_path / "runs" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == trainer.step


def test_a_budget_spent_by_a_stall_still_logs_the_steps_since_the_last_log_line(shared_sample, tmp_path):
    """The horizon passes before any step could run as the last (a stall, a loaded machine): the run ends,
    and its last steps are in metrics.jsonl all the same (they once were not: the CI machine caught it)."""
    model, config = budget_run(shared_sample, tmp_path)
    trainer = Trainer(model, dataclasses.replace(config, log_every=100), log=quiet)
    decided = iter([0.1, 0.2, 0.3, None])  # three steps, none the last, then the budget is spent
    trainer.budget.next_progress = lambda: next(decided)  # type: ignore[union-attr,method-assign]
    summary = trainer.run()
    records = [json.loads(line) for line in (tmp_path / "runs" / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert trainer.step == 3 and [r["step"] for r in steps] == [3]
    assert summary["step"] == 3 and "eval" in summary


def test_resume_under_a_time_budget_continues_the_clock(shared_sample, tmp_path):
    model = tiny_model()
    config = tiny_train(shared_sample, tmp_path, model, time_budget=1.0, steps=1)
    first = Trainer(model, config, log=quiet)
    first.run(until=3)
    saved = load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)["elapsed_seconds"]
    assert saved > 0

    started = time.perf_counter()  # the resumed clock is the saved time plus this process's own
    resumed = Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    assert saved <= resumed.clock.elapsed() <= saved + (time.perf_counter() - started)
    resumed.run(until=5)
    assert resumed.step == 5
    progress, _depth, _factor = resumed.step_settings
    assert progress >= saved / resumed.budget.horizon  # type: ignore[union-attr]
    later = load_checkpoint(tmp_path / "runs" / "run" / CHECKPOINT_NAME)["elapsed_seconds"]
    assert later > saved


# -- 3. the gated MLP and the loss -----------------------------------------------------------------


def test_gated_rms_mlp_is_sigmoid_gate_times_rms_norm_of_gate_times_value():
    torch.manual_seed(0)
    mlp = SwiGLU(8, 24, gated_rms=True, eps=1e-5)
    x = torch.randn(3, 5, 8)
    gate, value = (x @ mlp.gate_up_proj.weight.T).chunk(2, dim=-1)
    product = gate * value
    normed = product / torch.sqrt(product.square().mean(-1, keepdim=True) + 1e-5)
    expected = (torch.sigmoid(gate) * normed) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), expected)
    plain = SwiGLU(8, 24)
    plain.load_state_dict(mlp.state_dict())  # same tensors ...
    assert not torch.allclose(plain(x), mlp(x))  # ... another function
    torch.testing.assert_close(rms_norm(product, 1e-5), normed)


def test_gated_mlp_is_an_option_that_reference_configs_never_switch_on():
    assert ModelConfig().mlp == "swiglu"
    assert ModelConfig.from_dict({"hidden_size": 32}).mlp == "swiglu"  # a config.json written before the field
    plain, gated = TRM(ModelConfig(hidden_size=32)), TRM(ModelConfig(hidden_size=32, mlp="gated_rms"))
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in gated.state_dict().items()}
    for block in gated.L_level.layers:  # the token mixer and the channel MLP alike
        assert block.mlp_t.gated_rms and block.mlp.gated_rms
    with pytest.raises(ValueError, match="mlp must be one of"):
        ModelConfig(mlp="geglu")


def test_softmax_loss_with_label_smoothing_is_torchs_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 81, 11, generator=generator) * 3
    labels = torch.randint(2, 11, (2, 81), generator=generator)
    for smoothing in (0.0, 0.2):
        expected = F.cross_entropy(logits.view(-1, 11), labels.view(-1), label_smoothing=smoothing, reduction="none")
        torch.testing.assert_close(cell_cross_entropy(logits, labels, "softmax", smoothing), expected.view(2, 81))
    assert torch.equal(cell_cross_entropy(logits, labels), stablemax_cross_entropy(logits, labels))


def test_the_trainer_uses_the_configured_loss(shared_sample, tmp_path):
    """Same weights and batch, three losses: the logged loss differs, so the setting reaches the step."""
    model = tiny_model()
    losses = []
    for loss, smoothing in (("stablemax", 0.0), ("softmax", 0.0), ("softmax", 0.2)):
        trainer = Trainer(
            model, tiny_train(shared_sample, tmp_path, model, loss=loss, label_smoothing=smoothing), log=quiet
        )
        metrics = RunningMetrics(trainer.device)
        trainer.train_step(metrics)
        losses.append(metrics.flush()["loss"])
    assert len({round(value, 6) for value in losses}) == 3, losses


# -- 4. --init-from --------------------------------------------------------------------------------


def test_init_from_reproduces_the_exported_models_logits_at_step_0(shared_sample, tmp_path):
    model = tiny_model(mlp="gated_rms")
    torch.manual_seed(7)
    source = TRM(model)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not what a fresh model draws
    export_weights(source, tmp_path / "exported")
    config = tiny_train(shared_sample, tmp_path, model, init_from=str(tmp_path / "exported"))
    trainer = Trainer(model, config, log=quiet)

    assert trainer.step == 0 and not trainer.optimizer.state_dict()["state"]  # a fresh optimiser
    inputs = trainer.stream.next_batch()[0]
    exported = load_weights(tmp_path / "exported")
    expected = exported(exported.initial_carry(len(inputs)), inputs)
    for net in (trainer.model, trainer.ema):
        carry, logits, halt = net(net.initial_carry(len(inputs)), inputs)
        assert torch.equal(logits, expected[1]) and torch.equal(halt, expected[2])
    fresh = Trainer(model, dataclasses.replace(config, init_from=None), log=quiet)
    assert not torch.equal(fresh.model.lm_head.weight, trainer.model.lm_head.weight)


def test_init_from_an_export_of_another_config_is_a_one_line_error_naming_the_field(shared_sample, tmp_path):
    export_weights(TRM(tiny_model(hidden_size=32, L_cycles=2)), tmp_path / "exported")
    model = tiny_model(L_cycles=1)  # hidden 16: other weights (and another depth, which alone would do)
    config = tiny_train(shared_sample, tmp_path, model, init_from=str(tmp_path / "exported"))
    with pytest.raises(UserError) as error:
        Trainer(model, config, log=quiet)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "exported") in message
    assert re.search(r"hidden_size 32.*hidden_size 16", message), message


def test_init_from_may_run_the_same_weights_deeper_and_longer_and_says_so(shared_sample, tmp_path):
    """Depth and step limit decide how the weights are run, not their shapes: a run can continue an export at
    another depth (a depth A/B forked from one checkpoint); each setting that differs is logged."""
    trained = tiny_model(H_cycles=1, L_cycles=1, halt_max_steps=3)
    source = TRM(trained)
    export_weights(source, tmp_path / "exported")
    deeper = dataclasses.replace(trained, H_cycles=2, L_cycles=3, halt_max_steps=5)
    config = tiny_train(shared_sample, tmp_path, deeper, init_from=str(tmp_path / "exported"))
    lines: list[str] = []
    trainer = Trainer(deeper, config, log=lines.append)
    said = [line for line in lines if "same weights" in line]
    assert len(said) == 3, said
    assert any("H_cycles 1, this run trains H_cycles 2" in line for line in said)
    assert any("L_cycles 1, this run trains L_cycles 3" in line for line in said)
    assert any("halt_max_steps 3, this run trains halt_max_steps 5" in line for line in said)
    assert trainer.model.config == deeper
    for key, value in source.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key], value), key


def test_init_from_grows_a_plain_export_into_pairwise_messages_and_says_so(shared_sample, tmp_path):
    """A units export starts a run with pairwise messages (a fork of the shipped model for an A/B): the same
    logits at step 0, the new tensors at the run's own init; the reverse would drop weights and is refused."""
    plain = tiny_model(mixer="units", puzzle_emb_len=1)
    torch.manual_seed(7)
    source = TRM(plain)
    export_weights(source, tmp_path / "plain")
    paired = dataclasses.replace(plain, pair_width=4)
    lines: list[str] = []
    trainer = Trainer(
        paired, tiny_train(shared_sample, tmp_path, paired, init_from=str(tmp_path / "plain")), log=lines.append
    )
    assert [line for line in lines if "pair_width 0, this run grows it to 4" in line]
    inputs = trainer.stream.next_batch()[0]
    expected = source(source.initial_carry(len(inputs)), inputs)[1]
    for net in (trainer.model, trainer.ema):
        assert torch.equal(net(net.initial_carry(len(inputs)), inputs)[1], expected)
    assert trainer.model.L_level.layers[0].unit_mix.pair_send.weight.abs().sum() > 0  # its own init, not zeros

    export_weights(trainer.model, tmp_path / "paired")
    config = tiny_train(shared_sample, tmp_path, plain, init_from=str(tmp_path / "paired"))
    with pytest.raises(UserError, match="pair_width 4, this run trains pair_width 0"):
        Trainer(plain, config, log=quiet)


# -- 5. --recipe -----------------------------------------------------------------------------------

FAST_TRAIN = {
    "optimizer": "muon",
    "muon_lr": 0.02,
    "lr": 1e-4,
    "weight_decay": 1.0,
    "betas": (0.9, 0.95),
    "lr_schedule": "cosine",
    "lr_floor": 0.0,
    "warmup_steps": 0,
    "grad_clip": 1.0,
    "loss": "softmax",
    "label_smoothing": 0.2,
    "halt_loss_weight": 0.05,
    "batch_size": 384,
}


def test_recipe_fast_sets_each_published_value():
    model, train = configs("fast")
    assert (model.mlp, model.H_cycles, model.L_cycles) == ("gated_rms", 6, 9)
    for key, value in FAST_TRAIN.items():
        assert getattr(train, key) == value, key
    assert train.pdc_depths == stages_for((6, 9)) == ((2, 3), (4, 6), (6, 9))  # CGAR's stages, scaled
    assert train.curriculum == "cgar"
    # trm is the configs' own defaults, PDC's published stages included.
    assert configs("trm") == (ModelConfig(), TrainConfig())
    assert set(RECIPES) == {"trm", "fast", "cpu"}


def test_recipe_cpu_builds_sudokus_structure_in_and_is_the_default_without_cuda():
    model, train = configs("cpu")
    assert (model.mixer, model.hidden_size, model.H_cycles, model.L_cycles) == ("units", 96, 2, 3)
    assert train.targets == "solution" and train.easier_share == 0.8 and train.optimizer == "adamw"
    assert train.pdc_depths == stages_for((2, 3)) and train.curriculum == "cgar"
    assert default_recipe(cuda=False) == "cpu" and default_recipe(cuda=True) == "fast"


runner = CliRunner()


@pytest.fixture
def captured(monkeypatch) -> dict:
    """Runs `train` up to the trainer, keeping the configs the command built."""
    seen: dict = {}

    def run(model_config, config, export, started=None, **options):
        seen.update(model=model_config, train=config)

    monkeypatch.setattr("sudoku_trm.cli.train.run", run)
    return seen


def test_train_flag_recipe_fast_and_explicit_flags_override_it(captured):
    result = runner.invoke(app, ["train", "--recipe", "fast", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert captured["model"] == configs("fast")[0]
    for key, value in FAST_TRAIN.items():
        assert getattr(captured["train"], key) == value, key

    overrides = ["--lr", "3e-4", "--grad-clip", "0", "--h-cycles", "2", "--mlp", "swiglu", "--loss", "stablemax"]
    result = runner.invoke(app, ["train", "--recipe", "fast", "--device", "cpu", "--time-budget", "12.5", *overrides])
    assert result.exit_code == 0, result.output
    model, train = captured["model"], captured["train"]
    assert (model.H_cycles, model.L_cycles, model.mlp) == (2, 9, "swiglu")
    assert (train.lr, train.grad_clip, train.loss, train.time_budget) == (3e-4, 0.0, "stablemax", 12.5)
    assert train.pdc_depths == stages_for((2, 9))  # the stages follow the depth trained
    assert (train.optimizer, train.muon_lr, train.label_smoothing, train.batch_size) == ("muon", 0.02, 0.2, 384)


def test_train_reveal_flags_make_the_frontier_buckets(captured):
    result = runner.invoke(app, ["train", "--device", "cpu", "--mix", "frontier", "--reveal", "0", "--reveal", "0.05"])
    assert result.exit_code == 0, result.output
    assert (captured["train"].mix, captured["train"].reveals) == ("frontier", (0.0, 0.05))
    result = runner.invoke(app, ["train", "--device", "cpu", "--mix", "frontier"])
    assert captured["train"].reveals == TrainConfig().reveals


def test_train_defaults_are_the_cpu_recipe_on_a_cpu_trm_is_the_configs_own_and_a_bad_recipe_is_usage(captured):
    result = runner.invoke(app, ["train", "--device", "cpu", "--init-from", "some/dir"])
    assert result.exit_code == 0, result.output
    assert (captured["model"], captured["train"].targets) == (configs("cpu")[0], "solution")
    assert captured["train"].data == configs("cpu")[1].data
    assert captured["train"].init_from == "some/dir"
    result = runner.invoke(app, ["train", "--device", "cpu", "--targets", "logic", "--mixer", "attention"])
    assert result.exit_code == 0, result.output
    assert (captured["train"].targets, captured["model"].mixer) == ("logic", "attention")
    result = runner.invoke(app, ["train", "--recipe", "trm", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert captured["model"] == ModelConfig()
    defaults = TrainConfig()
    for key in (*FAST_TRAIN, "steps", "muon_momentum", "muon_weight_decay", "pdc_depths"):
        assert getattr(captured["train"], key) == getattr(defaults, key), key
    result = runner.invoke(app, ["train", "--recipe", "fastest", "--device", "cpu"])
    assert result.exit_code == 2 and "recipe must be one of trm, fast, cpu" in result.stderr
