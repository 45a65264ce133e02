"""Rounds of logic: when each cell of a puzzle becomes known to a solver that reasons step by step.

A round looks at the grid as it stands, finds every naked single (a blank with one candidate left) and
every hidden single (a digit with one place left in a row, column or box) and places them all at once;
box-line interactions (locked candidates) strike candidates between rounds, to a fixed point, and place
nothing themselves. `rounds[cell]` is 0 for a given and k for a cell placed in round k. A cell that logic
never places gets the round after the last one (`stall + 1`): there the only way on is the solution itself.

This is the teacher of the per-step training targets (training/targets.py): supervision step t is asked
for the cells known after k(t) rounds. The deductions are the exact solver's own kernels (sudoku/solver.py),
so `rounds` and `solver.analyse` can never disagree on what logic alone reaches.
"""

from __future__ import annotations

import numpy as np

from sudoku_trm.sudoku import kernels
from sudoku_trm.sudoku.grid import BLANK, CELLS, UNITS
from sudoku_trm.sudoku.kernels import kernel
from sudoku_trm.sudoku.solver import (
    ALL_DIGITS,
    LOWEST_DIGIT,
    MASK_OF_VALUE,
    PEERS,
    POPCOUNT,
    _as_grids,
    _locked_candidates,
)

NEVER = 255  # internal marker of a cell logic has not placed (yet)
ROUNDS_WORK = 2  # one puzzle's rounds cost about two propagations (kernels.py's budget of plain Python work)


@kernel
def _place(cand, value, cell, digit_bit):
    """Place one digit and strike it from the cell's peers. False on a contradiction."""
    cand[cell] = digit_bit
    value[cell] = LOWEST_DIGIT[digit_bit]
    for peer in PEERS[cell]:
        if cand[peer] & digit_bit:
            cand[peer] &= ~digit_bit
            if cand[peer] == 0:
                return False
    return True


@kernel
def _rounds(givens, rounds, locked):
    """Fill `rounds` (uint8[81]) for one puzzle; returns the last round that placed a cell (0 if none),
    or -1 when the givens contradict each other or logic runs into a contradiction. `locked`: use
    locked candidates (else singles only)."""
    cand = np.empty(CELLS, dtype=np.int32)
    value = np.zeros(CELLS, dtype=np.uint8)
    for cell in range(CELLS):
        rounds[cell] = NEVER
        cand[cell] = ALL_DIGITS
    for cell in range(CELLS):  # givens: placed before round 1
        if givens[cell] != BLANK:
            bit = MASK_OF_VALUE[givens[cell]]
            if cand[cell] & bit == 0 or not _place(cand, value, cell, bit):
                return -1
            rounds[cell] = 0
    found = np.empty(CELLS, dtype=np.int32)  # this round's placements, as digit bits per cell (0: none)
    last = 0
    round_number = 0
    while True:
        while locked:  # locked candidates to a fixed point: eliminations are free between rounds
            struck = _locked_candidates(cand)
            if struck < 0:
                return -1
            if struck == 0:
                break
        for cell in range(CELLS):  # naked singles, read off the grid as the round starts
            found[cell] = cand[cell] if value[cell] == BLANK and POPCOUNT[cand[cell]] == 1 else 0
        for u in range(UNITS.shape[0]):  # hidden singles, from the same starting grid
            seen = 0
            seen_twice = 0
            for cell in UNITS[u]:
                seen_twice |= seen & cand[cell]
                seen |= cand[cell]
            if seen != ALL_DIGITS:
                return -1
            for cell in UNITS[u]:
                only_here = cand[cell] & ~seen_twice
                if value[cell] == BLANK and only_here:
                    if POPCOUNT[only_here] > 1 or (found[cell] and found[cell] != only_here):
                        return -1
                    found[cell] = only_here
        round_number += 1
        placed = 0
        for cell in range(CELLS):
            if found[cell]:
                if value[cell] != BLANK or cand[cell] & found[cell] == 0:
                    return -1  # two singles of one round claim the same digit for peers
                if not _place(cand, value, cell, found[cell]):
                    return -1
                rounds[cell] = round_number
                placed += 1
        if placed == 0:
            return last
        last = round_number


@kernel
def _rounds_batch(grids, rounds, stalls, locked):
    for i in range(grids.shape[0]):
        stalls[i] = _rounds(grids[i], rounds[i], locked)


def logic_rounds(grids, locked: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For puzzles (N, 81): `rounds` (N, 81) uint8 (0 givens, k placed in round k, `stall + 1` never placed),
    `solved` (N,) bool (logic alone placed every cell) and `stall` (N,) int: the last round that placed a
    cell (-1 where the puzzle contradicts itself; its rounds are then meaningless). `locked=False`: naked
    and hidden singles only, without locked candidates (the "singles" level of sudoku/generate.py)."""
    grids = _as_grids(grids, single=False)
    rounds = np.empty_like(grids)
    stalls = np.zeros(len(grids), dtype=np.int64)
    kernels.use(ROUNDS_WORK * len(grids))
    _rounds_batch(grids, rounds, stalls, bool(locked))
    never = rounds == NEVER
    solved = ~never.any(axis=1) & (stalls >= 0)
    rounds = np.where(never, (np.maximum(stalls, 0) + 1)[:, None], rounds).astype(np.uint8)
    return rounds, solved, stalls


# Difficulty levels, named by what solves a unique puzzle (as qqwing names its own): naked and hidden
# singles alone; logic, where locked candidates are needed too; guesses, where logic stalls and only a
# search finishes.
LEVELS: tuple[str, ...] = ("singles", "logic", "guesses")


def levels(grids) -> list[str]:
    """The level (one of LEVELS) of each of (N, 81) puzzles, which should have exactly one solution
    (logic never solves a puzzle with several; one with none grades as `guesses`)."""
    singles = logic_rounds(grids, locked=False)[1]
    logic = logic_rounds(grids)[1]
    return [LEVELS[0] if s else LEVELS[1] if lg else LEVELS[2] for s, lg in zip(singles, logic)]
