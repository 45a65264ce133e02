"""How the model's outputs are read: stable-max probabilities, the digits they pick, and the halting rule.

Stable-max (Prieto et al., "Grokking at the Edge of Numerical Stability") replaces exp in softmax by
s(x) = x + 1 for x >= 0 and 1 / (1 - x) below: it grows linearly, so logits cannot run away once a
puzzle is fitted. The model is trained with it (training/losses.py), so inference reads its
probabilities the same way.
"""

from __future__ import annotations

import torch

from sudoku_trm.model.tokens import DIGIT_TOKENS


def log_stablemax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    # Clamp inside the unused branch: torch.where differentiates both, and 1 / (1 - x) has an infinite
    # slope at x = 1, which would turn the masked-out zero gradient into NaN.
    s = torch.where(logits >= 0, logits + 1, 1 / (1 - logits.clamp(max=0)))
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def digit_probabilities(logits: torch.Tensor, readout: str = "stablemax") -> torch.Tensor:
    """(B, 81, vocab) logits -> (B, 81, 9) probabilities of the digits 1..9.

    Over the digit tokens only (pad and blank are never an answer), by the function the model was trained
    with (ModelConfig.readout): stable-max, or softmax. Read one way, a model trained the other reports
    probabilities that mean little: a softmax logit gap of 5 is p = 0.95, stable-max reads it as 0.4.
    """
    digits = logits[..., DIGIT_TOKENS].float()
    if readout == "softmax":
        return torch.softmax(digits, dim=-1)
    return log_stablemax(digits).exp()


def best_digits(logits: torch.Tensor, readout: str = "stablemax") -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 81, vocab) logits -> (probability, digit 1..9) of the most probable digit of every cell."""
    probability, index = digit_probabilities(logits, readout).max(-1)
    return probability, index + 1  # DIGIT_TOKENS lists the digits 1..9 in order


def says_halt(halt_logit: torch.Tensor) -> torch.Tensor:
    """The halting rule, in training and inference alike: stop when the head's logit is positive,
    i.e. its probability passes one half."""
    return halt_logit > 0


HALT_PROBABILITY = 0.5  # says_halt on probabilities (sigmoid(0) = 0.5), for answers stored as probabilities
