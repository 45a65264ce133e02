"""The trainer's contracts, pinned where a mutation would otherwise go unnoticed: what each setup function
builds from the run's settings, what a second process (rank 1 of 2) does and must not do, the schedules'
exact values, what metrics.jsonl, the log, a checkpoint and an export hold, what a resume restores, and
the CUDA branches of the RNG hand-over, exercised on the CPU with a stand-in CUDA generator.

Tiny CPU trainers on the committed fixture sample (hidden 16, one block, H=1 and L=1, batch 4); most
tests call one method of a fresh trainer rather than training.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import SHARED_SAMPLE, TRAIN_FILES, tiny_train_config
from trainer_spies import learning_rates_per_step

import sudoku_trm.training.trainer as trainer_module
from sudoku_trm.errors import Interrupted, UserError
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_sets
from sudoku_trm.training import distributed
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from sudoku_trm.training.curriculum import CurriculumPlan, DepthSchedule
from sudoku_trm.training.frontier import FrontierStream
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.training.metrics import METRICS_NAME, RunningMetrics, eval_line, step_line
from sudoku_trm.training.rng import reseeded_line, seed_from
from sudoku_trm.training.schedule import Clock, lr_factor
from sudoku_trm.training.slots import Slots
from sudoku_trm.training.stream import TrainingStream, paper_protocol_set
from sudoku_trm.training.trainer import (
    Trainer,
    build_model,
    curriculum_plan,
    join_processes,
    load_data,
    model_call,
)

DEV_FILE = str(SHARED_SAMPLE / "hard_dev.csv")
CPU = torch.device("cpu")
FAKE_CUDA = torch.device("cuda", 0)  # a device descriptor only: nothing is ever placed on it


def quiet(_line: str) -> None:
    pass


def tiny_model(**overrides) -> ModelConfig:
    values: dict = dict(
        hidden_size=16, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3, halt_exploration_prob=0.0
    )
    values.update(overrides)
    return ModelConfig(**values)


def run_dir(trainer: Trainer) -> Path:
    return Path(trainer.config.runs_dir) / trainer.config.name


def metrics_records(trainer: Trainer) -> list[dict]:
    path = run_dir(trainer) / METRICS_NAME
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def step_values() -> dict[str, float]:
    """What RunningMetrics.flush returns, with made-up figures."""
    return {"loss": 1.5, "cell_accuracy": 0.25, "grid_accuracy": 0.0, "halting_accuracy": 0.75, "mean_steps": 2.0}


# -- 1. setup functions ----------------------------------------------------------------------------


def test_a_batch_that_does_not_split_over_the_processes_is_a_user_error_naming_both(tmp_path, monkeypatch):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, batch_size=4)
    monkeypatch.setattr(distributed, "setup", lambda: (0, 3))
    with pytest.raises(UserError, match=r"^--batch-size 4 does not split over 3 processes$"):
        join_processes(config)
    monkeypatch.setattr(distributed, "setup", lambda: (1, 2))
    assert join_processes(config) == (1, 2, CPU)


@pytest.fixture
def tf32_off():
    """Both TF32 flags off for the test, then back as they were (they are process-wide)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_tf32_matmuls_are_switched_on_for_cuda_and_left_alone_elsewhere(tmp_path, monkeypatch, tf32_off):
    """TF32 is a CUDA speed setting: the CPU run must not flip the process-wide flags."""
    model = tiny_model()
    asked: list[str] = []
    config = tiny_train_config(tmp_path, model, device="cpu")
    assert join_processes(config) == (0, 1, CPU)
    assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False

    def on_cuda(name: str) -> torch.device:
        asked.append(name)
        return FAKE_CUDA

    monkeypatch.setattr(trainer_module, "resolve_device", on_cuda)
    assert join_processes(dataclasses.replace(config, device="cuda")) == (0, 1, FAKE_CUDA)
    assert asked == ["cuda"]  # the configured device is what gets resolved
    assert torch.backends.cuda.matmul.allow_tf32 is True and torch.backends.cudnn.allow_tf32 is True


def test_the_curriculum_plan_is_built_from_the_runs_settings_and_the_models_step_limit(tmp_path):
    model = tiny_model(H_cycles=2, L_cycles=2, halt_max_steps=5)
    depths = ((1, 1), (1, 2), (2, 2))
    config = tiny_train_config(
        tmp_path,
        model,
        curriculum="cgar",
        pdc_boundaries=(0.25, 0.5),
        pdc_depths=depths,
        hsw_decay=0.6,
        hsw_variant="batch",
    )
    plan = curriculum_plan(config, model)
    assert plan == CurriculumPlan("cgar", DepthSchedule((0.25, 0.5), depths), 0.6, 5, "batch")
    assert [plan.depth_at(p) for p in (0.0, 0.3, 0.6)] == [(1, 1), (1, 2), (2, 2)]


def test_a_curriculum_that_ends_below_the_models_depth_is_a_user_error(tmp_path):
    model = tiny_model(H_cycles=2, L_cycles=2)
    config = tiny_train_config(tmp_path, model, curriculum="pdc", pdc_boundaries=(0.5,), pdc_depths=((1, 1), (2, 1)))
    message = "the curriculum's last depth must equal the model's full depth (H_cycles, L_cycles)"
    with pytest.raises(UserError) as caught:
        curriculum_plan(config, model)
    assert str(caught.value) == message


def test_load_data_builds_the_paper_set_and_cuts_the_dev_set_to_its_first_rows(tmp_path):
    model = tiny_model()
    base = load_puzzle_sets(list(TRAIN_FILES))
    dev_all = load_puzzle_sets([DEV_FILE])

    config = tiny_train_config(tmp_path, model, subsample=5, augment_copies=3, seed=7, dev=DEV_FILE, dev_limit=4)
    train, dev = load_data(config)
    expected = paper_protocol_set(base, 5, 3, 7)
    assert len(train) == 15
    assert (train.questions == expected.questions).all() and (train.answers == expected.answers).all()
    assert dev is not None and len(dev) == 4
    assert (dev.questions == dev_all.questions[:4]).all() and (dev.answers == dev_all.answers[:4]).all()

    train, dev = load_data(dataclasses.replace(config, subsample=None, dev_limit=None))
    assert len(train) == len(base) and (train.questions == base.questions).all()
    assert dev is not None and len(dev) == len(dev_all)
    assert load_data(dataclasses.replace(config, dev=None))[1] is None


def test_build_model_seeds_the_init_and_the_ema_is_a_frozen_copy(tmp_path):
    model_config = tiny_model()
    config = tiny_train_config(tmp_path, model_config, seed=5)
    torch.manual_seed(123)
    model, ema, optimizer = build_model(model_config, config, CPU)
    torch.manual_seed(5)
    reference = TRM(model_config)
    for name, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
        assert torch.equal(ema.state_dict()[name], value), name
    for (name, p), q in zip(model.named_parameters(), ema.parameters()):
        assert p.requires_grad and not q.requires_grad, name
        assert p.data_ptr() != q.data_ptr(), name  # its own tensors, not the model's
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in model.parameters()}


def test_build_model_places_model_and_ema_on_the_runs_device(tmp_path):
    """On the meta device (no memory, no data): what a GPU run's .to(device) would do, checked on a CPU."""
    model_config = tiny_model()
    model, ema, _ = build_model(model_config, tiny_train_config(tmp_path, model_config), torch.device("meta"))
    assert {t.device.type for t in [*model.parameters(), *model.buffers(), *ema.parameters()]} == {"meta"}


class FakeDDP:
    """Stands in for DistributedDataParallel (which needs a process group): records what it wraps."""

    def __init__(self, module, device_ids):
        self.module, self.device_ids = module, device_ids

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def test_the_model_is_wrapped_in_ddp_only_with_more_than_one_process(tmp_path, monkeypatch):
    model_config = tiny_model()
    config = tiny_train_config(tmp_path, model_config)
    monkeypatch.setattr(trainer_module, "DistributedDataParallel", FakeDDP)
    model = TRM(model_config)
    assert model_call(model, config, 1, CPU) is model
    wrapped = model_call(model, config, 2, CPU)
    assert isinstance(wrapped, FakeDDP) and wrapped.module is model and wrapped.device_ids is None
    on_gpu = model_call(model, config, 2, torch.device("cuda", 1))
    assert isinstance(on_gpu, FakeDDP) and on_gpu.module is model and on_gpu.device_ids == [1]


# -- 2. the trainer's state at the start -----------------------------------------------------------


def test_the_model_the_stream_and_the_slots_are_built_on_the_runs_device(tmp_path, monkeypatch):
    """On a GPU each must be on the GPU; on a CPU the device actually passed is what shows it."""
    devices: dict[str, list] = {"model": [], "stream": [], "slots": []}
    real_build, real_stream, real_empty = trainer_module.build_model, trainer_module.TrainingStream, Slots.empty

    def build(model_config, config, device, log):
        devices["model"].append(device)
        return real_build(model_config, config, device, log)

    def stream(puzzles, batch_size, device="default", **options):
        devices["stream"].append(device)
        return real_stream(puzzles, batch_size, CPU, **options)

    def empty(model, batch, device):
        devices["slots"].append(device)
        return real_empty(model, batch, CPU)

    monkeypatch.setattr(trainer_module, "build_model", build)
    monkeypatch.setattr(trainer_module, "TrainingStream", stream)
    monkeypatch.setattr(Slots, "empty", staticmethod(empty))
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    assert devices == {"model": [trainer.device], "stream": [trainer.device], "slots": [trainer.device]}


def test_the_runs_clock_starts_at_the_given_reading(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet, started=time.perf_counter() - 1000.0)
    assert trainer.clock.elapsed() >= 1000.0
    assert Trainer(model, config, log=quiet).clock.elapsed() < 1000.0


def test_a_time_budget_is_minutes_on_the_runs_clock_and_progress_reads_it_until_run_decides(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model, time_budget=2.5), log=quiet)
    assert trainer.budget is not None
    assert trainer.budget.seconds == 150.0 and trainer.budget.clock is trainer.clock
    assert trainer.decided is None
    progress = trainer.progress()
    assert isinstance(progress, float) and 0.0 < progress < 0.5
    trainer.decided = 0.375
    assert trainer.progress() == 0.375
    assert Trainer(model, tiny_train_config(tmp_path, model), log=quiet).budget is None


def test_progress_by_steps_is_step_over_steps_and_the_last_step_runs_at_one(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model, steps=8), log=quiet)
    seen = []
    for step in range(9):
        trainer.step = step
        seen.append(trainer.progress())
    assert seen == [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0, 1.0]


def test_next_progress_by_steps_is_none_once_all_steps_are_done(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model, steps=4), log=quiet)
    seen = []
    for step in range(6):
        trainer.step = step
        seen.append(trainer.next_progress())
    assert seen == [0.0, 0.25, 0.5, 1.0, None, None]


@pytest.mark.parametrize("decided", [0.25, 0.0, 1.0, None])
def test_under_a_time_budget_rank_0_decides_the_next_progress(tmp_path, decided):
    """Progress 0 is a step to run; only the budget's None (spent) ends the run."""
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model, time_budget=10.0), log=quiet)
    assert trainer.budget is not None
    trainer.budget.next_progress = lambda: decided  # type: ignore[method-assign]
    assert trainer.next_progress() == decided


def test_depth_of_a_step_follows_the_plan_at_step_over_steps(tmp_path):
    model = tiny_model(H_cycles=2, L_cycles=2)
    config = tiny_train_config(
        tmp_path, model, curriculum="pdc", pdc_boundaries=(0.3, 0.6), pdc_depths=((1, 1), (1, 2), (2, 2)), steps=10
    )
    trainer = Trainer(model, config, log=quiet)
    assert [trainer.depth(step) for step in (0, 2, 3, 5, 6, 9)] == [(1, 1), (1, 1), (1, 2), (1, 2), (2, 2), (2, 2)]


# -- 3. a second process: rank 1 of 2 --------------------------------------------------------------


GATHERS: list[tuple[int, int]] = []


def gathered(obj, rank: int, world: int) -> list | None:
    """Stands in for gather_to_rank0 across processes: records who asked, returns what rank 0 would get."""
    GATHERS.append((rank, world))
    return [obj] * world if rank == 0 else None


def rank_one(tmp_path: Path, monkeypatch, lines: list[str], **overrides) -> Trainer:
    """A trainer that believes it is rank 1 of 2: DDP, gathering and broadcasting are stood in for."""
    monkeypatch.setattr(distributed, "setup", lambda: (1, 2))
    monkeypatch.setattr(trainer_module, "DistributedDataParallel", FakeDDP)
    monkeypatch.setattr(distributed, "gather_to_rank0", gathered)
    model = tiny_model()
    values: dict = dict(dev=DEV_FILE, dev_limit=4, seed=3, easier_share=1.0)
    values.update(overrides)
    return Trainer(model, tiny_train_config(tmp_path, model, **values), log=lines.append)


def test_rank_1_trains_its_share_of_the_batch_with_its_own_seeds(tmp_path, monkeypatch):
    lines: list[str] = []
    trainer = rank_one(tmp_path, monkeypatch, lines)
    after_init = torch.get_rng_state()
    assert (trainer.rank, trainer.world, trainer.local_batch) == (1, 2, 2)
    assert isinstance(trainer.forward, FakeDDP) and trainer.forward.module is trainer.model
    assert trainer.slots.inputs.shape == (2, 81) and trainer.slots.carry.y.shape[0] == 2
    # The global RNG (halting exploration) is seeded seed + rank, the data stream seed + 1000 * rank.
    torch.manual_seed(3 + 1)
    assert torch.equal(after_init, torch.get_rng_state())
    expected = TrainingStream(trainer.train_set, 2, CPU, seed=3 + 1000, easier_share=1.0).next_batch()
    got = trainer.stream.next_batch()
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert lines == []


def test_rank_1_writes_no_metrics_checkpoint_evaluation_or_export(tmp_path, monkeypatch):
    lines: list[str] = []
    trainer = rank_one(tmp_path, monkeypatch, lines)
    record = trainer.log_step(step_values(), 10.0)
    assert record["step"] == 0 and record["loss"] == 1.5
    assert trainer.evaluate_dev() is None
    GATHERS.clear()
    trainer.save()  # hands its state over to rank 0, as every rank must
    assert GATHERS == [(1, 2)]
    trainer.export(tmp_path / "export")
    assert not run_dir(trainer).exists() and not (tmp_path / "export").exists()
    assert lines == []


def test_rank_1_takes_the_next_progress_from_rank_0_without_consulting_its_budget(tmp_path, monkeypatch):
    lines: list[str] = []
    trainer = rank_one(tmp_path, monkeypatch, lines, time_budget=10.0)
    calls: list[tuple] = []

    def broadcast(value: float, rank: int, world: int, device: torch.device) -> float:
        calls.append((rank, world, device))
        return rank_zero

    def own_budget() -> float:
        raise AssertionError("rank 1 consulted its own budget")

    monkeypatch.setattr(distributed, "broadcast_float", broadcast)
    assert trainer.budget is not None
    trainer.budget.next_progress = own_budget  # type: ignore[method-assign]
    rank_zero = 0.625
    assert trainer.next_progress() == 0.625
    rank_zero = -1.0  # rank 0's budget is spent
    assert trainer.next_progress() is None
    assert calls == [(1, 2, CPU)] * 2


# -- 4. one optimiser step -------------------------------------------------------------------------


def test_each_group_steps_at_its_base_rate_times_warm_up_times_cosine(tmp_path):
    model = tiny_model()
    config = tiny_train_config(
        tmp_path,
        model,
        optimizer="muon",
        lr=1e-3,
        muon_lr=0.02,
        lr_schedule="cosine",
        lr_floor=0.25,
        warmup_steps=2,
        steps=4,
    )
    trainer = Trainer(model, config, log=quiet)
    used = learning_rates_per_step(trainer)
    metrics = RunningMetrics(trainer.device)
    for _ in range(4):
        trainer.train_step(metrics)
    factors = [lr_factor("cosine", p, s, 2, 0.25) for s, p in enumerate((0.0, 0.25, 0.5, 1.0))]
    assert factors[0] == pytest.approx(0.5) and factors[-1] == pytest.approx(0.25)
    assert used == [pytest.approx([1e-3 * f, 0.02 * f]) for f in factors]
    assert trainer.step_settings == (1.0, (1, 1), pytest.approx(0.25))


class ForwardSpy:
    """Wraps `trainer.forward`, keeping what it returned."""

    def __init__(self, trainer: Trainer):
        self.inner = trainer.forward
        self.logits: list[torch.Tensor] = []
        self.halt_logits: list[torch.Tensor] = []
        trainer.forward = self  # type: ignore[assignment]

    def __call__(self, carry, inputs, h_cycles, l_cycles):
        carry, logits, halt_logit = self.inner(carry, inputs, h_cycles, l_cycles)
        self.logits.append(logits.detach().clone())
        self.halt_logits.append(halt_logit.detach().clone())
        return carry, logits, halt_logit


def test_the_loss_uses_the_configured_halt_weight_loss_and_label_smoothing(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, halt_loss_weight=0.3, loss="softmax", label_smoothing=0.2)
    trainer = Trainer(model, config, log=quiet)
    spy = ForwardSpy(trainer)
    metrics = RunningMetrics(trainer.device)
    trainer.train_step(metrics)
    logits, halt = spy.logits[-1], spy.halt_logits[-1]
    labels, weights = trainer.slots.labels, torch.ones(4)
    logged = metrics.flush()["loss"]
    expected = supervision_loss(logits, halt, labels, weights, 0.3, "softmax", 0.2).total.item()
    assert logged == pytest.approx(expected, rel=1e-5)
    # The check could fail: the defaults (halt weight 0.5, stablemax, no smoothing) give other losses.
    for other in (
        supervision_loss(logits, halt, labels, weights, 0.5, "softmax", 0.2),
        supervision_loss(logits, halt, labels, weights, 0.3, "stablemax", 0.2),
        supervision_loss(logits, halt, labels, weights, 0.3, "softmax", 0.0),
    ):
        assert other.total.item() != pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("bf16", "cpu_bf16", "dtype"),
    [(True, False, torch.float32), (True, True, torch.bfloat16), (False, True, torch.float32)],
)
def test_cpu_steps_run_in_full_precision_unless_the_cpu_bf16_setting_is_on_with_bf16(tmp_path, bf16, cpu_bf16, dtype):
    model = tiny_model()
    assert Trainer(model, tiny_train_config(tmp_path, model, bf16=bf16), log=quiet).cpu_bf16 is False  # opt-in
    config = tiny_train_config(tmp_path, model, name="cpu-bf16", bf16=bf16, cpu_bf16=cpu_bf16)
    trainer = Trainer(model, config, log=quiet)
    spy = ForwardSpy(trainer)
    trainer.train_step(RunningMetrics(trainer.device))
    assert spy.logits[-1].dtype == dtype


def add_unused_parameter(trainer: Trainer) -> None:
    """A trainable parameter the loss never reaches, as a detach would leave one."""
    trainer.model.register_parameter("unused", torch.nn.Parameter(torch.zeros(3)))
    trainer.model.register_parameter("frozen", torch.nn.Parameter(torch.zeros(3), requires_grad=False))


def test_a_parameter_the_loss_misses_stops_the_first_step_before_any_update(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    add_unused_parameter(trainer)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    message = (
        "step 1 at depth (1, 1): no gradient reached 1 trainable parameter(s), which would silently stop "
        "training: unused"
    )
    with pytest.raises(UserError) as caught:
        trainer.train_step(RunningMetrics(trainer.device))
    assert str(caught.value) == message
    assert trainer.step == 0
    for name, p in trainer.model.named_parameters():
        assert torch.equal(p, before[name]), name


def test_gradients_are_checked_at_the_first_step_and_the_first_at_depth_h_2_only(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    assert trainer.gradient_checks == {"the first step", "the first step at depth H >= 2"}
    trainer.train_step(RunningMetrics(trainer.device))  # the first step, at H = 1: every parameter has a gradient
    assert trainer.gradient_checks == {"the first step at depth H >= 2"}
    add_unused_parameter(trainer)
    trainer.check_gradients(1, 1)  # H = 1 again: nothing left to check
    trainer.step = 6
    trainer.model.lm_head.weight.grad = None  # a second one cut off
    with pytest.raises(UserError) as caught:
        trainer.check_gradients(2, 3)
    assert str(caught.value) == (
        "step 7 at depth (2, 3): no gradient reached 2 trainable parameter(s), which would silently stop "
        "training: unused, lm_head.weight"
    )
    assert trainer.gradient_checks == set()
    trainer.check_gradients(2, 3)  # made once


def test_a_gradient_lost_at_the_first_step_at_depth_h_2_is_caught_though_it_had_one_before(tmp_path):
    """The gradients are freed (not zeroed) before each backward, so a parameter cut off from the loss
    at the first deeper step shows no gradient there, even after the first step gave it one."""
    model = tiny_model(H_cycles=2)
    config = tiny_train_config(
        tmp_path, model, curriculum="pdc", pdc_boundaries=(0.25,), pdc_depths=((1, 1), (2, 1)), steps=4
    )
    trainer = Trainer(model, config, log=quiet)
    metrics = RunningMetrics(trainer.device)
    trainer.train_step(metrics)  # at depth (1, 1): every parameter has a gradient
    assert trainer.model.lm_head.weight.grad is not None
    forward = trainer.forward

    def answer_cut_off(carry, inputs, h_cycles, l_cycles):
        carry, logits, halt_logit = forward(carry, inputs, h_cycles, l_cycles)
        return carry, logits.detach(), halt_logit

    trainer.forward = answer_cut_off  # type: ignore[assignment]
    with pytest.raises(UserError) as caught:
        trainer.train_step(metrics)
    assert str(caught.value) == (
        "step 2 at depth (2, 1): no gradient reached 1 trainable parameter(s), which would silently stop "
        "training: lm_head.weight"
    )


def test_the_first_step_at_depth_h_2_checks_even_when_it_is_the_first_step(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    add_unused_parameter(trainer)
    with pytest.raises(UserError, match="step 1 at depth"):
        trainer.check_gradients(2, 1)
    assert trainer.gradient_checks == set()


# -- 5. the loop -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory):
    """Five steps with a log line every 2, a dev evaluation every 2 and a checkpoint every 3."""
    tmp_path = tmp_path_factory.mktemp("scheduled")
    model = tiny_model()
    config = tiny_train_config(
        tmp_path, model, steps=5, log_every=2, eval_every=2, checkpoint_every=3, dev=DEV_FILE, dev_limit=4
    )
    calls: list[tuple] = []
    trainer = Trainer(model, config, log=quiet, on_step=lambda *args: calls.append(args))
    saves: list[int] = []
    save = trainer.save

    def counted_save():
        saves.append(trainer.step)
        save()

    trainer.save = counted_save  # type: ignore[method-assign]
    summary = trainer.run()
    return trainer, summary, calls, saves


def test_run_calls_on_step_every_step_with_its_progress_and_the_logged_record(scheduled_run):
    trainer, summary, calls, _ = scheduled_run
    assert [(step, progress) for step, progress, _ in calls] == [(1, 0.0), (2, 0.2), (3, 0.4), (4, 0.6), (5, 1.0)]
    assert [record is not None for _, _, record in calls] == [False, True, False, True, True]
    assert [record["step"] for _, _, record in calls if record is not None] == [2, 4, 5]


def test_run_logs_evaluates_and_checkpoints_on_schedule_and_evaluates_after_the_last_step(scheduled_run):
    trainer, summary, calls, saves = scheduled_run
    records = metrics_records(trainer)
    assert [(r["step"], "eval" in r) for r in records] == [
        (2, False),
        (2, True),
        (4, False),
        (4, True),
        (5, False),
        (5, True),
    ]
    assert saves == [3, 5]
    assert load_checkpoint(run_dir(trainer) / CHECKPOINT_NAME)["step"] == 5
    # The summary is the last logged record with the final evaluation under "eval".
    assert summary["eval"] == records[-1]["eval"]
    assert {k: v for k, v in summary.items() if k != "eval"} == records[-2]
    assert records[-2]["progress"] == 1.0 and records[0]["progress"] == 0.2


def test_run_sums_its_metrics_on_the_runs_device(tmp_path, monkeypatch):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    devices: list = []

    def running_metrics(device):
        devices.append(device)
        return RunningMetrics(device)

    monkeypatch.setattr(trainer_module, "RunningMetrics", running_metrics)
    trainer.run(until=1)
    assert devices == [trainer.device]


def test_run_until_a_step_stops_there_saves_and_does_not_evaluate(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, steps=6, dev=DEV_FILE, dev_limit=4)
    trainer = Trainer(model, config, log=quiet)
    assert trainer.run(until=0) == {}
    assert trainer.step == 0 and load_checkpoint(run_dir(trainer) / CHECKPOINT_NAME)["step"] == 0
    summary = trainer.run(until=2)
    assert trainer.step == 2 and summary["step"] == 2 and "eval" not in summary
    assert load_checkpoint(run_dir(trainer) / CHECKPOINT_NAME)["step"] == 2
    assert [r["step"] for r in metrics_records(trainer)] == [2]  # the stop is logged, no evaluation


def test_resuming_a_finished_run_trains_nothing_and_evaluates_again(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, steps=2, dev=DEV_FILE, dev_limit=4)
    Trainer(model, config, log=quiet).run()
    resumed = Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    before = {name: p.detach().clone() for name, p in resumed.model.named_parameters()}
    summary = resumed.run()
    assert resumed.step == 2 and set(summary) == {"eval"}
    assert summary["eval"] == metrics_records(resumed)[-1]["eval"]
    for name, p in resumed.model.named_parameters():
        assert torch.equal(p, before[name]), name


def test_under_a_time_budget_each_step_runs_at_the_progress_run_decided_and_is_timed(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, time_budget=10.0)
    seen: list[tuple] = []
    trainer = Trainer(
        model,
        config,
        log=quiet,
        started=time.perf_counter() - 100.0,
        on_step=lambda step, progress, record: seen.append((step, progress, trainer.step_settings[0])),
    )
    assert trainer.budget is not None
    decisions = iter([0.3, 0.6])
    trainer.budget.next_progress = lambda: next(decisions)  # type: ignore[method-assign]
    trainer.run(until=2)
    assert seen == [(1, 0.3, 0.3), (2, 0.6, 0.6)]
    assert 0.0 < trainer.budget.step_seconds < 50.0  # the step alone, not the run's 100 s
    assert trainer.decided is None  # after the step, progress reads the clock again


def test_ctrl_c_saves_and_says_where_and_how_to_continue(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)

    def interrupted(*args):
        raise KeyboardInterrupt

    trainer.forward = interrupted  # type: ignore[assignment]
    path = run_dir(trainer) / CHECKPOINT_NAME
    with pytest.raises(Interrupted) as caught:
        trainer.run()
    assert str(caught.value) == f"interrupted at step 0; checkpoint saved to {path}, continue with --resume"
    assert load_checkpoint(path)["step"] == 0


def test_a_kill_saves_as_ctrl_c_does_and_the_handler_is_put_back(tmp_path):
    """SIGTERM at step 3 (a background job ignores SIGINT: `kill` is how one is stopped) ends the run
    with the three steps saved; after the run, SIGTERM's handler is the one from before."""
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    train_step = trainer.train_step

    def step_then_killed(metrics):
        train_step(metrics)
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    def unhandled(signum, frame):  # what a trainer that ignored SIGTERM would meet, instead of the test's death
        raise RuntimeError("SIGTERM reached the handler from before the run")

    trainer.train_step = step_then_killed  # type: ignore[method-assign]
    path = run_dir(trainer) / CHECKPOINT_NAME
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        with pytest.raises(Interrupted, match="interrupted at step 3"):
            trainer.run()
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert load_checkpoint(path)["step"] == 3


def test_time_final_work_keeps_a_reserve_from_the_timed_evaluation_and_save(tmp_path):
    """The first evaluation gets 5% of the budget; the reserve is 1.25 x its time (it covered the whole
    dev set) + 2 x 2 x the checkpoint's + 1 s of grace, as timed on the run's clock; the log line says so."""
    model = tiny_model()
    lines: list[str] = []
    trainer = Trainer(model, tiny_train_config(tmp_path, model, time_budget=10.0), log=lines.append)
    assert trainer.budget is not None

    class FakeClock:
        now = 5.0

        def elapsed(self) -> float:
            return self.now

    clock = FakeClock()
    trainer.clock = trainer.budget.clock = clock  # type: ignore[assignment]
    given: list[float | None] = []

    def evaluate_dev(seconds: float | None = None) -> None:
        given.append(seconds)
        clock.now += 3.0

    def save() -> None:
        clock.now += 7.0

    trainer.evaluate_dev, trainer.save = evaluate_dev, save  # type: ignore[method-assign]
    trainer.time_final_work()
    assert given == [30.0]
    assert trainer.budget.reserve == 1.25 * 3.0 + 2.0 * 2.0 * 7.0 + 1.0
    assert lines == [
        "time budget 10 min: 15.0 s spent on setup, the first evaluation and checkpoint; 552 s for training; "
        "32.8 s kept for the final evaluation, checkpoint and export"
    ]
    # Resumed after 100 s of the run: those are not setup.
    lines.clear()
    trainer.trained_before, clock.now, given[:] = 100.0, 105.0, []
    trainer.time_final_work()
    assert lines[0].startswith(
        "time budget 10 min: 100 s spent before this resume, 15.0 s spent on setup, the first evaluation and "
        "checkpoint; 452 s for training;"
    )


# -- 6. metrics.jsonl, the log, checkpoints and export ---------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam_atan2", "muon"])
def test_a_log_step_record_holds_the_last_steps_settings_and_the_figures(tmp_path, optimizer):
    model = tiny_model()
    lines: list[str] = []
    config = tiny_train_config(tmp_path, model, optimizer=optimizer, lr=2e-3, muon_lr=0.04, steps=9)
    trainer = Trainer(model, config, log=lines.append)
    trainer.step, trainer.step_settings = 7, (0.5, (2, 1), 0.25)
    record = trainer.log_step(step_values(), 123.0)
    expected = {
        "step": 7,
        "progress": 0.5,
        "elapsed_s": pytest.approx(trainer.clock.elapsed(), abs=30.0),
        "depth": [2, 1],
        "lr": pytest.approx(5e-4),
        **({"muon_lr": pytest.approx(0.01)} if optimizer == "muon" else {}),
        "samples_per_s": 123.0,
        **step_values(),
    }
    assert record == expected  # muon_lr only with Muon
    assert metrics_records(trainer) == [record]
    assert lines == [step_line(record, 9)]


def test_under_a_time_budget_the_log_line_shows_progress_not_a_step_count(tmp_path):
    model = tiny_model()
    lines: list[str] = []
    trainer = Trainer(model, tiny_train_config(tmp_path, model, time_budget=10.0, steps=9), log=lines.append)
    trainer.step, trainer.step_settings = 7, (0.5, (1, 1), 1.0)
    record = trainer.log_step(step_values(), 50.0)
    assert lines == [step_line(record, None)] and "step 7 (50%)" in lines[0]


def test_dev_evaluation_scores_the_ema_in_eval_batches_and_records_and_logs_it(tmp_path, monkeypatch):
    model = tiny_model()
    lines: list[str] = []
    config = tiny_train_config(tmp_path, model, dev=DEV_FILE, dev_limit=6, eval_batch_size=4)
    trainer = Trainer(model, config, log=lines.append)
    trainer.step = 3
    calls: list[tuple] = []

    def spy(model, puzzles, batch_size):
        calls.append((model, puzzles, batch_size))
        return evaluate(model, puzzles, batch_size=batch_size)

    monkeypatch.setattr(trainer_module, "evaluate", spy)
    result = trainer.evaluate_dev()
    assert calls == [(trainer.ema, trainer.dev_set, 4)]
    assert result is not None
    again = evaluate(trainer.ema, trainer.dev_set, batch_size=6).to_dict()
    timing = {"puzzles_per_second"}
    assert {k: v for k, v in result.items() if k not in timing} == {k: v for k, v in again.items() if k not in timing}
    assert metrics_records(trainer) == [{"step": 3, "eval": result}]
    assert lines == [eval_line(3, result)]
    assert Trainer(model, tiny_train_config(tmp_path / "no-dev", model), log=quiet).evaluate_dev() is None


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("checkpointed")
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, optimizer="muon", steps=6, lr=1e-3, muon_lr=0.02)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=2)
    return model, config, trainer, load_checkpoint(run_dir(trainer) / CHECKPOINT_NAME)


def test_a_checkpoint_holds_weights_ema_optimiser_step_time_configs_and_each_ranks_state(checkpointed):
    model, config, trainer, checkpoint = checkpointed
    assert set(checkpoint) == {
        "model",
        "ema",
        "optimizer",
        "step",
        "elapsed_seconds",
        "model_config",
        "train_config",
        "ranks",
    }
    for key, module in (("model", trainer.model), ("ema", trainer.ema)):
        for name, value in module.state_dict().items():
            assert torch.equal(checkpoint[key][name], value), (key, name)
    saved_groups = [g for part in checkpoint["optimizer"].values() for g in part["param_groups"]]
    assert saved_groups == [g for part in trainer.optimizer.state_dict().values() for g in part["param_groups"]]
    assert checkpoint["step"] == 2
    assert 0.0 < checkpoint["elapsed_seconds"] <= trainer.clock.elapsed()
    assert checkpoint["model_config"] == model.to_dict() and checkpoint["train_config"] == config.to_dict()
    (rank,) = checkpoint["ranks"]
    assert set(rank) == {"stream", "slots", "torch_rng", "device"} and rank["device"] == "cpu"
    for name, value in trainer.slots.state_dict().items():
        assert torch.equal(rank["slots"][name], value), name


def test_the_rank_state_of_a_cuda_run_carries_its_cuda_rng(tmp_path, monkeypatch):
    model = tiny_model()
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=quiet)
    assert "cuda_rng" not in trainer._rank_state()
    asked: list[torch.device] = []
    cuda_state = torch.arange(16, dtype=torch.uint8)

    def get_rng_state(device):
        asked.append(device)
        return cuda_state

    monkeypatch.setattr(torch.cuda, "get_rng_state", get_rng_state)
    trainer.device = FAKE_CUDA
    state = trainer._rank_state()
    assert state["device"] == "cuda" and state["cuda_rng"] is cuda_state and asked == [FAKE_CUDA]
    assert torch.equal(state["torch_rng"], torch.get_rng_state())


def test_the_export_is_the_ema_with_the_steps_and_settings_in_its_card(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model, steps=3)
    trainer = Trainer(model, config, log=quiet)
    trainer.run()
    directory = tmp_path / "export"
    trainer.export(directory)
    card = (directory / "README.md").read_text()
    training = json.loads(card.split("```json\n", 1)[1].split("```", 1)[0])
    assert training == {**json.loads(json.dumps(config.to_dict(), default=str)), "steps_trained": 3}
    trainer.step = 2  # as a run stopped early (a time budget, Ctrl-C) stands: the card says what it trained
    trainer.export(tmp_path / "early")
    early = (tmp_path / "early" / "README.md").read_text()
    assert '"steps": 3,' in early and early.rstrip().endswith('"steps_trained": 2\n}\n```')
    from sudoku_trm.model.weights import load_weights

    loaded = load_weights(directory)
    for name, value in trainer.ema.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


# -- 7. resume -------------------------------------------------------------------------------------


def test_resume_restores_the_optimiser_but_keeps_this_runs_base_rates(checkpointed, monkeypatch):
    """A resumed run may change --lr or --muon-lr: the schedule then scales the new rates."""
    model, config, first, checkpoint = checkpointed
    added: list[float] = []
    add = Clock.add
    monkeypatch.setattr(Clock, "add", lambda self, seconds: (added.append(seconds), add(self, seconds))[1])
    lines: list[str] = []
    resumed = Trainer(model, dataclasses.replace(config, resume=True, lr=3e-3, muon_lr=0.05), log=lines.append)
    assert resumed.step == 2
    assert [group["base_lr"] for group in resumed.optimizer.param_groups] == [3e-3, 0.05]
    saved_groups = [g for part in checkpoint["optimizer"].values() for g in part["param_groups"]]
    assert [group["lr"] for group in resumed.optimizer.param_groups] == [group["lr"] for group in saved_groups]
    for name, value in first.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    for name, value in first.ema.state_dict().items():
        assert torch.equal(resumed.ema.state_dict()[name], value), name
    assert added == [checkpoint["elapsed_seconds"]]
    assert lines == ["resumed from step 2"]


def test_a_checkpoint_from_before_the_clock_was_saved_resumes_at_zero_seconds(tmp_path, monkeypatch):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=1)
    path = run_dir(trainer) / CHECKPOINT_NAME
    state = load_checkpoint(path)
    del state["elapsed_seconds"]
    save_checkpoint(path, state)
    added: list[float] = []
    monkeypatch.setattr(Clock, "add", lambda self, seconds: added.append(seconds))
    Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    assert added == [0.0]


def test_a_checkpoint_whose_model_config_does_not_read_is_refused(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=1)
    path = run_dir(trainer) / CHECKPOINT_NAME
    state = load_checkpoint(path)
    state["model_config"]["no_such_field"] = 1
    save_checkpoint(path, state)
    with pytest.raises(UserError) as caught:
        Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    assert str(caught.value) == f"{path}: the checkpoint's model config differs from this run's"


def test_resuming_on_another_number_of_processes_restarts_the_data_order_and_says_so(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=2)
    path = run_dir(trainer) / CHECKPOINT_NAME
    state = load_checkpoint(path)
    state["ranks"] = state["ranks"] * 2
    save_checkpoint(path, state)
    lines: list[str] = []
    resumed = Trainer(model, dataclasses.replace(config, resume=True), log=lines.append)
    assert lines == [
        "resuming on 1 processes from a checkpoint of 2: data order restarts",
        "resumed from step 2",
    ]
    assert resumed.step == 2
    assert resumed.slots.halted.all() and (resumed.slots.steps == 0).all()  # fresh slots, not the saved ones


def test_resuming_under_another_mix_starts_that_mix_fresh_and_says_so(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=2)
    lines: list[str] = []
    resumed = Trainer(model, dataclasses.replace(config, resume=True, mix="frontier"), log=lines.append)
    assert lines == [
        "resuming with mix frontier from a checkpoint of mix fixed: data order restarts",
        "resumed from step 2",
    ]
    assert resumed.step == 2
    assert isinstance(resumed.stream, FrontierStream)
    assert resumed.slots.halted.all() and resumed.slots.buckets is None  # fresh slots: every row refills
    resumed.run(until=3)  # the frontier's first batch fills every slot and reports from then on
    assert resumed.step == 3 and resumed.slots.buckets is not None


def test_resuming_on_other_data_restarts_the_data_order_and_says_so(tmp_path):
    model = tiny_model()
    config = tiny_train_config(tmp_path, model)
    trainer = Trainer(model, config, log=quiet)
    trainer.run(until=2)
    more = [*config.data, "generated:singles:50:3"]
    lines: list[str] = []
    resumed = Trainer(model, dataclasses.replace(config, resume=True, data=more), log=lines.append)
    assert f"resuming on other data than the checkpoint's ({', '.join(config.data)}): data order restarts" in lines
    assert resumed.step == 2 and len(resumed.train_set) == len(trainer.train_set) + 50
    assert resumed.slots.halted.all()  # fresh slots: every row refills from the new set
    resumed.run(until=3)
    assert resumed.step == 3


def test_a_cpu_rng_state_that_does_not_fit_is_reseeded_from_and_named_in_one_line(tmp_path):
    model = tiny_model()
    lines: list[str] = []
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=lines.append)
    state = trainer._rank_state()
    state["torch_rng"] = torch.arange(16, dtype=torch.uint8)  # a CUDA-sized state
    state["device"] = "cuda"
    trainer._load_rank_state(state)
    assert lines == [reseeded_line(["the CPU RNG"], "cuda", CPU)]
    reseeded = torch.get_rng_state()
    torch.manual_seed(seed_from(state["torch_rng"]))
    assert torch.equal(reseeded, torch.get_rng_state())


class FakeCudaGenerator:
    """A CUDA generator's stand-in: takes only a 16-byte state, as a real one does."""

    device = FAKE_CUDA

    def __init__(self):
        self.loaded: torch.Tensor | None = None
        self.seed: int | None = None

    def set_state(self, state: torch.Tensor) -> None:
        if not isinstance(state, torch.Tensor) or state.numel() != 16:
            raise RuntimeError("not a CUDA generator state")
        self.loaded = state

    def manual_seed(self, seed: int) -> FakeCudaGenerator:
        self.seed = seed
        return self


@pytest.fixture
def fake_cuda(tmp_path, monkeypatch):
    """A CPU trainer that believes it runs on cuda:0, with a stand-in CUDA generator and slot loading."""
    model = tiny_model()
    lines: list[str] = []
    trainer = Trainer(model, tiny_train_config(tmp_path, model), log=lines.append)
    state = trainer._rank_state()
    generator = FakeCudaGenerator()
    asked: list[torch.device] = []

    def cuda_generator(device):
        asked.append(device)
        return generator

    slots_devices: list[torch.device] = []
    from_state = Slots.from_state

    def slots_from_state(saved, device):
        slots_devices.append(device)
        return from_state(saved, CPU)

    monkeypatch.setattr(trainer_module, "cuda_generator", cuda_generator)
    monkeypatch.setattr(Slots, "from_state", staticmethod(slots_from_state))
    trainer.device = FAKE_CUDA
    return trainer, state, generator, asked, lines, slots_devices


CUDA_STATE = torch.arange(16, dtype=torch.uint8)


def test_on_cuda_a_cuda_checkpoint_restores_the_cuda_rng_exactly(fake_cuda):
    trainer, state, generator, asked, lines, slots_devices = fake_cuda
    state = {**state, "cuda_rng": CUDA_STATE, "device": "cuda"}
    trainer._load_rank_state(state)
    assert asked == [FAKE_CUDA] and generator.loaded is CUDA_STATE and generator.seed is None
    assert lines == []
    assert slots_devices == [FAKE_CUDA]  # the slots go to the run's device


def test_on_cuda_a_cpu_checkpoint_seeds_the_cuda_rng_from_the_cpu_state(fake_cuda):
    trainer, state, generator, asked, lines, _ = fake_cuda
    assert "cuda_rng" not in state and state["device"] == "cpu"
    trainer._load_rank_state(state)
    assert generator.loaded is None and generator.seed == seed_from(state["torch_rng"])
    assert lines == [reseeded_line(["the CUDA RNG"], "cpu", FAKE_CUDA)]


@pytest.mark.parametrize(
    ("cuda_rng", "saved_on"),
    [(torch.zeros(5056, dtype=torch.uint8), "cuda"), (None, "another device")],
)
def test_a_checkpoint_without_a_device_type_names_where_it_was_saved_by_its_states(fake_cuda, cuda_rng, saved_on):
    """Checkpoints from before the device type was saved: a CUDA state says "cuda", none says nothing."""
    trainer, state, generator, _, lines, _ = fake_cuda
    del state["device"]
    if cuda_rng is not None:
        state["cuda_rng"] = cuda_rng
    trainer._load_rank_state(state)
    seeded_from = state["torch_rng"] if cuda_rng is None else cuda_rng
    assert generator.seed == seed_from(seeded_from)
    assert lines == [reseeded_line(["the CUDA RNG"], saved_on, FAKE_CUDA)]
