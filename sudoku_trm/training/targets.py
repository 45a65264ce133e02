"""Per-step targets: what each supervision step is asked for, from the rounds of our solver's logic.

With `targets = "logic"`, supervision step t (1-based) is scored on the cells logic has placed after
k(t) = rounds_per_step * t rounds (sudoku/logic.py): the givens, then the singles of the first rounds,
and so on. A cell logic reaches only later weighs `pending_weight` (0: not scored) towards the same
solution digit. A cell logic never places counts from the round after logic stalls, so once logic is
exhausted a step is asked for the whole solution, as with `targets = "solution"`. Every step therefore has
a target it can reach with a few hops of message passing, instead of only the final grid.

With `pending = "unknown"` a cell not reached yet is asked instead for an even spread over the nine digits,
"not known yet", weighing `pending_weight`, and a cell logic never places stays so at every step: the model
learns to be sure exactly of what logic has proved, which is what commit decoding trusts (inference/commit.py),
and leaves the rest to search.

The halting head keeps its one target (the whole grid right), so halting means what it always meant.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sudoku_trm.model.tokens import from_tokens
from sudoku_trm.sudoku.logic import logic_rounds

NEVER_REACHED = 10_000  # the round of a cell logic never places, with pending "unknown": no step reaches it


def rounds_of(inputs: Tensor, never_reached: bool = False) -> Tensor:
    """Logic rounds (B, 81) int64 of a batch of token rows, on their device (computed on the CPU). With
    `never_reached`, a cell logic never places gets NEVER_REACHED instead of the round after the stall."""
    grids = from_tokens(inputs).to("cpu", torch.uint8).numpy()
    rounds, solved, stall = logic_rounds(grids)
    rounds = rounds.astype(np.int64)
    if never_reached:
        rounds[~solved[:, None] & (rounds == stall[:, None] + 1)] = NEVER_REACHED
    return torch.from_numpy(rounds).to(inputs.device)


def reached(rounds: Tensor, steps: Tensor, rounds_per_step: int) -> Tensor:
    """(B, 81) bool: the cells logic has placed by each slot's supervision step `steps` (B,), 1-based."""
    return rounds <= (rounds_per_step * steps)[:, None]


def cell_weights(rounds: Tensor, steps: Tensor, rounds_per_step: int, pending_weight: float) -> Tensor:
    """(B, 81) float weights of each cell's loss at each slot's supervision step `steps` (B,), 1-based."""
    return torch.where(reached(rounds, steps, rounds_per_step), 1.0, pending_weight)
