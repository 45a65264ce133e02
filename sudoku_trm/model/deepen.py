"""Give a trained model more blocks without changing what it computes, so a blocks A/B can fork from a
trained model instead of starting from nothing.

Every block is post-norm: x -> rms_norm(x + mix(x)) -> rms_norm(x + mlp(x)), with no learned norm scale. A
block appended after the last one receives a state the last norm already brought to RMS 1; if nothing writes
into it (the mixer's and the MLP's output projections at zero) it maps that state to rms_norm(x) = x, up to
the norm's epsilon. So the new blocks go at the end, their writers start at zero and everything that only
reads keeps the deeper model's own random initial values: the gradient reaches the writers from the first
step, and through them the readers, so training grows into the new blocks.

The MLP mixer is refused: its token-mixing norm runs over the sequence axis, which is not the identity on a
state normed over channels.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from sudoku_trm.model.trm import TRM

# The projections through which a block writes into the state (the rest of a block only reads it).
WRITERS = ("unit_mix.combine.weight", "unit_mix.pair_combine.weight", "self_attn.o_proj.weight", "mlp.down_proj.weight")


def deepen(model: TRM, layers: int, seed: int = 0) -> TRM:
    """A copy of `model` with `layers` blocks that computes the same logits and halting logits; its new
    blocks are drawn with `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        deep = TRM(dataclasses.replace(model.config, num_layers=layers))
    deep.load_state_dict(model.state_dict() | new_blocks(deep, model.config.num_layers))
    return deep.to(next(model.parameters()).device)


def new_blocks(deep: TRM, old_layers: int) -> dict[str, Tensor]:
    """`deep`'s own tensors of its blocks from `old_layers` on, each writer zeroed: merged over the tensors of
    a model with `old_layers` blocks (and otherwise `deep`'s config), they make `deep` compute what it did."""
    layers = deep.config.num_layers
    if layers < old_layers:
        raise ValueError(f"deepening only adds blocks: {old_layers} -> {layers}")
    if deep.config.mixer == "mlp":
        raise ValueError("deepening supports the units and attention mixers, not 'mlp'")
    state = {}
    for index in range(old_layers, layers):
        for within, tensor in deep.L_level.layers[index].state_dict().items():
            fresh = torch.zeros_like(tensor) if within in WRITERS else tensor.clone()
            state[f"L_level.layers.{index}.{within}"] = fresh
    return state
