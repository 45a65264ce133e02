"""Check puzzle files with the exact solver: the work behind `sudoku-trm check`.

A puzzle is good when it parses, its givens do not conflict, it has exactly one solution and any answer
given with it is that solution. Every other case becomes an InputError naming file and line, and the
remaining puzzles are still checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sudoku_trm.errors import InputError
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.logic import levels
from sudoku_trm.sudoku.puzzles import Puzzle, format_line, read_puzzles

SEVERAL = 2  # search stops at this many solutions: enough to prove a puzzle is not unique


@dataclass
class PuzzleCheck:
    puzzle: Puzzle
    solutions: int  # 0, 1, or SEVERAL meaning "two or more"
    guesses: int
    solution: np.ndarray | None
    level: str | None = None  # a unique puzzle's level (sudoku/logic.py LEVELS): what solves it

    @property
    def verdict(self) -> str:
        return {0: "no solution", 1: "unique"}.get(self.solutions, "several solutions")

    def describe(self) -> str:
        givens = int(np.count_nonzero(self.puzzle.grid))
        text = f"{self.puzzle.file}:{self.puzzle.line}: {self.verdict}, {givens} givens, {self.guesses} guesses"
        if self.level is not None:
            text += f", level {self.level}"
        if self.solution is not None and self.solutions == 1:
            text += f"\n  {format_line(self.solution)}"
        return text

    def to_json(self) -> dict:
        return {
            "file": self.puzzle.file,
            "line": self.puzzle.line,
            "puzzle": format_line(self.puzzle.grid),
            "verdict": self.verdict,
            "solutions": self.solutions,
            "guesses": self.guesses,
            "level": self.level,
            "solution": format_line(self.solution) if self.solutions == 1 else None,
        }


@dataclass
class CheckReport:
    records: list[PuzzleCheck] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        unique = sum(r.solutions == 1 for r in self.records)
        return f"{count(len(self.records), 'puzzle')} checked: {unique} unique, {count(len(self.errors), 'problem')}"


def count(number: int, noun: str) -> str:
    """`1 puzzle`, `2 puzzles`, `0 problems`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def check_puzzles(puzzles: list[Puzzle]) -> tuple[list[PuzzleCheck], list[InputError]]:
    """Solve every puzzle exactly; problems (no or several solutions, a wrong answer) become errors."""
    if not puzzles:
        return [], []
    grids = np.stack([p.grid for p in puzzles])
    solutions, counts, guesses = solver.analyse_batch(grids, limit=SEVERAL)
    grades = levels(grids)
    records, errors = [], []
    for puzzle, solution, count, guess_count, level in zip(puzzles, solutions, counts, guesses, grades):
        count = int(count)
        records.append(
            PuzzleCheck(puzzle, count, int(guess_count), solution if count else None, level if count == 1 else None)
        )
        if count != 1:
            problem = "has no solution" if count == 0 else "has several solutions"
            errors.append(InputError(f"puzzle {problem}", puzzle.file, puzzle.line))
        elif puzzle.answer is not None and not np.array_equal(puzzle.answer, solution):
            errors.append(InputError("the listed answer is not the puzzle's solution", puzzle.file, puzzle.line))
    return records, errors


def check_files(paths: list[str], limit: int | None = None) -> CheckReport:
    """Read and check each file; a file that cannot be read is reported and the others still checked."""
    report = CheckReport()
    for path in paths:
        try:
            result = read_puzzles(path)
        except InputError as error:
            report.errors.append(error)
            continue
        records, errors = check_puzzles(result.puzzles[:limit])
        report.records.extend(records)
        report.errors.extend(sorted(result.errors + errors, key=lambda e: e.line or 0))
    return report
