"""The trainer end to end: it learns, follows the depth curriculum, resumes bit-for-bit, exports what it
evaluates, runs data-parallel, and is reachable from the CLI; plus its optimiser and loss in isolation.

Everything runs on the CPU with tiny seeded models (hidden 32-64, one block, shallow recursion) on the
committed fixture sample, never on ../shared. The compute of a step is dominated by the token mixer
(97 positions x an inner width of 512 whatever the hidden size), so depth and batch are what keep these
tests fast, not the hidden size.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import TRAIN_FILES, tiny_train_config
from trainer_spies import depths_per_step
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.errors import UserError
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.readout import log_stablemax
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import CONFIG_NAME, WEIGHTS_NAME, export_weights, load_weights
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.training.losses import stablemax_cross_entropy, supervision_loss
from sudoku_trm.training.optim import AdamAtan2, build_optimizer
from sudoku_trm.training.recipes import configs
from sudoku_trm.training.trainer import RunningMetrics, Trainer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "shared_sample"
DEV_FILE = str(SAMPLE / "hard_dev.csv")  # never trained on: the held-out set


def quiet(_line: str) -> None:
    pass


def tiny_model(**overrides) -> ModelConfig:
    """One block, hidden 32, shallow recursion (H=1, L=2) and at most 2 supervision steps."""
    values = dict(hidden_size=32, num_layers=1, H_cycles=1, L_cycles=2, halt_max_steps=2)
    values.update(overrides)
    return ModelConfig(**values)


def tiny_train(tmp_path: Path, model: ModelConfig, **overrides) -> TrainConfig:
    """A CPU run on the fixture sample; the schedule defaults to one stage at the model's full depth."""
    return tiny_train_config(tmp_path, model, **{"batch_size": 8, "log_every": 5, **overrides})


def dev_tokens(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    dev = load_puzzle_set(DEV_FILE)
    return (
        to_tokens(torch.from_numpy(dev.questions[:count]).long()),
        to_tokens(torch.from_numpy(dev.answers[:count]).long()),
    )


def assert_same_tensors(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: {key} differs"


# -- 1. learning -----------------------------------------------------------------------------------


def test_a_tiny_model_learns_on_held_out_puzzles(tmp_path):
    """~200 steps of 16 (about 10 s here) lift held-out accuracy on blank cells from chance (1 in 9,
    what an untrained model scores) to ~0.30: the model must rule out digits already present in a
    cell's row, column or box. The fixture's hard_dev puzzles are never trained on.

    ema_decay is 0.9 (a ~10-step memory) rather than the recipe's 0.999, whose warm-up ramp
    (1 + t) / (10 + t) would still average over ~100 steps here. The raw weights are checked as well.

    Seeded (seed 0). Seeds 1 and 3 learn alike; seed 2 used to hit a NaN stable-max gradient
    at a logit of exactly 1.0, now fixed: see test_loss_gradient_is_finite_at_a_logit_of_exactly_one.
    """
    model = tiny_model(hidden_size=32)
    config = tiny_train(tmp_path, model, steps=200, batch_size=16, lr=3e-3, warmup_steps=10, log_every=50)
    trainer = Trainer(model, config, log=quiet)
    held_out = load_puzzle_set(DEV_FILE)
    trained_on = {row.tobytes() for row in trainer.train_set.questions}
    assert not any(row.tobytes() in trained_on for row in held_out.questions)

    start = evaluate(trainer.ema, held_out).cell_accuracy
    trainer.run()
    ema_end = evaluate(trainer.ema, held_out).cell_accuracy
    raw_end = evaluate(trainer.model, held_out).cell_accuracy

    # Blank cells only: a random guess scores 1/9 ~ 0.11; this run reaches ~0.30.
    assert start < 0.15
    assert ema_end > 0.22 and raw_end > 0.22, (start, ema_end, raw_end)
    assert ema_end > start + 0.15


# -- 2. the depth curriculum in a real run ---------------------------------------------------------

PDC_DEPTHS = ((1, 2), (2, 4), (3, 6))


def stage(progress: float) -> tuple[int, int]:
    return PDC_DEPTHS[0] if progress < 0.3 else PDC_DEPTHS[1] if progress < 0.6 else PDC_DEPTHS[2]


@pytest.mark.parametrize("curriculum", ["cgar", "pdc", "none", "hsw"])
def test_depth_follows_the_schedule_in_a_real_run(tmp_path, curriculum):
    """The depth the model is actually called with (spied) and the depth in metrics.jsonl follow
    (1,2) -> (2,4) -> (3,6) at progress 0.3 and 0.6 with PDC, and stay (3,6) without it."""
    model = tiny_model(H_cycles=3, L_cycles=6)
    config = tiny_train(
        tmp_path,
        model,
        curriculum=curriculum,
        pdc_boundaries=(0.3, 0.6),
        pdc_depths=PDC_DEPTHS,
        steps=10,
        batch_size=2,
        log_every=1,
    )
    trainer = Trainer(model, config, log=quiet)
    used = depths_per_step(trainer)
    trainer.run()

    pdc = curriculum in ("cgar", "pdc")
    expected = [stage(step / 10) if pdc else (3, 6) for step in range(10)]
    assert used == expected
    if pdc:
        assert used[0] == (1, 2) and used[-1] == (3, 6) and expected.count((1, 2)) == 3
    records = [json.loads(line) for line in (tmp_path / "runs" / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "eval" not in r]
    assert [r["step"] for r in steps] == list(range(1, 11))
    assert [tuple(r["depth"]) for r in steps] == expected  # record k describes optimiser step k-1


# -- 3. resume -------------------------------------------------------------------------------------


def resume_configs(tmp_path: Path, name: str) -> tuple[ModelConfig, TrainConfig]:
    """Depth changes across the stop (PDC), puzzles halt and refill (max 3 steps, exploration on),
    HSW weights, clipping and warm-up are all active, so every piece of state has to come back."""
    model = tiny_model(H_cycles=2, L_cycles=2, halt_max_steps=3)
    config = tiny_train(
        tmp_path,
        model,
        name=name,
        curriculum="cgar",
        pdc_boundaries=(0.3, 0.6),
        pdc_depths=((1, 1), (1, 2), (2, 2)),
        steps=12,
        batch_size=6,
        warmup_steps=4,
        grad_clip=1.0,
        checkpoint_every=4,
        log_every=3,
    )
    return model, config


def test_resume_continues_bit_for_bit(tmp_path):
    model, straight_config = resume_configs(tmp_path, "straight")
    straight = Trainer(model, straight_config, log=quiet)
    straight.run()

    _, config = resume_configs(tmp_path, "stopped")
    first = Trainer(model, config, log=quiet)
    first.run(until=5)
    assert first.step == 5
    assert (tmp_path / "runs" / "stopped" / CHECKPOINT_NAME).is_file()
    torch.manual_seed(1234)  # whatever happened to the global RNG in between must not matter
    torch.rand(100)
    resumed = Trainer(model, dataclasses.replace(config, resume=True), log=quiet)
    assert resumed.step == 5
    resumed.run()

    assert resumed.step == straight.step == 12
    # The run must have moved, or equality would prove nothing.
    assert not torch.equal(resumed.model.lm_head.weight, TRM(model).lm_head.weight)
    assert_same_tensors(straight.model.state_dict(), resumed.model.state_dict(), "weights")
    assert_same_tensors(straight.ema.state_dict(), resumed.ema.state_dict(), "EMA")
    a, b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for index in a["state"]:
        for key, value in a["state"][index].items():
            other = b["state"][index][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other, (index, key)
    assert_same_tensors(straight.slots.state_dict(), resumed.slots.state_dict(), "slots")


def test_corrupt_or_missing_checkpoint_is_a_user_error_naming_the_file(tmp_path):
    model, config = resume_configs(tmp_path, "broken")
    path = tmp_path / "runs" / "broken" / CHECKPOINT_NAME
    with pytest.raises(UserError, match=re.escape(str(path))):
        Trainer(model, dataclasses.replace(config, resume=True), log=quiet)  # none yet

    Trainer(model, config, log=quiet).run(until=2)
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], b"not a checkpoint at all"):
        path.write_bytes(damaged)
        with pytest.raises(UserError, match=re.escape(str(path))):
            Trainer(model, dataclasses.replace(config, resume=True), log=quiet)


def test_resume_with_another_model_config_is_a_user_error(tmp_path):
    model, config = resume_configs(tmp_path, "other")
    Trainer(model, config, log=quiet).run(until=2)
    with pytest.raises(UserError, match="model config differs"):
        Trainer(dataclasses.replace(model, hidden_size=64), dataclasses.replace(config, resume=True), log=quiet)


# -- 4. export -------------------------------------------------------------------------------------


@pytest.fixture
def trained(tmp_path) -> Trainer:
    model = tiny_model()
    trainer = Trainer(model, tiny_train(tmp_path, model, steps=8, lr=3e-3), log=quiet)
    trainer.run()
    return trainer


def run_steps(model: TRM, inputs: torch.Tensor, steps: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    outputs, carry = [], model.initial_carry(len(inputs))
    with torch.no_grad():
        for _ in range(steps):
            carry, logits, halt = model(carry, inputs)
            outputs.append((logits, halt))
    return outputs


def test_export_reloads_to_the_ema_model(trained, tmp_path):
    trained.export(tmp_path / "weights")
    assert {p.name for p in (tmp_path / "weights").iterdir()} == {WEIGHTS_NAME, CONFIG_NAME, "README.md"}
    loaded = load_weights(tmp_path / "weights")
    assert loaded.config == trained.model_config
    inputs, _ = dev_tokens(16)
    trained.ema.eval()
    for (logits, halt), (ema_logits, ema_halt) in zip(run_steps(loaded, inputs), run_steps(trained.ema, inputs)):
        assert torch.equal(logits, ema_logits)
        assert torch.equal(halt, ema_halt)
    # It is the EMA that ships, not the raw weights (they differ at ema_decay 0.9 after 8 steps).
    raw_logits = run_steps(trained.model, inputs, 1)[0][0]
    assert not torch.equal(run_steps(loaded, inputs, 1)[0][0], raw_logits)


def test_ema_decay_ramps_up_to_the_configured_value(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train(tmp_path, model, ema_decay=0.999), log=quiet)
    assert trainer.ema_decay(0) == pytest.approx(0.1)
    assert trainer.ema_decay(90) == pytest.approx(0.91)
    assert trainer.ema_decay(100_000) == 0.999


def test_ema_is_the_moving_average_of_the_weights(tmp_path):
    model = tiny_model()
    trainer = Trainer(model, tiny_train(tmp_path, model, ema_decay=0.8), log=quiet)
    metrics = RunningMetrics(trainer.device)
    expected = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    for step in range(3):
        trainer.train_step(metrics)
        decay = min(0.8, (1 + step) / (10 + step))  # the warm-up ramp, then the configured decay
        for name, p in trainer.model.named_parameters():
            expected[name] = decay * expected[name] + (1 - decay) * p.detach()
    ema = dict(trainer.ema.named_parameters())
    for name, value in expected.items():
        torch.testing.assert_close(ema[name], value, rtol=1e-5, atol=1e-6)
    assert not torch.equal(ema["lm_head.weight"], trainer.model.lm_head.weight)


def _delete(path: Path) -> None:
    path.unlink()


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\x01garbage" * 10)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _unknown_key(path: Path) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), "bogus": 1}))


def _wrong_width(path: Path) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), "hidden_size": 64}))


@pytest.mark.parametrize(
    "name, damage",
    [
        (WEIGHTS_NAME, _delete),
        (WEIGHTS_NAME, _garbage),
        (WEIGHTS_NAME, _truncate),
        (CONFIG_NAME, _delete),
        (CONFIG_NAME, _garbage),
        (CONFIG_NAME, _unknown_key),
        (CONFIG_NAME, _wrong_width),
    ],
    ids=[
        "weights-missing",
        "weights-garbage",
        "weights-truncated",
        "config-missing",
        "config-garbage",
        "config-unknown-key",
        "config-does-not-fit-weights",
    ],
)
def test_damaged_export_is_a_user_error_naming_the_file(tmp_path, name, damage):
    export_weights(TRM(tiny_model()), tmp_path)
    damage(tmp_path / name)
    # A config that parses but does not fit the weights is reported against the weights file.
    blamed = tmp_path / (WEIGHTS_NAME if damage is _wrong_width else name)
    with pytest.raises(UserError, match=re.escape(str(blamed))):
        load_weights(tmp_path)


# -- 5. the optimiser ------------------------------------------------------------------------------


def reference_adam_atan2(param, grads, lr, betas, weight_decay):
    """The documented rule, written out per tensor in float64 with its own step count t."""
    p = param.double().clone()
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    beta1, beta2 = betas
    for t, g in enumerate(grads, start=1):
        g = g.double()
        p = p * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * torch.atan2(m / (1 - beta1**t), torch.sqrt(v / (1 - beta2**t)))
    return p


def test_adam_atan2_matches_the_documented_rule():
    generator = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (7,), (2, 3, 5)]
    params = [torch.randn(s, generator=generator).requires_grad_() for s in shapes]
    frozen = torch.randn(3, generator=generator).requires_grad_()  # never gets a gradient: untouched
    start = [p.detach().clone() for p in params + [frozen]]
    grads = [[torch.randn(s, generator=generator) * 10 ** (i - 1) for s in shapes] for i in range(6)]
    settings = dict(lr=0.05, betas=(0.9, 0.95), weight_decay=0.3)
    optimizer = AdamAtan2([{"params": params[:2]}, {"params": params[2:] + [frozen], "lr": 0.02}], **settings)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        optimizer.step()
    for i, p in enumerate(params):
        lr = 0.05 if i < 2 else 0.02
        expected = reference_adam_atan2(
            start[i], [g[i] for g in grads], lr, settings["betas"], settings["weight_decay"]
        )
        torch.testing.assert_close(p.detach().double(), expected, rtol=1e-6, atol=1e-6)
        assert not torch.allclose(p.detach(), start[i])
    assert torch.equal(frozen.detach(), start[-1])


def test_adam_atan2_bias_correction_uses_each_tensors_own_step():
    generator = torch.Generator().manual_seed(1)
    early, late = (
        torch.randn(5, generator=generator).requires_grad_(),
        torch.randn(5, generator=generator).requires_grad_(),
    )
    late_start = late.detach().clone()
    optimizer = AdamAtan2([early, late], lr=0.1, betas=(0.9, 0.95), weight_decay=0.0)
    late_grads = []
    for step in range(4):
        early.grad = torch.randn(5, generator=generator)
        late.grad = None if step < 2 else torch.randn(5, generator=generator)  # joins at step 3
        if late.grad is not None:
            late_grads.append(late.grad.clone())
        optimizer.step()
    expected = reference_adam_atan2(late_start, late_grads, 0.1, (0.9, 0.95), 0.0)
    torch.testing.assert_close(late.detach().double(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["adam_atan2", "adamw"])
def test_both_optimisers_reduce_a_loss(name):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=generator)
    target = x @ torch.randn(8, 1, generator=generator) + 0.5
    layer = torch.nn.Linear(8, 1)
    optimizer = build_optimizer(name, layer.parameters(), lr=0.05, betas=(0.9, 0.95), weight_decay=0.01)
    losses = []
    for _ in range(150):
        loss = F.mse_loss(layer(x), target)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.02 * losses[0], (losses[0], losses[-1])


def test_unknown_optimiser_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer("sgd", [torch.zeros(1, requires_grad=True)], 0.1, (0.9, 0.95), 0.0)


# -- 6. the loss -----------------------------------------------------------------------------------


def test_stablemax_cross_entropy_on_hand_computed_values():
    # s(x) = x + 1 for x >= 0, 1 / (1 - x) below.
    # Row 1: s = (3, 1, 0.5), sum 4.5.   Row 2: s = (1.5, 0.25, 2), sum 3.75.
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, -3.0, 1.0]])
    loss = stablemax_cross_entropy(logits, torch.tensor([0, 1]))
    assert loss.dtype == torch.float64
    torch.testing.assert_close(loss, torch.tensor([math.log(4.5 / 3), math.log(3.75 / 0.25)], dtype=torch.float64))
    loss = stablemax_cross_entropy(logits, torch.tensor([2, 2]))
    torch.testing.assert_close(loss, torch.tensor([math.log(9.0), math.log(3.75 / 2)], dtype=torch.float64))
    # A proper distribution over the last axis, for any shape.
    many = torch.randn(2, 81, 11, dtype=torch.float64) * 5
    torch.testing.assert_close(log_stablemax(many).exp().sum(-1), torch.ones(2, 81, dtype=torch.float64))


def test_halting_target_is_whole_grid_correctness():
    labels = torch.randint(2, 11, (3, 81), generator=torch.Generator().manual_seed(0))
    logits = F.one_hot(labels, 11).float() * 4.0  # every cell right ...
    logits[1, 40] = 0.0
    logits[1, 40, 2 if labels[1, 40] != 2 else 3] = 4.0  # ... except one cell of puzzle 1
    logits[2] *= 0.01  # puzzle 2 right by a hair: still right
    halt = torch.tensor([0.7, -0.4, 0.0])
    weights = torch.tensor([1.0, 0.5, 2.0])
    loss = supervision_loss(logits, halt, labels, weights, halt_loss_weight=0.5)

    assert loss.grid_correct.tolist() == [True, False, True]
    assert loss.cell_correct.sum(-1).tolist() == [81, 80, 81]
    target = torch.tensor([1.0, 0.0, 1.0])
    bce = torch.log1p(torch.exp(-halt)) * target + torch.log1p(torch.exp(halt)) * (1 - target)
    cells = torch.stack([stablemax_cross_entropy(logits[i], labels[i]).mean() for i in range(3)]).float()
    expected = (weights * (cells + 0.5 * bce)).mean()
    torch.testing.assert_close(loss.total, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loss_gradient_is_finite_at_a_logit_of_exactly_one(dtype):
    labels = torch.full((1, 81), 5)
    logits = torch.zeros(1, 81, 11, dtype=dtype)
    logits[0, 0, 3] = 1.0  # a wrong digit's logit, exactly 1
    logits.requires_grad_()
    loss = supervision_loss(logits, torch.zeros(1), labels, torch.ones(1), halt_loss_weight=0.5)
    loss.total.backward()
    assert torch.isfinite(loss.total)
    assert torch.isfinite(logits.grad).all()


# -- 7. data parallel ------------------------------------------------------------------------------

DDP_SCRIPT = """
import os
import sys
import torch
from sudoku_trm.training import distributed
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.config import TrainConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.training.trainer import Trainer

out = sys.argv[1]
model = ModelConfig(hidden_size=32, num_layers=1, H_cycles=1, L_cycles=2, halt_max_steps=2)
config = TrainConfig(name="ddp", runs_dir=out, data={data!r}, dev=None, curriculum="none", pdc_boundaries=(),
                     pdc_depths=((1, 2),), steps=6, batch_size=8, lr=3e-3, warmup_steps=2, weight_decay=0.1,
                     ema_decay=0.9, device="cpu", log_every=3, eval_every=0, checkpoint_every=100)
torch.manual_seed(config.seed + int(os.environ["RANK"]))
own_init = TRM(model).state_dict()  # what this rank draws before DDP broadcasts rank 0's weights
trainer = Trainer(model, config, log=lambda line: None)
initial = {{k: v.clone() for k, v in trainer.model.state_dict().items()}}
trainer.run()
torch.save({{"rank": trainer.rank, "world": trainer.world, "local_batch": trainer.local_batch,
            "own_init": own_init, "initial": initial, "model": trainer.model.state_dict(),
            "ema": trainer.ema.state_dict(),
            "inputs": trainer.slots.inputs}}, f"{{out}}/rank{{trainer.rank}}.pt")
distributed.teardown()
"""


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    """Two gloo processes under torchrun train 6 steps; each saves what it ends with."""
    out = tmp_path_factory.mktemp("ddp")
    script = out / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(data=TRAIN_FILES)))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
    }
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)  # torchrun sets them for its children
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def test_ddp_ranks_end_with_identical_weights(ddp_run):
    ranks = [torch.load(ddp_run / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world"] for r in ranks} == {2}
    assert {r["local_batch"] for r in ranks} == {4}  # the global batch of 8 is split
    # The check could fail: the ranks start from different random weights (seed + rank) and train on
    # different puzzles, so only DDP's initial broadcast and gradient averaging make them agree.
    assert not torch.equal(ranks[0]["own_init"]["lm_head.weight"], ranks[1]["own_init"]["lm_head.weight"])
    assert not torch.equal(ranks[0]["inputs"], ranks[1]["inputs"])
    assert_same_tensors(ranks[0]["own_init"], ranks[0]["initial"], "rank 0 init")
    assert_same_tensors(ranks[0]["initial"], ranks[1]["initial"], "weights after the broadcast")
    assert_same_tensors(ranks[0]["model"], ranks[1]["model"], "rank 0 vs rank 1 weights")
    assert not torch.equal(ranks[0]["model"]["lm_head.weight"], ranks[0]["initial"]["lm_head.weight"])
    checkpoint = load_checkpoint(ddp_run / "ddp" / CHECKPOINT_NAME)
    assert checkpoint["step"] == 6 and len(checkpoint["ranks"]) == 2
    assert_same_tensors(checkpoint["model"], ranks[1]["model"], "checkpoint vs rank 1 weights")
    assert_same_tensors(checkpoint["ema"], ranks[0]["ema"], "checkpoint vs rank 0 EMA")


def test_ddp_ranks_end_with_identical_ema(ddp_run):
    ranks = [torch.load(ddp_run / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert_same_tensors(ranks[0]["ema"], ranks[1]["ema"], "rank 0 vs rank 1 EMA")


# -- 8. the command line ---------------------------------------------------------------------------

runner = CliRunner()


def test_train_command_writes_checkpoint_metrics_and_export(tmp_path):
    args = [
        "train",
        "--data",
        TRAIN_FILES[0],
        "--data",
        TRAIN_FILES[1],
        "--dev",
        DEV_FILE,
        "--dev-limit",
        "4",
        "--hidden-size",
        "32",
        "--h-cycles",
        "1",
        "--l-cycles",
        "2",
        "--max-steps",
        "2",
        "--steps",
        "6",
        "--batch-size",
        "4",
        "--warmup-steps",
        "2",
        "--log-every",
        "2",
        "--eval-every",
        "0",
        "--device",
        "cpu",
        "--no-compile",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--name",
        "cli",
        "--export",
        str(tmp_path / "weights"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output

    run_dir = tmp_path / "runs" / "cli"
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME)
    assert checkpoint["step"] == 6
    assert checkpoint["model_config"]["hidden_size"] == 32
    assert checkpoint["train_config"]["name"] == "cli" and checkpoint["train_config"]["batch_size"] == 4
    assert {"model", "ema", "optimizer", "ranks"} <= checkpoint.keys()

    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps, evals = [r for r in records if "eval" not in r], [r for r in records if "eval" in r]
    assert [r["step"] for r in steps] == [2, 4, 6]
    for record in steps:
        assert {
            "progress",
            "depth",
            "lr",
            "samples_per_s",
            "loss",
            "cell_accuracy",
            "grid_accuracy",
            "finished",
            "halting_accuracy",
            "mean_steps",
        } <= record.keys()
        assert math.isfinite(record["loss"]) and record["loss"] > 0
        assert 0 <= record["cell_accuracy"] <= 1 and 0 <= record["halting_accuracy"] <= 1
        assert record["samples_per_s"] > 0 and record["lr"] >= 0
        assert len(record["depth"]) == 2
    # The default (cpu) recipe's cosine ends on its floor at the last step; every step before it is above.
    _, recipe = configs("cpu")
    assert all(r["lr"] > recipe.lr * recipe.lr_floor for r in steps[:-1])
    assert steps[-1]["lr"] == pytest.approx(recipe.lr * recipe.lr_floor)
    assert steps[-1]["progress"] == 1.0 and steps[-1]["depth"] == [1, 2]
    assert len(evals) == 1 and evals[0]["step"] == 6 and evals[0]["eval"]["puzzles"] == 4

    assert "step 6/6" in result.stderr
    assert load_weights(tmp_path / "weights").config.hidden_size == 32


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_train_on_missing_cuda_is_one_line_and_exit_1(tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            TRAIN_FILES[0],
            "--device",
            "cuda",
            "--hidden-size",
            "32",
            "--steps",
            "2",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "cuda" in lines[0].lower()
    assert not (tmp_path / "runs").exists()


def test_a_single_supervision_step_trains(tmp_path):
    model = tiny_model(halt_max_steps=1)
    trainer = Trainer(model, tiny_train(tmp_path, model, steps=2), log=quiet)
    trainer.run()
    assert trainer.step == 2
