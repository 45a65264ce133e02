"""One-guess probes: the children of a stalled search node, one per legal (cell, digit), in the order worth trying.

Forum-hardest puzzles are hard only at their start: the model solves 1% of them as posed, 9% with one cell of
the solution given and 97% with five (benchmarks/results/revealed.md). So where logic and the model stall, a
search does better to try many single guesses side by side, each run briefly by the model, than to follow one
guess deep. A child is the node with one guess, pushed by logic (`solver.propagate`); children logic proves
dead are dropped, as trying them needs no model. The rest are ordered by logic's reach: the child with the
fewest blanks left first (a right guess tends to unlock more), ties broken by the model's probability of the
guessed digit at the node, then by cell and digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import BLANK


@dataclass(frozen=True)
class Child:
    """One guess at a node: `digit` (1..9) in `cell`, and the grid logic makes of it."""

    cell: int
    digit: int
    grid: np.ndarray  # (81,) uint8: the node with the guess, pushed by logic when the search uses it


def one_guess_children(
    node: np.ndarray, legal: np.ndarray, probabilities: np.ndarray, logic: bool = True
) -> list[Child]:
    """The live children of `node` (a grid with blanks), one per `legal` (81, 9) digit of a blank cell, ordered
    by reach; `probabilities` (81, 9) are the model's at the node. Without `logic`, a child is the node and its
    guess, unpushed, and the order is the model's alone."""
    ranked = []
    for cell in np.flatnonzero(node == BLANK):
        for index in np.flatnonzero(legal[cell]):
            grid = node.copy()
            grid[cell] = index + 1
            if logic:
                pushed = solver.propagate(grid)
                if pushed is None:
                    continue
                grid = pushed[0]
            blanks_left = int((grid == BLANK).sum()) if logic else 0
            ranked.append((blanks_left, -float(probabilities[cell, index]), int(cell), int(index) + 1, grid))
    ranked.sort(key=lambda entry: entry[:4])
    return [Child(cell, digit, grid) for _, _, cell, digit, grid in ranked]
