"""How a grid and a refinement step look: Rich renderables shared by the terminal, plain output and SVG.

Styles carry the meaning on a terminal (givens bold, cells changed since the last step highlighted,
low-confidence cells dimmed, rule-breaking cells red); off a terminal Rich drops the styles, so every
step also says in words which cells changed and how many are unsure.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from sudoku_trm.sudoku.grid import cell_name

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


