"""Judge the model's answer with Sudoku's rules; the exact solver says what the puzzle itself allows.

The rules are the ground truth, not the model: an answer is a solution exactly when every row,
column and box holds 1..9 and every given is kept. The exact solver adds the puzzle's own status:
for a puzzle with several solutions any valid grid is right; one with none cannot be solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sudoku_trm.sudoku.grid import answer_problems, find_conflicts


@dataclass(frozen=True)
class Verdict:
    valid: bool
    problems: tuple[str, ...]  # why the answer is not a solution ("row 1 has two 8s (r1c1, r1c4)")
    conflict_cells: frozenset[int]  # cells to mark
    solutions: int  # the puzzle's own count from the exact solver: 1, or 2 meaning "several"
    correct: bool | None  # equals the puzzle's unique solution (None when it has several)
    wrong_cells: int | None  # blank cells that differ from the unique solution (None when several)

    @property
    def summary(self) -> str:
        if self.valid:
            return "valid solution" + (" (one of several)" if self.solutions > 1 else "")
        more = f" (+{len(self.problems) - 2} more)" if len(self.problems) > 2 else ""
        wrong = f"; {self.wrong_cells} cells differ from the solution" if self.wrong_cells else ""
        return "breaks the rules: " + "; ".join(self.problems[:2]) + more + wrong


def judge(
    puzzle: np.ndarray, answer: np.ndarray, solutions: int | None = None, solution: np.ndarray | None = None
) -> Verdict:
    """The verdict on `answer`; `solutions`/`solution` come from the exact solver's check of the puzzle,
    which runs here when they are not given."""
    if solutions is None:
        from sudoku_trm.sudoku.solver import analyse

        found = analyse(np.asarray(puzzle, dtype=np.uint8), limit=2)
        solutions, solution = found.count, found.solution
    problems = tuple(answer_problems(puzzle, answer))
    cells = frozenset(c for conflict in find_conflicts(answer) for c in conflict.cells)
    known = solutions == 1 and solution is not None
    correct = bool(np.array_equal(answer, solution)) if known else None
    wrong = int(np.count_nonzero(np.asarray(answer) != solution)) if known else None
    return Verdict(not problems, problems, cells, solutions, correct, wrong)
