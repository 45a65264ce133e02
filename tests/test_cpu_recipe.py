"""The CPU recipe in real (tiny) runs: it learns, per-step targets reach the loss, and its options are checked."""

from __future__ import annotations

import pytest
import torch
from conftest import SHARED_SAMPLE, tiny_train_config
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.inference.scores import evaluate
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set
from sudoku_trm.training.losses import supervision_loss
from sudoku_trm.training.metrics import RunningMetrics
from sudoku_trm.training.recipes import configs
from sudoku_trm.training.trainer import Trainer

HELD_OUT = str(SHARED_SAMPLE / "unbiased_1k.csv")
TRAIN = (str(SHARED_SAMPLE / "clue17.csv"), str(SHARED_SAMPLE / "hard_train.csv"))


def quiet(_line: str) -> None:
    pass


def cpu_run(tmp_path, **train):
    """The cpu recipe, narrowed to a test's size: hidden 32, a short run on the fixture sample."""
    model, recipe = configs("cpu", model={"hidden_size": 32, "halt_max_steps": 6})
    values = {
        **{k: getattr(recipe, k) for k in ("optimizer", "lr", "weight_decay", "betas", "grad_clip", "loss")},
        "easier_share": recipe.easier_share,
        "data": TRAIN,
        "curriculum": "none",
        "pdc_boundaries": (),
        "pdc_depths": ((model.H_cycles, model.L_cycles),),
        "lr": 3e-3,
        "ema_decay": 0.9,
        **train,
    }
    return model, tiny_train_config(tmp_path, model, **values)


def test_a_tiny_cpu_recipe_run_learns_on_held_out_puzzles(tmp_path):
    """~150 steps of 16 (seconds): blank cells of held-out puzzles go from chance (1 in 9) to well above it."""
    torch.manual_seed(0)
    model, config = cpu_run(tmp_path, steps=150, batch_size=16)
    trainer = Trainer(model, config, log=quiet)
    held_out = load_puzzle_set(HELD_OUT)
    start = evaluate(trainer.ema, held_out).cell_accuracy
    trainer.run()
    end = evaluate(trainer.ema, held_out).cell_accuracy
    assert start < 0.16, start
    assert end > start + 0.2, (start, end)


def test_logic_targets_weigh_the_loss_by_the_slots_step(tmp_path):
    """With --targets logic the slots carry each puzzle's logic rounds and the loss at step 1 ignores the
    cells logic places later (pending weight 0): changing their logits leaves the loss unchanged."""
    model, config = cpu_run(tmp_path, steps=1, batch_size=8, targets="logic", rounds_per_step=1, pending_weight=0.0)
    trainer = Trainer(model, config, log=quiet)
    trainer.train_step(RunningMetrics(trainer.device))
    slots = trainer.slots
    assert slots.rounds is not None and slots.rounds.shape == (8, 81)
    assert ((slots.rounds == 0) == (slots.inputs > 1)).all()  # givens are round 0
    from sudoku_trm.training.targets import cell_weights

    weights = cell_weights(slots.rounds, torch.ones(8, dtype=torch.long), 1, 0.0)
    logits = torch.randn(8, 81, 11)
    late = weights == 0
    assert late.any()
    moved = logits.clone()
    moved[late] += 5 * torch.randn(int(late.sum()), 11)
    ones = torch.ones(8)
    loss = supervision_loss(logits, torch.zeros(8), slots.labels, ones, 0.0, cell_weights=weights).total
    again = supervision_loss(moved, torch.zeros(8), slots.labels, ones, 0.0, cell_weights=weights).total
    assert torch.allclose(loss, again)
    unweighted = supervision_loss(moved, torch.zeros(8), slots.labels, ones, 0.0).total
    assert not torch.allclose(loss, unweighted)


def test_solution_targets_keep_no_rounds(tmp_path):
    model, config = cpu_run(tmp_path, steps=1, batch_size=4)
    trainer = Trainer(model, config, log=quiet)
    trainer.train_step(RunningMetrics(trainer.device))
    assert trainer.slots.rounds is None


@pytest.mark.parametrize(
    "flags",
    [
        ["--targets", "rules"],
        ["--pending", "maybe"],
        ["--mixer", "conv"],
        ["--rounds-per-step", "0"],
        ["--pending-weight", "1.5"],
        ["--easier-share", "-0.1"],
        ["--mix", "frontier", "--reveal", "0", "--reveal", "1.5"],
        ["--mix", "frontier", "--reveal", "0.1", "--reveal", "0.1"],
        ["--recipe", "gpu"],
    ],
)
def test_bad_values_of_the_new_train_options_are_usage_errors(flags, tmp_path):
    result = CliRunner().invoke(app, ["train", "--device", "cpu", "--runs-dir", str(tmp_path), *flags])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_probabilities_are_read_the_way_the_loss_was_trained():
    from sudoku_trm.model.config import ModelConfig
    from sudoku_trm.model.readout import best_digits, digit_probabilities

    logits = torch.zeros(1, 81, 11)
    logits[0, :, 2] = 5.0  # digit 1, a gap of 5 over the other digits
    soft = digit_probabilities(logits, "softmax")[0, 0, 0].item()
    stable = digit_probabilities(logits, "stablemax")[0, 0, 0].item()
    assert soft == pytest.approx(torch.tensor(5.0).exp().item() / (torch.tensor(5.0).exp().item() + 8))
    assert stable == pytest.approx(6 / 14)  # stable-max: (5 + 1) / (6 + 8 x 1)
    assert best_digits(logits, "softmax")[1][0, 0].item() == 1
    for recipe, readout in (("cpu", "softmax"), ("fast", "softmax"), ("trm", "stablemax")):
        assert configs(recipe)[0].readout == readout
    assert configs("cpu", train={"loss": "stablemax"})[0].readout == "stablemax"
    with pytest.raises(ValueError, match="readout"):
        ModelConfig(readout="argmax")
