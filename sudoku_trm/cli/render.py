"""How `solve`'s output looks: a grid, a refinement step and its status line, a final answer, the
one-line form, the summary and the legend. Rich renderables shared by the terminal, plain output and SVG.

Styles carry the meaning on a terminal (givens bold, cells changed since the last step highlighted,
low-confidence cells dimmed, rule-breaking cells red); off a terminal Rich drops the styles, so every
step also says in words which cells changed and how many are unsure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Group
from rich.text import Text

from sudoku_trm.sudoku.grid import cell_name
from sudoku_trm.sudoku.puzzles import Puzzle, format_line
from sudoku_trm.sudoku.verdict import Verdict

if TYPE_CHECKING:
    from sudoku_trm.inference.engine import Solutions

GIVEN = "bold"
ANSWER = "cyan"
CHANGED = "bold black on yellow"
UNSURE = "dim"
CONFLICT = "bold white on red"
LOW_CONFIDENCE = 0.5  # below this probability a cell is drawn dimmed and counted as unsure

_TOP, _MIDDLE, _BOTTOM = ("┌───────┬───────┬───────┐", "├───────┼───────┼───────┤", "└───────┴───────┴───────┘")


def cell_style(cell: int, puzzle, answer, confidence, previous, conflicts) -> str:
    if cell in conflicts:
        return CONFLICT
    if puzzle[cell]:
        return GIVEN
    if previous is not None and previous[cell] != answer[cell]:
        return CHANGED
    if confidence is not None and confidence[cell] < LOW_CONFIDENCE:
        return UNSURE
    return ANSWER


def grid_text(
    puzzle: np.ndarray,
    answer: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    conflicts: frozenset[int] = frozenset(),
) -> Text:
    """The boxed 9x9 grid of `answer` (default: the puzzle itself), styled cell by cell."""
    answer = puzzle if answer is None else answer
    text = Text(_TOP + "\n")
    for row in range(9):
        if row in (3, 6):
            text.append(_MIDDLE + "\n")
        text.append("│")
        for col in range(9):
            cell = row * 9 + col
            value = int(answer[cell])
            text.append(" ")
            text.append(str(value) if value else "·", cell_style(cell, puzzle, answer, confidence, previous, conflicts))
            if col in (2, 5):
                text.append(" │")
        text.append(" │\n")
    text.append(_BOTTOM)
    return text


def changed_cells(previous: np.ndarray | None, answer: np.ndarray) -> list[int]:
    if previous is None:
        return []
    return [int(c) for c in np.flatnonzero(previous != answer)]


def describe_cells(cells: list[int], shown: int = 6) -> str:
    names = ", ".join(cell_name(c) for c in cells[:shown])
    return names + (f" (+{len(cells) - shown})" if len(cells) > shown else "")


def step_status(
    step: int,
    limit: int,
    depth: tuple[int, int],
    halt_probability: float,
    decision: str,
    changed: list[int],
    unsure: int,
) -> Text:
    """`step 3/16  depth (3,6)  halt p=0.12 -> continue  changed 4: r1c3, ...  unsure 7`."""
    text = Text(f"step {step}/{limit}  depth ({depth[0]},{depth[1]})  halt p={halt_probability:.2f} -> ")
    text.append(decision, "bold green" if decision == "halt" else "bold yellow" if decision == "continue" else "bold")
    text.append(f"  changed {len(changed)}" + (f": {describe_cells(changed)}" if changed else ""))
    text.append(f"  unsure {unsure}", UNSURE if unsure else "")
    return text


def step_frame(
    title: str,
    puzzle: np.ndarray,
    answer: np.ndarray,
    confidence: np.ndarray,
    previous: np.ndarray | None,
    status: Text,
) -> Group:
    return Group(Text(title, "bold"), grid_text(puzzle, answer, confidence, previous), status)


def legend() -> Text:
    text = Text("given", GIVEN)
    for label, style in (("answer", ANSWER), ("changed", CHANGED), ("unsure", UNSURE), ("breaks a rule", CONFLICT)):
        text.append("  ")
        text.append(label, style)
    return text


def unsure_count(puzzle: np.ndarray, confidence: np.ndarray) -> int:
    return int(((puzzle == 0) & (confidence < LOW_CONFIDENCE)).sum())


# -- one solved puzzle ----------------------------------------------------------------------------


@dataclass
class Solved:
    """One puzzle's outcome, ready to draw: row `index` of the batch's `solutions`, judged by `verdict`."""

    puzzle: Puzzle
    solutions: Solutions
    index: int
    verdict: Verdict
    agreeing: int | None = None  # with --votes: copies that gave this answer
    votes: int = 1

    @property
    def answer(self) -> np.ndarray:
        return self.solutions.answers[self.index]

    @property
    def steps(self) -> int:
        return int(self.solutions.steps[self.index])


@dataclass(frozen=True)
class Step:
    """One refinement step drawn; its status line is kept apart too (the animation leaves the last one on screen)."""

    frame: Group
    status: Text


def title(puzzle: Puzzle) -> str:
    return f"{puzzle.file}:{puzzle.line}" + (f"  ({puzzle.source})" if puzzle.source else "")


def decision(result: Solved, step: int) -> str:
    """What the halting head decided after `step` (1-based)."""
    if step < result.steps:
        return "continue"
    return "halt" if result.solutions.halted[result.index] else "step limit"


def steps(result: Solved, depth: tuple[int, int]) -> list[Step]:
    """Every refinement step of `result`, from the first to the answer."""
    solutions, i, puzzle = result.solutions, result.index, result.puzzle.grid
    limit = solutions.halt_probabilities.shape[1]
    drawn, previous = [], None
    for step in range(1, result.steps + 1):
        answer = solutions.trace_answers[i, step - 1]
        confidence = solutions.trace_confidence[i, step - 1].astype(np.float32)
        status = step_status(
            step,
            limit,
            depth,
            float(solutions.halt_probabilities[i, step - 1]),
            decision(result, step),
            changed_cells(previous, answer),
            unsure_count(puzzle, confidence),
        )
        drawn.append(Step(step_frame(title(result.puzzle), puzzle, answer, confidence, previous, status), status))
        previous = answer
    return drawn


def final_answer(result: Solved, seconds: float) -> Group:
    """Title, the answer's grid (rule-breaking cells marked), how it ended, and the verdict."""
    i, verdict = result.index, result.verdict
    how = "halted by the model" if result.solutions.halted[i] else "step limit reached"
    line = Text(f"{result.steps} step{'s' if result.steps != 1 else ''} ({how}), {seconds * 1000:.0f} ms")
    if result.agreeing is not None:
        line.append(f", {result.agreeing} of {result.votes} symmetric copies agree")
    verdict_text = Text(
        "valid solution" if verdict.valid else "breaks the rules", "bold green" if verdict.valid else "bold red"
    )
    verdict_text = Text.assemble(verdict_text, Text(verdict.summary[len(verdict_text.plain) :]))
    grid = grid_text(
        result.puzzle.grid, result.answer, result.solutions.confidence[i], conflicts=verdict.conflict_cells
    )
    return Group(Text(title(result.puzzle), "bold"), grid, line, verdict_text)


def answer_line(result: Solved) -> str:
    """The one-line form, for many puzzles: where, the answer, steps and the verdict."""
    return (
        f"{result.puzzle.file}:{result.puzzle.line}  {format_line(result.answer)}  "
        f"{result.steps} steps  {result.verdict.summary}"
    )


def summary(results: list[Solved], solutions: Solutions, votes: int) -> str:
    """One line over all puzzles solved together in `solutions`."""
    valid = sum(r.verdict.valid for r in results)
    rate = len(results) / solutions.seconds if solutions.seconds > 0 else float("inf")
    text = (
        f"{len(results)} puzzles: {valid} valid, {len(results) - valid} break the rules; "
        f"mean {float(solutions.steps.mean()):.1f} steps; {rate:,.1f} puzzles/s"
    )
    return text + (f" ({votes} votes each)" if votes > 1 else "")
