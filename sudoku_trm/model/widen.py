"""Widen a trained model's hidden size without changing what it computes, so a width A/B can fork from
a trained model instead of starting from nothing.

Every block ends in an RMSNorm without a learned scale, so the state lives on a sphere of RMS 1. Zero-padded
from `old` to `new` channels it keeps its direction but its RMS drops by sqrt(old / new); the widened model
therefore carries every old state scaled by c = sqrt(new / old) (which the embedding scale, sqrt(hidden),
already does for the input). Each layer that reads the state is divided by c, each that writes into it is
multiplied by c, so every block maps c * v to c * (v + f(v)), and the norm returns it to c * the old output.

New channels start at zero and stay silent: nothing writes into them at step 0 (zero rows) and no new
message feature is combined (zero columns). Everything that reads them keeps the wide model's own random
initial values, so their gradient is non-zero from the first step and training grows into them.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from sudoku_trm.model.trm import TRM


def widen(model: TRM, hidden: int, seed: int = 0) -> TRM:
    """A copy of `model` with `hidden` channels that computes the same logits and halting logits; its new
    parameters are drawn with `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wide = TRM(dataclasses.replace(model.config, hidden_size=hidden))
    wide.load_state_dict(widened_state(model, wide))
    return wide.to(next(model.parameters()).device)


def widened_state(model: TRM, wide: TRM) -> dict[str, Tensor]:
    """`model`'s tensors for `wide`, a model of the same layers with a hidden size at least as large, that
    compute what `model` computes; `wide`'s own values fill what only reads the new channels (and any tensor
    `model` lacks is left to the caller). The units mixer only (the mixers across positions read the hidden
    axis in other ways)."""
    config, old, hidden = model.config, model.config.hidden_size, wide.config.hidden_size
    if hidden < old:
        raise ValueError(f"widening only grows the hidden size: {old} -> {hidden}")
    if config.mixer != "units":
        raise ValueError(f"widening supports the units mixer, not {config.mixer!r}")
    if config.puzzle_emb_ndim is not None:
        raise ValueError("widening supports the default puzzle embedding (puzzle_emb_ndim None)")
    c = math.sqrt(hidden / old)
    target = wide.state_dict()
    return {name: _grown(name, tensor, target[name], old, c) for name, tensor in model.state_dict().items()}


def _grown(name: str, old_tensor: Tensor, fresh: Tensor, old: int, c: float) -> Tensor:
    """`name`'s wide tensor: `old_tensor` in its place, scaled for the state's new RMS, the rest as described
    in the module docstring (zero where it would write into the state, `fresh` where it only reads)."""
    kind = name.rsplit(".", 2)[-2] if "." in name else name
    old_tensor = old_tensor.to(fresh.dtype)
    out = fresh.clone()
    if name in ("H_init", "L_init"):  # a starting state: it must already carry the scale c
        out.zero_()
        out[:old] = c * old_tensor
    elif name in ("embed_tokens.embedding_weight", "puzzle_emb.weights"):  # scaled by sqrt(hidden) in embed()
        out.zero_()
        out[:, :old] = old_tensor
    elif name == "q_head.bias":
        out.copy_(old_tensor)
    elif kind in ("message", "pair_send", "pair_receive"):  # read the state into per-unit features
        features = old_tensor.shape[0] // 3
        new_features = out.shape[0] // 3
        for unit in range(3):
            rows = slice(unit * new_features, unit * new_features + features)
            out[rows, :old] = old_tensor[unit * features : (unit + 1) * features] / c
    elif kind in ("gate_up_proj", "lm_head", "q_head"):  # read the state; their outputs keep their size
        if kind == "gate_up_proj" and out.shape[0] != old_tensor.shape[0]:
            raise ValueError(f"{name}: the SwiGLU's inner width changes ({old_tensor.shape[0]} -> {out.shape[0]})")
        out[:, :old] = old_tensor / c
    elif kind in ("combine", "pair_combine"):  # write per-unit features into the state
        features = old_tensor.shape[1] // 3
        new_features = out.shape[1] // 3
        out.zero_()
        for unit in range(3):
            columns = slice(unit * new_features, unit * new_features + features)
            out[:old, columns] = c * old_tensor[:, unit * features : (unit + 1) * features]
    elif kind == "down_proj":  # the SwiGLU writes into the state
        out.zero_()
        out[:old] = c * old_tensor
    else:
        raise ValueError(f"widening does not know the tensor {name} {tuple(old_tensor.shape)}")
    return out
