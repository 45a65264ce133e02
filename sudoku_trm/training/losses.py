"""The deep-supervision loss of one supervision step: the cells' cross-entropy plus halting BCE.

The cells' cross-entropy is stable-max (TRM) or softmax ("Speed is Confidence"), optionally with label
smoothing. Stable-max (model/readout.py) grows linearly instead of exponentially, so logits cannot run
away once a puzzle is fitted, which TRM found to help on small data; computed in float64, as the logits
are few. Softmax with label smoothing bounds the logits another way: a smoothed target is never met by
an ever larger margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sudoku_trm.model.readout import log_stablemax
from sudoku_trm.model.tokens import DIGIT_TOKENS


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-cell loss: logits (..., vocab), integer labels (...)."""
    return cell_cross_entropy(logits, labels, "stablemax")


def cell_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, loss: str = "stablemax", label_smoothing: float = 0.0
) -> torch.Tensor:
    """Per-cell loss (...,) of logits (..., vocab) against integer labels (...): stable-max (float64) or
    softmax (float32). Label smoothing eps: (1 - eps) * -log p(label) + eps * mean over the vocabulary of
    -log p, as torch's cross_entropy defines it (there over softmax only)."""
    if loss == "stablemax":
        log_probs = log_stablemax(logits.to(torch.float64))
    elif loss == "softmax":
        log_probs = F.log_softmax(logits.float(), dim=-1)
    else:
        raise ValueError(f"loss must be stablemax or softmax, got {loss!r}")
    nll = -log_probs.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return nll


def spread_cross_entropy(logits: torch.Tensor, loss: str = "softmax") -> torch.Tensor:
    """Per-cell loss (...,) against an even spread over the nine digits: "not known yet". Its minimum puts
    1/9 on every digit and nothing on pad or blank."""
    log_probs = log_stablemax(logits.to(torch.float64)) if loss == "stablemax" else F.log_softmax(logits.float(), -1)
    return -log_probs[..., DIGIT_TOKENS].mean(-1)


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
    loss: str = "stablemax",
    label_smoothing: float = 0.0,
    cell_weights: torch.Tensor | None = None,
    unknown: torch.Tensor | None = None,
) -> StepLoss:
    """Mean over puzzles of weight * (mean cell cross-entropy + halt_loss_weight * BCE(halt, grid correct)).

    `sample_weights` (B,) carries hierarchical supervision weighting (ones without it); `loss` and
    `label_smoothing` choose the cells' cross-entropy (see `cell_cross_entropy`); `cell_weights` (B, 81),
    the per-step targets (training/targets.py), weigh each cell's term of the mean (None: all 1); the
    cells `unknown` (B, 81) marks are scored against an even spread over the nine digits instead of a label.
    """
    with torch.no_grad():
        cell_correct = logits.argmax(-1) == labels
        grid_correct = cell_correct.all(-1)
    cell_nll = cell_cross_entropy(logits, labels, loss, label_smoothing)
    if unknown is not None:
        cell_nll = torch.where(unknown, spread_cross_entropy(logits, loss).to(cell_nll.dtype), cell_nll)
    cell_loss = (cell_nll if cell_weights is None else cell_nll * cell_weights).mean(-1)
    halt_loss = F.binary_cross_entropy_with_logits(halt_logit.float(), grid_correct.float(), reduction="none")
    per_puzzle = cell_loss.float() + halt_loss_weight * halt_loss
    total = (sample_weights * per_puzzle).mean()
    return StepLoss(total, cell_correct, grid_correct)
