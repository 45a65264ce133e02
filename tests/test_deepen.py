"""Deepening a trained model (model/deepen.py): the same function with more blocks, new blocks that can learn,
and a run that starts from a shallower export through `init_from`."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import tiny_train_config
from test_widen import NARROW, TRAIN_NAMES, outputs, puzzles, trained_like

from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.deepen import deepen
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights
from sudoku_trm.training.trainer import Trainer

ATTENTION = ModelConfig(hidden_size=32, num_heads=4, mixer="attention", H_cycles=2, L_cycles=2)


def calm(model: TRM) -> TRM:
    """`model` with its blocks' weights halved. A new block is the identity only up to the norm's epsilon
    (1e-5), and the recursion of a random model at full gain (attention above all) is chaotic enough to grow
    that to whole logits within a step; a trained model's is not (the shipped one: 1e-4 on logits of 10)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith("L_level."):
                parameter.mul_(0.5)
    return model


@pytest.mark.parametrize(
    "config", [NARROW, dataclasses.replace(NARROW, pair_width=4), ATTENTION], ids=["units", "pairs", "attention"]
)
@pytest.mark.parametrize("layers", [3, 4])
def test_a_deepened_model_computes_what_the_shallow_one_did(config, layers):
    shallow = calm(trained_like(config))
    deep = deepen(shallow, layers).eval()
    assert len(deep.L_level.layers) == layers
    inputs = puzzles()
    for (logits, halt), (deep_logits, deep_halt) in zip(outputs(shallow, inputs), outputs(deep, inputs)):
        # the norm's epsilon, grown over 3 steps; a new block that wrote anything would move logits by ~1
        torch.testing.assert_close(deep_logits, logits, rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(deep_halt, halt, rtol=1e-3, atol=1e-3)


def test_the_old_blocks_are_kept_and_the_new_ones_are_not_copies():
    shallow = trained_like(NARROW)
    deep = deepen(shallow, 3)
    for name, tensor in shallow.state_dict().items():
        assert torch.equal(deep.state_dict()[name], tensor), name
    same = deepen(shallow, 2).state_dict()  # as many blocks: nothing to add, nothing changed
    assert same.keys() == shallow.state_dict().keys()
    assert all(torch.equal(same[name], tensor) for name, tensor in shallow.state_dict().items())
    new, last = deep.L_level.layers[2], shallow.L_level.layers[1]
    assert not torch.equal(new.unit_mix.message.weight, last.unit_mix.message.weight)
    assert new.unit_mix.message.weight.abs().sum() > 0 and new.mlp.gate_up_proj.weight.abs().sum() > 0


def test_the_new_blocks_start_silent_and_learn():
    """Nothing is written by a new block at step 0; one backward pass reaches both of its writers, so training
    can grow into it (zero readers as well would leave it dead)."""
    deep = deepen(trained_like(NARROW), 3)
    new = deep.L_level.layers[2]
    assert torch.count_nonzero(new.unit_mix.combine.weight) == 0 and torch.count_nonzero(new.mlp.down_proj.weight) == 0
    carry, logits, halt = deep(deep.initial_carry(6), puzzles())
    (logits.logsumexp(-1).mean() + halt.mean()).backward()
    assert new.unit_mix.combine.weight.grad.abs().sum() > 0
    assert new.mlp.down_proj.weight.grad.abs().sum() > 0


def test_deepening_refuses_what_it_cannot_keep():
    with pytest.raises(ValueError, match="only adds blocks"):
        deepen(trained_like(NARROW), 1)
    mlp = ModelConfig(hidden_size=32, mixer="mlp", H_cycles=1, L_cycles=1)
    with pytest.raises(ValueError, match="not 'mlp'"):
        deepen(TRM(mlp), 3)


def test_init_from_a_shallower_export_deepens_it_and_says_so(shared_sample, tmp_path):
    """`--init-from EXPORT --set num_layers=N` forks a blocks A/B from a trained model: the run's model and its
    EMA compute the export's logits at step 0, and the run can grow width and blocks at once; fewer blocks
    than the export's is refused with the file named."""
    shallow_config = dataclasses.replace(NARROW, num_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=3)
    source = trained_like(shallow_config)
    export_weights(source, tmp_path / "shallow")
    data = tuple(str(shared_sample / name) for name in TRAIN_NAMES)
    for deep_config, said in (
        (dataclasses.replace(shallow_config, num_layers=2), ["num_layers 1, this run deepens it to 2"]),
        (
            dataclasses.replace(shallow_config, num_layers=3, hidden_size=48),
            ["num_layers 1, this run deepens it to 3", "hidden_size 32, this run widens it to 48"],
        ),
    ):
        config = tiny_train_config(tmp_path, deep_config, data=data, init_from=str(tmp_path / "shallow"))
        lines: list[str] = []
        trainer = Trainer(deep_config, config, log=lines.append)
        assert all([line for line in lines if words in line] for words in said), lines
        inputs = trainer.stream.next_batch()[0]
        expected = outputs(source, inputs, steps=1)[0][0]
        for net in (trainer.model, trainer.ema):
            assert len(net.L_level.layers) == deep_config.num_layers
            torch.testing.assert_close(outputs(net.eval(), inputs, steps=1)[0][0], expected, rtol=1e-3, atol=1e-3)

    export_weights(trainer.model, tmp_path / "deep")
    wide_shallow = dataclasses.replace(shallow_config, hidden_size=48)
    shallower = tiny_train_config(tmp_path, wide_shallow, data=data, init_from=str(tmp_path / "deep"))
    with pytest.raises(UserError, match="deep: the exported model has num_layers 3"):
        Trainer(wide_shallow, shallower, log=lambda line: None)
