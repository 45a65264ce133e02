"""How `solve`'s output looks: a grid, a refinement step and its status line, a final answer, the
one-line form, the summary, the legend and the SVG sheet. Rich renderables shared by the live view,
plain output and SVG.

Styles carry the meaning on a terminal (givens bold, cells changed since the last frame highlighted,
low-confidence cells dimmed, rule-breaking cells red). Plain text (a pipe, a file) has no styles, so
there a given is written in brackets, `[5]`, and every step says in words which cells changed and how
many are unsure.

A frame is one picture of the refinement: step 0 is the puzzle as posed; step k the answer after the
model's k-th supervision step, its halting probability and the decision taken on it; with passes, the
answer after each recursion pass inside a step (no halting decision is taken there). The status line
counts steps against the step limit, never against the steps a run happened to take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sudoku_trm.inference.found import COMMIT_DECODING, EXACT_SOLVER, GUIDED_SEARCH, MODEL_ALONE
from sudoku_trm.sudoku.grid import cell_name
from sudoku_trm.sudoku.puzzles import Puzzle, format_line
from sudoku_trm.sudoku.verdict import Verdict

if TYPE_CHECKING:
    from sudoku_trm.inference.adaptive import AdaptiveSolutions
    from sudoku_trm.inference.engine import Solutions
    from sudoku_trm.inference.search import SearchSolutions

GIVEN = "bold"
ANSWER = "cyan"
CHANGED = "bold black on yellow"
UNSURE = "dim"
CONFLICT = "bold white on red"
LOW_CONFIDENCE = 0.5  # below this probability a cell is drawn dimmed and counted as unsure

_BORDERS = ("┌───────┬───────┬───────┐", "├───────┼───────┼───────┤", "└───────┴───────┴───────┘")
# Plain text: three characters a cell, so a given can be bracketed, `[5]`, and the model's digit is ` 5 `.
_PLAIN_BORDERS = (
    "┌─────────┬─────────┬─────────┐",
    "├─────────┼─────────┼─────────┤",
    "└─────────┴─────────┴─────────┘",
)

# Decisions a status line can show.
CONTINUE, HALT, STEP_LIMIT = "continue", "halt", "step limit"
HALT_IGNORED, FIXED_DONE = "halt ignored (--steps)", "done (--steps)"
VALID_DONE, CHAIN_ENDS = "valid answer: done", "chain ends"  # adaptive solving


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
    plain: bool = False,
) -> Text:
    """The boxed 9x9 grid of `answer` (default: the puzzle itself), styled cell by cell; `plain`
    brackets the givens instead, for text without styles."""
    answer = puzzle if answer is None else answer
    top, middle, bottom = _PLAIN_BORDERS if plain else _BORDERS
    pieces: list[tuple[str, str]] = [(top + "\n", "")]
    for row in range(9):
        if row in (3, 6):
            pieces.append((middle + "\n", ""))
        pieces.append(("│", ""))
        for col in range(9):
            cell = row * 9 + col
            value = int(answer[cell])
            digit = str(value) if value else "·"
            style = cell_style(cell, puzzle, answer, confidence, previous, conflicts)
            if plain:
                pieces.append((f"[{digit}]" if puzzle[cell] else f" {digit} ", style))
                pieces.append(("│" if col in (2, 5, 8) else "", ""))
            elif style in _BACKGROUNDS:  # the marked box is the digit alone
                pieces += [(" ", ""), (digit, style)]
            else:  # a space in the digit's colour looks the same, and lets equal neighbours form one run
                pieces.append((" " + digit, style))
            if not plain and col in (2, 5, 8):
                pieces.append((" │", ""))
        pieces.append(("\n", ""))
    pieces.append((bottom, ""))
    text = Text()
    for piece, style in _runs(pieces):
        text.append(piece, style or None)
    return text


_BACKGROUNDS = (CHANGED, CONFLICT)


def _runs(pieces: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent pieces of one style joined: fewer segments, and a much smaller SVG (one element a segment)."""
    runs: list[tuple[str, str]] = []
    for piece, style in pieces:
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + piece, style)
        elif piece:
            runs.append((piece, style))
    return runs


def changed_cells(previous: np.ndarray | None, answer: np.ndarray) -> list[int]:
    if previous is None:
        return []
    return [int(c) for c in np.flatnonzero(previous != answer)]


def describe_cells(cells: list[int], shown: int = 6) -> str:
    names = ", ".join(cell_name(c) for c in cells[:shown])
    return names + (f" (+{len(cells) - shown})" if len(cells) > shown else "")


def unsure_count(puzzle: np.ndarray, confidence: np.ndarray) -> int:
    return int(((puzzle == 0) & (confidence < LOW_CONFIDENCE)).sum())


def decision(halts: bool, stops: bool, fixed: bool) -> str:
    """What happens after a step: the head's call, or with a fixed count (--steps) that the run goes on."""
    if fixed:
        return FIXED_DONE if stops else HALT_IGNORED if halts else CONTINUE
    if stops:
        return HALT if halts else STEP_LIMIT
    return CONTINUE


def _decision_style(text: str) -> str:
    return "bold green" if text in (HALT, VALID_DONE) else "bold yellow" if text == CONTINUE else "bold"


# -- frames ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One picture of the refinement, before it is drawn: what the grid shows and what its status says."""

    puzzle: np.ndarray
    answer: np.ndarray
    confidence: np.ndarray | None
    previous: np.ndarray | None  # the answer of the frame before (None at step 0)
    step: int  # 0: the puzzle as posed
    limit: int | None  # None: not known yet (the model is loading)
    depth: tuple[int, int] | None = None
    halt_probability: float | None = None  # None for step 0 and for passes
    decision: str | None = None
    pass_number: int | None = None  # a recursion pass inside `step`
    passes: int | None = None
    note: str = ""  # what is going on meanwhile ("loading the model", "thinking")
    chain: str = ""  # adaptive solving: the chain shown, when not the puzzle's own ("copy 3 of 8")
    beyond: str = ""  # adaptive solving: why the own chain runs on ("beyond training")
    move: str = ""  # commit decoding and search: what was done between model runs ("guess r3c5 = 7")
    last_of_run: bool = False  # a model run whose earlier steps were not drawn: its step count is said whole

    @property
    def changed(self) -> list[int]:
        return changed_cells(self.previous, self.answer)

    @property
    def unsure(self) -> int:
        return 0 if self.confidence is None else unsure_count(self.puzzle, self.confidence)

    def where(self) -> str:
        """`step 3/16`, `step 3/16 pass 1/3`, `copy 3 of 8, step 5/16`, `step 23/32 (beyond training)`;
        `step 0` while the limit is unknown; `call 3, search depth 2: ran 5/16 steps` for a run drawn only
        at its last step (it ran 5 steps of at most 16: not a step of an animation the user missed), and
        the run alone (`call 3, search depth 2`) for a move between runs."""
        if self.move and self.chain:  # a move between runs: no model step is drawn, so none is named
            return self.chain
        if self.last_of_run:
            return f"{self.chain}: ran {self.step}/{self.limit} step{'s' if self.step != 1 else ''}"
        text = f"step {self.step}" + (f"/{self.limit}" if self.limit is not None else "")
        if self.pass_number is not None:
            text += f" pass {self.pass_number}/{self.passes}"
        if self.chain:
            text = f"{self.chain}, {text}"
        if self.beyond:
            text += f" ({self.beyond})"
        return text

    def status(self) -> Text:
        """`step 3/16  recursion (3,6)  halt p=0.12 -> continue  changed 4: r1c3, ...  unsure 7`: the
        recursion is the model's (H_cycles, L_cycles), not guided search's depth (choices in force)."""
        text = Text(self.where())
        if self.depth is not None:
            text.append(f"  {recursion(self.depth)}")
        if self.move:
            text.append("  ")
            text.append(self.move, "bold magenta")
        elif self.step == 0:
            text.append(f"  the puzzle as posed, {int((self.puzzle == 0).sum())} blanks")
        elif self.pass_number is not None:
            text.append("  inside the step: no halting call yet")
        else:
            text.append(f"  halt p={self.halt_probability:.2f} -> ")
            text.append(self.decision, _decision_style(self.decision))
        if self.step or self.move:
            changed = self.changed
            text.append(f"  changed {len(changed)}" + (f": {describe_cells(changed)}" if changed else ""))
            text.append(f"  unsure {self.unsure}", UNSURE if self.unsure else "")
        if self.note:
            text.append(f"  {self.note}", "italic")
        return text

    def caption(self) -> Text:
        """Two short lines under a small grid (the SVG sheet)."""
        if self.step == 0:
            first, second = Text(f"{self.where()} as posed"), f"{int((self.puzzle == 0).sum())} blanks"
        else:
            first = Text(self.where())
            if self.pass_number is None:
                first.append(f" p={self.halt_probability:.2f} ")
                first.append(self.decision, _decision_style(self.decision))
            second = f"changed {len(self.changed)}, unsure {self.unsure}"
        return Text.assemble(first, "\n", second)

    def grid(self, plain: bool = False) -> Text:
        return grid_text(self.puzzle, self.answer, self.confidence, self.previous, plain=plain)

    def render(self, title: str, plain: bool = False) -> Group:
        return Group(Text(title, "bold"), self.grid(plain), self.status())


def recursion(depth: tuple[int, int]) -> str:
    """`recursion (3,6)`: the model's H_cycles and L_cycles, named apart from guided search's depth."""
    return f"recursion ({depth[0]},{depth[1]})"


def posed(puzzle: np.ndarray, limit: int | None, depth: tuple[int, int] | None, note: str = "") -> Frame:
    """Frame 0: the puzzle as posed."""
    return Frame(puzzle, puzzle, None, None, 0, limit, depth, note=note)


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
    fixed: bool = False  # --steps: a fixed count ran, whatever the halting head said
    adaptive: AdaptiveSolutions | None = None  # adaptive solving's outcome for the batch (row `index`)
    searched: SearchSolutions | None = None  # guided search's outcome for the batch (row `index`)
    found_by: str | None = None  # who found the answer (inference/found.py; SolvedBatch.found_by)

    @property
    def found(self) -> str | None:
        """Adaptive solving: which chain found the answer ("symmetric copy 3 at step 5"); search: who and how."""
        if self.searched is not None:
            return self.searched.note(self.index)
        return None if self.adaptive is None else self.adaptive.found_by(self.index)

    @property
    def answer(self) -> np.ndarray:
        return self.solutions.answers[self.index]

    @property
    def steps(self) -> int:
        return int(self.solutions.steps[self.index])

    @property
    def halted(self) -> bool:
        return bool(self.solutions.halted[self.index])

    @property
    def limit(self) -> int:
        return self.solutions.step_limit or self.solutions.halt_probabilities.shape[1]

    def how(self) -> str:
        if self.found is not None:
            return self.found
        if self.fixed:
            return "the fixed count of --steps ran"
        return "halted by the model" if self.halted else "step limit reached"


def title(puzzle: Puzzle) -> str:
    return f"{puzzle.file}:{puzzle.line}" + (f"  ({puzzle.source})" if puzzle.source else "")


def frames(result: Solved, depth: tuple[int, int]) -> list[Frame]:
    """Every frame of a traced `result`: the puzzle as posed, then each step (and each pass, if recorded)."""
    solutions, i, puzzle = result.solutions, result.index, result.puzzle.grid
    limit = result.limit
    drawn = [posed(puzzle, limit, depth)]
    previous = puzzle
    for step in range(1, result.steps + 1):
        if solutions.pass_answers is not None:
            for number in range(1, solutions.pass_answers.shape[2] + 1):
                answer = solutions.pass_answers[i, step - 1, number - 1]
                confidence = solutions.pass_confidence[i, step - 1, number - 1].astype(np.float32)
                passes = solutions.pass_answers.shape[2] + 1
                frame = Frame(puzzle, answer, confidence, previous, step, limit, depth, None, None, number, passes)
                drawn.append(frame)
                previous = answer
        answer = solutions.trace_answers[i, step - 1]
        confidence = solutions.trace_confidence[i, step - 1].astype(np.float32)
        probability = float(solutions.halt_probabilities[i, step - 1])
        last = step == result.steps
        said = decision(probability > 0.5, last, result.fixed)
        drawn.append(Frame(puzzle, answer, confidence, previous, step, limit, depth, probability, said))
        previous = answer
    return drawn


@dataclass(frozen=True)
class Timing:
    """A puzzle's model time. Puzzles solved together share one batch, whose time is not split by puzzle:
    each is shown its share (the batch's time / the batch's puzzles), said to be one, never as its own."""

    batch_seconds: float
    batch: int = 1  # puzzles solved together in that time

    @property
    def seconds(self) -> float:
        return self.batch_seconds / self.batch

    def describe(self) -> str:
        """`151 ms`, or for a puzzle solved in a batch `151 ms (1/6 of a 0.9 s batch)`."""
        own = f"{self.seconds * 1000:.0f} ms"
        return own if self.batch == 1 else f"{own} (1/{self.batch} of a {self.batch_seconds:.1f} s batch)"

    def record(self) -> dict:
        """For solve's --json: `seconds` is the puzzle's own time, or its share of the batch's."""
        seconds, batch = round(self.seconds, 6), round(self.batch_seconds, 6)
        return {"seconds": seconds, "batch_puzzles": self.batch, "batch_seconds": batch}


def outcome_line(result: Solved, timing: Timing) -> Text:
    steps = f"{result.steps} {'model ' if result.found is not None else ''}step{'s' if result.steps != 1 else ''}"
    line = Text(f"{steps} ({result.how()}), {timing.describe()}")
    if result.agreeing is not None:
        line.append(f", {result.agreeing} of {result.votes} symmetric copies agree")
    return line


def verdict_text(verdict: Verdict) -> Text:
    head = Text(
        "valid solution" if verdict.valid else "breaks the rules", "bold green" if verdict.valid else "bold red"
    )
    return Text.assemble(head, Text(verdict.summary[len(head.plain) :]))


def final_answer(result: Solved, timing: Timing, plain: bool = False) -> Group:
    """Title, the answer's grid (rule-breaking cells marked), how it ended, and the verdict."""
    grid = grid_text(
        result.puzzle.grid,
        result.answer,
        result.solutions.confidence[result.index],
        conflicts=result.verdict.conflict_cells,
        plain=plain,
    )
    return Group(Text(title(result.puzzle), "bold"), grid, outcome_line(result, timing), verdict_text(result.verdict))


def answer_line(result: Solved) -> str:
    """The one-line form, for many puzzles: where, the answer, steps and the verdict."""
    return (
        f"{result.puzzle.file}:{result.puzzle.line}  {format_line(result.answer)}  "
        f"{result.steps} steps  {result.verdict.summary}"
    )


def search_summary(results: list[Solved]) -> str:
    """`12 valid: 9 by the model alone, 2 by guided search with 5 guesses, 1 finished by the exact solver`."""
    valid = [r for r in results if r.verdict.valid and r.searched is not None]
    found = [r.found_by for r in valid]
    guesses = sum(int(r.searched.guesses[r.index]) for r in valid if r.found_by == GUIDED_SEARCH)
    parts = []
    for name, words in (
        (MODEL_ALONE, "by the model alone"),
        (COMMIT_DECODING, "by commit decoding"),
        (GUIDED_SEARCH, f"by guided search with {guesses} guess{'es' if guesses != 1 else ''}"),
        (EXACT_SOLVER, "finished by the exact solver"),
    ):
        if found.count(name):
            parts.append(f"{found.count(name)} {words}")
    return f"{sum(r.verdict.valid for r in results)} valid" + (": " + ", ".join(parts) if parts else "")


def summary(results: list[Solved], solutions: Solutions, votes: int, left_out: str = "") -> str:
    """One line over all puzzles solved together in `solutions`; `left_out` counts the lines that were not
    solved (`3 bad lines`: bad_lines.count_left_out), so that the summary accounts for every line read."""
    skipped = f"; {left_out} skipped" if left_out else ""
    valid = sum(r.verdict.valid for r in results)
    rate = len(results) / solutions.seconds if solutions.seconds > 0 else float("inf")
    puzzles = f"{len(results)} puzzle{'s' if len(results) != 1 else ''}"
    broken = len(results) - valid
    adaptive = [r.found_by == MODEL_ALONE for r in results if r.adaptive is not None]
    alone = f" ({sum(adaptive)} by the model alone)" if adaptive else ""
    speed = _speed(solutions.seconds, rate)
    searched = [r for r in results if r.searched is not None]
    if searched:
        calls = float(np.mean([r.searched.calls[r.index] for r in searched]))
        breaks = f", {broken} break{'s' if broken == 1 else ''} the rules" if broken else ""
        return f"{search_summary(results)}{breaks}{skipped}; mean {calls:.1f} model calls; {speed}"
    text = (
        f"{puzzles}: {valid} valid{alone}, {broken} break{'s' if broken == 1 else ''} the rules{skipped}; "
        f"mean {float(solutions.steps.mean()):.1f} {'model ' if adaptive else ''}steps; {speed}"
    )
    return text + (f" ({votes} votes each)" if votes > 1 else "")


def _speed(seconds: float, rate: float) -> str:
    """What puzzles/s counts: the model's own work, not loading, reading or the live view's pace."""
    return f"{seconds:.1f} s of model work, {rate:,.1f} puzzles/s"


def legend(plain: bool = False) -> Text:
    if plain:
        return Text("[5] given, 5 the model's digit, · blank; changed and unsure cells are named under each step")
    text = Text()  # each label in its own style alone: a style of the whole text would mark them all
    text.append("given", GIVEN)
    for label, style in (("answer", ANSWER), ("changed", CHANGED), ("unsure", UNSURE), ("breaks a rule", CONFLICT)):
        text.append("  ")
        text.append(label, style)
    return text


# -- the SVG sheet --------------------------------------------------------------------------------


def _unchanged_runs(drawn: list[Frame]) -> list[list[Frame]]:
    """Frames grouped: each step that changes no cell joins the run before it, if that run is of steps."""
    runs: list[list[Frame]] = []
    for frame in drawn:
        still = frame.step > 0 and frame.pass_number is None and not frame.changed
        if still and runs and runs[-1][-1].step > 0 and runs[-1][-1].pass_number is None:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    return runs


SHEET_COLUMNS = 6  # small grids a row
SHEET_WIDTH = SHEET_COLUMNS * 31  # characters: each grid is 25 wide, its caption up to ~30


def sheet(result: Solved, depth: tuple[int, int], timing: Timing) -> Group:
    """One puzzle on a page: every frame as a small captioned grid, SHEET_COLUMNS a row, then the verdict.

    A run of steps that change no cell is one grid, captioned with the run and its halting probabilities
    (a model that settles early would otherwise fill the page with the same grid)."""
    table = Table.grid(padding=(0, 2, 1, 0))
    for _ in range(SHEET_COLUMNS):
        table.add_column(width=29, no_wrap=True)
    cells = []
    for run in _unchanged_runs(frames(result, depth)):
        first, last = run[0], run[-1]
        if len(run) == 1:
            cells.append(Group(first.grid(), first.caption()))
            continue
        low = min(f.halt_probability for f in run)
        high = max(f.halt_probability for f in run)
        caption = Text(f"steps {first.step}-{last.step}/{last.limit}: same grid\np={low:.2f}-{high:.2f} ")
        caption.append(last.decision, _decision_style(last.decision))
        cells.append(Group(first.grid(), caption))
    final = grid_text(
        result.puzzle.grid,
        result.answer,
        result.solutions.confidence[result.index],
        conflicts=result.verdict.conflict_cells,
    )
    cells.append(Group(final, Text("answer", "bold")))
    for start in range(0, len(cells), SHEET_COLUMNS):
        table.add_row(*cells[start : start + SHEET_COLUMNS])
    heading = Text(title(result.puzzle), "bold")
    heading.append(f"  {recursion(depth)}")
    return Group(heading, table, outcome_line(result, timing), verdict_text(result.verdict), Text())
