"""Named recipes: the published settings of a training method, as field overrides of the two configs.

This table is the one place each recipe's values live; `sudoku-trm train --recipe NAME` starts from it,
its `--help` shows each flag's value per recipe (`by_recipe`), and an explicit field wins (`configs`).

- `trm`: the configs' own defaults, the TRM/CGAR recipe (Adam-atan2 lr 1e-4 with weight decay 1.0,
  2,000 warm-up steps then constant, stable-max, halting loss weight 0.5, depth (3, 6), batch 768).
- `fast`: "Speed is Confidence" (Dillon, arXiv 2601.19085; code jvdillon/sic, run x182m): Muon on the
  blocks' matrices and AdamW on the rest, the Muon-friendly gated MLP, cosine decay to 0 without warm-up,
  gradient clip 1.0, softmax cross-entropy with label smoothing 0.2, halting loss weight 0.05, depth
  (6, 9), batch 384 for 8,000 steps (87.1% on Sudoku-Extreme, 48 minutes on one RTX 5090). With CGAR
  on top: PDC's three stages scaled to depth (6, 9), see training/config.py `stages_for`.

Not taken from sic: its one register token instead of 16 prefix tokens and its model cast to bf16
(we train under bf16 autocast, and keep TRM's prefix so the architecture stays TRM's).

- `cpu`: made for a 2-core CPU, where `fast` makes about a hundred optimiser steps an hour at hidden 64: the units mixer
  (Sudoku's rows, columns and boxes built in), hidden 96 at depth (2, 3), softmax cross-entropy, puzzles
  made easier by revealing givens, AdamW, batch 64. At equal wall clock it solved 13% of unbiased_1k where
  `fast` solved none; per-step logic targets (`--targets logic`) lost their A/Bs to solution targets
  (docs/training.md "Which recipe?", benchmarks/results/).

`default_recipe` is `train`'s choice when none is named: `fast` where CUDA is, `cpu` elsewhere. The configs'
own defaults stay `trm`'s, so reference checkpoints load as published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sudoku_trm.model.config import ModelConfig
from sudoku_trm.training.config import TrainConfig, stages_for


@dataclass(frozen=True)
class Recipe:
    summary: str
    model: Mapping[str, Any] = field(default_factory=dict)  # ModelConfig fields
    train: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig fields


DEFAULT_RECIPE = "fast"  # where CUDA is: `default_recipe`
CPU_RECIPE = "cpu"  # elsewhere

RECIPES: dict[str, Recipe] = {
    "trm": Recipe("TRM/CGAR as published (the configs' defaults)"),
    "fast": Recipe(
        '"Speed is Confidence": Muon + AdamW, gated MLP, cosine, softmax with label smoothing, depth (6, 9), '
        "batch 384, 8,000 steps",
        model={"mlp": "gated_rms", "H_cycles": 6, "L_cycles": 9},
        train={
            "optimizer": "muon",
            "muon_lr": 0.02,
            "muon_momentum": 0.6,
            "muon_weight_decay": 0.005,
            "muon_ns_steps": 3,
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
            "steps": 8_000,
        },
    ),
    "cpu": Recipe(
        "made for a CPU: the units mixer (each cell hears its row, column and box), puzzles made easier by "
        "revealing givens, hidden 96, depth (2, 3), AdamW, batch 64",
        model={
            "mixer": "units",
            "hidden_size": 96,
            "expansion": 2.0,
            "puzzle_emb_len": 1,
            "H_cycles": 2,
            "L_cycles": 3,
            "halt_max_steps": 16,
        },
        train={
            "dev_limit": 200,
            "easier_share": 0.8,
            "targets": "solution",  # "logic" lost the A/B (docs/training.md "Which recipe?")
            "optimizer": "adamw",
            "lr": 1e-3,
            "weight_decay": 0.1,
            "betas": (0.9, 0.95),
            "lr_schedule": "cosine",
            "lr_floor": 0.05,
            "warmup_steps": 100,
            "grad_clip": 1.0,
            # Softmax, unsmoothed: stable-max's loss grows only with the log of a wrong logit, and left every
            # cell at the logits' ceiling, right or wrong (nothing to commit on: docs/training.md "Which recipe?").
            "loss": "softmax",
            "label_smoothing": 0.0,
            "halt_loss_weight": 0.5,
            "batch_size": 64,
            "steps": 6_000,
            "eval_every": 1_000,
            "checkpoint_every": 200,
        },
    ),
}


def default_recipe(cuda: bool) -> str:
    """`train`'s recipe when none is named: `fast` where CUDA is, `cpu` elsewhere."""
    return DEFAULT_RECIPE if cuda else CPU_RECIPE


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {name!r}")
    return RECIPES[name]


def configs(
    name: str, model: Mapping[str, Any] | None = None, train: Mapping[str, Any] | None = None
) -> tuple[ModelConfig, TrainConfig]:
    """The recipe's configs with the given fields on top (they win). PDC's stages follow the resulting
    model's full depth (`stages_for`) unless `train` names `pdc_depths` itself."""
    chosen = recipe(name)
    values = {**chosen.train, **(train or {})}
    # Inference reads probabilities the way the cells' loss was trained (ModelConfig.readout).
    model_values = {"readout": values.get("loss", TrainConfig.loss), **chosen.model, **(model or {})}
    model_config = ModelConfig.from_dict(model_values)
    values.setdefault("pdc_depths", stages_for((model_config.H_cycles, model_config.L_cycles)))
    return model_config, TrainConfig.from_dict(values)


def describe(name: str) -> str:
    """What a recipe sets, as `field value` pairs: every field any recipe sets, so recipes compare."""
    return ", ".join(f"{key} {value}" for key, value in _values(name).items())


def by_recipe(key: str) -> str:
    """A field's value under each recipe, for a flag's help: "trm 0.0001, fast 0.0001, cpu 0.001"."""
    return ", ".join(f"{name} {_value(_field(name, key))}" for name in RECIPES)


def _field(name: str, key: str) -> Any:
    model_config, train_config = configs(name)
    return getattr(model_config if key in ModelConfig.__dataclass_fields__ else train_config, key)


def _values(name: str) -> dict[str, str]:
    model_config, train_config = configs(name)
    fields = {key: model_config for r in RECIPES.values() for key in r.model}
    fields.update({key: train_config for r in RECIPES.values() for key in r.train})
    return {key: _value(getattr(config, key)) for key, config in fields.items()}


def _value(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
