"""Optimisers for the trainer: Adam-atan2 in plain torch, and AdamW.

Adam-atan2 (Everett et al., "Scaling Exponents Across Parameterizations and Optimizers") replaces
Adam's m / (sqrt(v) + eps) by atan2(m, sqrt(v)): bounded, scale-invariant, and no epsilon to tune.
The TRM recipe uses it with decoupled weight decay 1.0. The PyPI package needs a CUDA build; this
version runs anywhere torch does, with the same update rule:
    p <- p * (1 - lr * wd)
    m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
    p <- p - lr * atan2(m / (1 - beta1^t), sqrt(v / (1 - beta2^t)))
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


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
    """`adam_atan2` (the TRM recipe) or `adamw` (torch's fused/foreach AdamW, eps 1e-8)."""
    if name == "adam_atan2":
        return AdamAtan2(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose adam_atan2 or adamw")
