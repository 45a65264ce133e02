"""Optimisers for the trainer: Adam-atan2 in plain torch, AdamW, and Muon with AdamW.

Adam-atan2 (Everett et al., "Scaling Exponents Across Parameterizations and Optimizers") replaces
Adam's m / (sqrt(v) + eps) by atan2(m, sqrt(v)): bounded, scale-invariant, and no epsilon to tune.
The TRM recipe uses it with decoupled weight decay 1.0. The PyPI package needs a CUDA build; this
version runs anywhere torch does, with the same update rule:
    p <- p * (1 - lr * wd)
    m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
    p <- p - lr * atan2(m / (1 - beta1^t), sqrt(v / (1 - beta2^t)))

Muon ("Speed is Confidence"'s recipe): torch.optim.Muon for the weight matrices inside the blocks,
AdamW for the rest (embeddings, puzzle embedding, heads, biases). Muon orthogonalises each matrix's
momentum with a few Newton-Schulz steps (in bf16) and scales the step by sqrt(max(1, rows / cols)),
so its learning rate is not an Adam one; it takes 2-D tensors only, and its weight decay is decoupled
(p *= 1 - lr * decay) like AdamW's. The two run as one `CombinedOptimizer`.

`training_optimizer` builds what the trainer steps; each of its parameter groups carries `base_lr`,
the rate the schedule (warm-up, cosine) scales.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Union

import torch
from torch import nn

from sudoku_trm.training.config import TrainConfig


class AdamAtan2(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.95),
        weight_decay: float = 0.0,
    ):
        if lr < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"invalid Adam-atan2 settings: lr={lr}, betas={betas}, weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            beta1, beta2 = group["betas"]
            lr, weight_decay = group["lr"], group["weight_decay"]
            for p in params:
                if not self.state[p]:
                    self.state[p]["step"] = 0
                    self.state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    self.state[p]["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states = [self.state[p] for p in params]
            for state in states:
                state["step"] += 1
            grads = [p.grad for p in params]
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]

            if weight_decay:
                torch._foreach_mul_(params, 1.0 - lr * weight_decay)
            torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)

            # Bias corrections per tensor: a parameter may have started receiving gradients later.
            numerators = torch._foreach_div(exp_avgs, [1.0 - beta1 ** s["step"] for s in states])
            denominators = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denominators, [math.sqrt(1.0 - beta2 ** s["step"]) for s in states])
            for numerator, denominator in zip(numerators, denominators):
                numerator.atan2_(denominator)  # no foreach atan2 in torch
            torch._foreach_add_(params, numerators, alpha=-lr)
        return loss


def build_optimizer(
    name: str, params, lr: float, betas: tuple[float, float], weight_decay: float
) -> torch.optim.Optimizer:
    """`adam_atan2` (the TRM recipe) or `adamw` (torch's fused/foreach AdamW, eps 1e-8) over `params`."""
    if name == "adam_atan2":
        return AdamAtan2(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose adam_atan2 or adamw")


class CombinedOptimizer:
    """Optimisers over disjoint parameter sets, stepped as one: `param_groups` lists every part's groups
    (the same dicts, so setting a group's lr reaches its optimiser), and the state dict is one per part,
    by name, so checkpoints and resume work as with a single optimiser."""

    def __init__(self, parts: dict[str, torch.optim.Optimizer]):
        self.parts = parts

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for part in self.parts.values() for group in part.param_groups]

    def step(self, closure=None) -> None:
        if closure is not None:
            raise ValueError("CombinedOptimizer.step takes no closure: it would run once per part")
        for part in self.parts.values():
            part.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts.values():
            part.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != set(self.parts):
            raise ValueError(f"optimiser state holds parts {sorted(state)}, this optimiser {sorted(self.parts)}")
        for name, part in self.parts.items():
            part.load_state_dict(state[name])


Optimizer = Union[torch.optim.Optimizer, CombinedOptimizer]


def muon_split(model: nn.Module) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
    """(Muon's, AdamW's) named parameters: Muon takes the 2-D weight matrices inside the blocks (the
    shared network `L_level`); AdamW every other tensor. The token and puzzle embeddings and the heads
    are 2-D too, but they are lookup tables and readouts, not the hidden maps Muon is made for."""
    muon, rest = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        inside_blocks = name.startswith("L_level.") and name.endswith(".weight") and param.ndim == 2
        (muon if inside_blocks else rest).append((name, param))
    return muon, rest


def training_optimizer(model: nn.Module, config: TrainConfig) -> Optimizer:
    """The trainer's optimiser for `config.optimizer`; every group's `base_lr` is its configured rate."""
    if config.optimizer == "muon":
        muon, rest = muon_split(model)
        optimizer: Optimizer = CombinedOptimizer(
            {
                "adamw": torch.optim.AdamW(
                    [p for _, p in rest], lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
                ),
                "muon": torch.optim.Muon(
                    [p for _, p in muon],
                    lr=config.muon_lr,
                    weight_decay=config.muon_weight_decay,
                    momentum=config.muon_momentum,
                    nesterov=True,
                    ns_steps=config.muon_ns_steps,
                    adjust_lr_fn="original",  # sqrt(max(1, rows / cols)), as "Speed is Confidence" scales it
                ),
            }
        )
    else:
        optimizer = build_optimizer(config.optimizer, model.parameters(), config.lr, config.betas, config.weight_decay)
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]
    return optimizer
