"""The deep-supervision loss of one supervision step: stable-max cross-entropy plus halting BCE.

Stable-max (model/readout.py) grows linearly instead of exponentially, so logits cannot run away once
a puzzle is fitted, which TRM found to help on small data. Computed in float64, as the logits are few.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sudoku_trm.model.readout import log_stablemax


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-cell loss: logits (..., vocab), integer labels (...)."""
    log_probs = log_stablemax(logits.to(torch.float64))
    return -log_probs.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)


@dataclass
class StepLoss:
    total: torch.Tensor  # scalar to backpropagate
    cell_correct: torch.Tensor  # (B, 81) bool
    grid_correct: torch.Tensor  # (B,) bool: the halting head's target


def supervision_loss(
    logits: torch.Tensor,
    halt_logit: torch.Tensor,
    labels: torch.Tensor,
    sample_weights: torch.Tensor,
    halt_loss_weight: float,
) -> StepLoss:
    """Mean over puzzles of weight * (mean cell cross-entropy + halt_loss_weight * BCE(halt, grid correct)).

    `sample_weights` (B,) carries hierarchical supervision weighting (ones without it).
    """
    with torch.no_grad():
        cell_correct = logits.argmax(-1) == labels
        grid_correct = cell_correct.all(-1)
    cell_loss = stablemax_cross_entropy(logits, labels).mean(-1)
    halt_loss = F.binary_cross_entropy_with_logits(halt_logit.float(), grid_correct.float(), reduction="none")
    per_puzzle = cell_loss.float() + halt_loss_weight * halt_loss
    total = (sample_weights * per_puzzle).mean()
    return StepLoss(total, cell_correct, grid_correct)
