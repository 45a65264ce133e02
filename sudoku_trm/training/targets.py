"""Per-step targets: what each supervision step is asked for, from the rounds of our solver's logic.

With `targets = "logic"`, supervision step t (1-based) is scored on the cells logic has placed after
k(t) = rounds_per_step * t rounds (sudoku/logic.py): the givens, then the singles of the first rounds,
and so on. A cell logic reaches only later weighs `pending_weight` (0: not scored) towards the same
solution digit. A cell logic never places counts from the round after logic stalls, so once logic is
exhausted a step is asked for the whole solution, as with `targets = "solution"`. Every step therefore has
a target it can reach with a few hops of message passing, instead of only the final grid.

The halting head keeps its one target (the whole grid right), so halting means what it always meant.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sudoku_trm.model.tokens import from_tokens
from sudoku_trm.sudoku.logic import logic_rounds


def rounds_of(inputs: Tensor) -> Tensor:
    """Logic rounds (B, 81) int64 of a batch of token rows, on their device (computed on the CPU)."""
    grids = from_tokens(inputs).to("cpu", torch.uint8).numpy()
    rounds, _, _ = logic_rounds(grids)
    return torch.from_numpy(rounds.astype(np.int64)).to(inputs.device)


def cell_weights(rounds: Tensor, steps: Tensor, rounds_per_step: int, pending_weight: float) -> Tensor:
    """(B, 81) float weights of each cell's loss at each slot's supervision step `steps` (B,), 1-based."""
    reached = rounds <= (rounds_per_step * steps)[:, None]
    return torch.where(reached, 1.0, pending_weight)
