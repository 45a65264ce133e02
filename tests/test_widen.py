"""Widening a trained model (model/widen.py): the same function at the new width, new channels that can learn,
and a run that starts from a narrower export through `init_from`."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import tiny_train_config

from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights
from sudoku_trm.model.widen import widen
from sudoku_trm.training.trainer import Trainer

NARROW = ModelConfig(hidden_size=32, num_layers=2, mixer="units", puzzle_emb_len=1, H_cycles=2, L_cycles=2)
TRAIN_NAMES = ("hard_train.csv", "clue17.csv")


def trained_like(config: ModelConfig, seed: int = 3) -> TRM:
    """A model whose every tensor is random and far from its init (a trained model has no zeros left: the
    halting head, the puzzle embedding and the pairs' output all start at zero), so nothing hides a slip."""
    torch.manual_seed(seed)
    model = TRM(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
        model.H_init.normal_()
        model.L_init.normal_()
    return model.eval()


def puzzles(count: int = 6, seed: int = 5) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, 11, (count, 81), generator=generator)  # tokens: 1 blank, 2..10 digits


def outputs(model: TRM, inputs: torch.Tensor, steps: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    carry, seen = model.initial_carry(len(inputs)), []
    with torch.no_grad():
        for _ in range(steps):
            carry, logits, halt = model(carry, inputs)
            seen.append((logits, halt))
    return seen


@pytest.mark.parametrize("pair_width", [0, 4])
@pytest.mark.parametrize("hidden", [32, 48, 64])
def test_a_widened_model_computes_what_the_narrow_one_did(pair_width, hidden):
    narrow = trained_like(dataclasses.replace(NARROW, pair_width=pair_width))
    wide = widen(narrow, hidden).eval()
    assert wide.config.hidden_size == hidden
    inputs = puzzles()
    for (logits, halt), (wide_logits, wide_halt) in zip(outputs(narrow, inputs), outputs(wide, inputs)):
        torch.testing.assert_close(wide_logits, logits, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(wide_halt, halt, rtol=1e-4, atol=1e-4)


def test_the_new_channels_start_silent_and_learn():
    """At step 0 nothing has been written into the new channels; one backward pass reaches every new row
    that writes into them, so training can grow into them (zeros everywhere would leave them dead)."""
    narrow = trained_like(NARROW)
    wide = widen(narrow, 48)
    carry, logits, halt = wide(wide.initial_carry(6), puzzles())
    assert torch.count_nonzero(carry.y[..., 32:]) == 0 and torch.count_nonzero(carry.z[..., 32:]) == 0
    (logits.logsumexp(-1).mean() + halt.mean()).backward()
    for layer in wide.L_level.layers:
        assert layer.mlp.down_proj.weight.grad[32:].abs().sum() > 0
        assert layer.unit_mix.combine.weight.grad[32:].abs().sum() > 0
        combine = layer.unit_mix.combine.weight.grad
        assert sum(combine[:, u * 48 + 32 : (u + 1) * 48].abs().sum() for u in range(3)) > 0  # new features


def test_widening_refuses_what_it_cannot_keep():
    with pytest.raises(ValueError, match="only grows"):
        widen(trained_like(NARROW), 16)
    with pytest.raises(ValueError, match="inner width changes"):  # SwiGLU inner 256 -> 512: not one function
        widen(trained_like(NARROW), 200)
    attention = ModelConfig(hidden_size=32, num_heads=4, mixer="attention", H_cycles=1, L_cycles=1)
    with pytest.raises(ValueError, match="units mixer"):
        widen(TRM(attention), 64)
    flat_prefix = dataclasses.replace(NARROW, puzzle_emb_ndim=64, puzzle_emb_len=2)  # laid over two tokens
    with pytest.raises(ValueError, match="default puzzle embedding"):
        widen(TRM(flat_prefix), 64)


def test_init_from_a_narrower_export_widens_it_and_says_so(shared_sample, tmp_path):
    """`--init-from EXPORT --set hidden_size=N` forks a width A/B from a trained model: the run's model and
    its EMA compute the export's logits at step 0; narrowing is refused with the file named."""
    narrow_config = dataclasses.replace(NARROW, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3)
    source = trained_like(narrow_config)
    export_weights(source, tmp_path / "narrow")
    wide_config = dataclasses.replace(narrow_config, hidden_size=48)
    data = tuple(str(shared_sample / name) for name in TRAIN_NAMES)
    config = tiny_train_config(tmp_path, wide_config, data=data, init_from=str(tmp_path / "narrow"))
    lines: list[str] = []
    trainer = Trainer(wide_config, config, log=lines.append)
    assert [line for line in lines if "hidden_size 32, this run widens it to 48" in line]
    inputs = trainer.stream.next_batch()[0]
    expected = outputs(source, inputs, steps=1)[0][0]
    for net in (trainer.model, trainer.ema):
        torch.testing.assert_close(outputs(net.eval(), inputs, steps=1)[0][0], expected, rtol=1e-4, atol=1e-4)

    export_weights(trainer.model, tmp_path / "wide")
    narrower = tiny_train_config(tmp_path, narrow_config, data=data, init_from=str(tmp_path / "wide"))
    with pytest.raises(UserError, match="wide: the exported model has hidden_size 48"):
        Trainer(narrow_config, narrower, log=lambda line: None)
