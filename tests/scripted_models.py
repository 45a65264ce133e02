"""Scripted stand-ins for the TRM, shared by the commit-decoding and guided-search tests: models whose every
answer and confidence is known, so what the decoding does with them can be checked exactly."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import DIGIT_TOKENS, from_tokens
from sudoku_trm.model.trm import Carry
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import CELLS
from sudoku_trm.sudoku.logic import logic_rounds

SURE, UNSURE, WRONG = 30.0, 1.0, 1.5  # logits: p ~ 0.99 for a sure digit under stable-max, ~0.5 for an unsure one


class StandIn(nn.Module):
    """What every stand-in TRM shares: a tiny config with `horizon` steps, one parameter (so the engine finds
    a device), a zero carry, the `rule` its forward follows and a count of the rows it ran."""

    def __init__(self, rule, horizon: int):
        super().__init__()
        self.config = ModelConfig(hidden_size=8, halt_max_steps=horizon, puzzle_emb_len=1)
        self.weight = nn.Parameter(torch.zeros(1))
        self.rule = rule
        self.rows_run = 0

    def initial_carry(self, batch: int, device=None) -> Carry:
        shape = (batch, 2, self.config.hidden_size)
        return Carry(torch.zeros(shape), torch.zeros(shape))


class Scripted(StandIn):
    """A stand-in TRM: `rule(grids) -> (answers, sure)` for the (B, 81) grids it is shown (a puzzle with its
    commits and guesses); a sure cell gets a high logit on its digit; an unsure one a low logit on it and a
    slightly higher one on the next digit, so it reads as that wrong digit, unsure. It halts at once and counts
    the rows it ran: one row is one model call."""

    def __init__(self, rule):
        super().__init__(rule, horizon=2)

    def forward(self, carry: Carry, inputs: torch.Tensor):
        self.rows_run += len(inputs)
        answers, sure = self.rule(from_tokens(inputs).long())
        index = (answers + DIGIT_TOKENS.start - 1).unsqueeze(-1)
        logits = torch.full((len(inputs), CELLS, self.config.vocab_size), -SURE)  # stable-max needs the rest low
        logits.scatter_(2, index, torch.where(sure, SURE, UNSURE).unsqueeze(-1))
        runner_up = (answers % 9 + DIGIT_TOKENS.start).unsqueeze(-1)  # the next digit, as likely where unsure
        logits.scatter_(2, runner_up, torch.where(sure, -SURE, WRONG).unsqueeze(-1))
        return carry, logits, torch.full((len(inputs),), 10.0)


class Unhurried(Scripted):
    """`rule`'s answer every step, never halting: a call runs to its step limit unless it settles."""

    def __init__(self, rule, horizon: int):
        super().__init__(rule)
        self.config = type(self.config)(hidden_size=8, halt_max_steps=horizon, puzzle_emb_len=1)

    def forward(self, carry, inputs):
        carry, logits, _ = super().forward(carry, inputs)
        return carry, logits, torch.full((len(inputs),), -10.0)


def solved_or_ones(grid: np.ndarray) -> np.ndarray:
    """The grid's solution, or (a node with none) every blank filled with 1."""
    found = solver.solve(grid.astype(np.uint8))
    return found.astype(np.int64) if found is not None else np.where(grid > 0, grid, 1).astype(np.int64)


def always_right(grids: torch.Tensor):
    answers = torch.stack([torch.from_numpy(solved_or_ones(g.numpy())) for g in grids])
    return answers, torch.ones(grids.shape, dtype=torch.bool)


def first_wave(grids: torch.Tensor):
    """Right everywhere, but sure only of what one round of logic places: a model that sees one wave ahead."""
    answers, _ = always_right(grids)
    rounds, _, _ = logic_rounds(grids.numpy().astype(np.uint8))
    return answers, torch.from_numpy(rounds <= 1) & (grids == 0)


def drain(run):
    """Run a step generator (commit_steps, search_steps, adaptive_steps) to its end: (its events, its result)."""
    events = []
    while True:
        try:
            events.append(next(run))
        except StopIteration as done:
            return events, done.value
