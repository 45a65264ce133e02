"""Guided search: commit decoding that branches when it stalls and backtracks when it was wrong, within a
budget of model calls, so that every puzzle with a solution gets a valid answer.

A node is a grid: the puzzle plus every digit committed or guessed on the way to it, pushed as far as the
exact solver's own logic goes (`solver.propagate`: naked and hidden singles, locked candidates), so the model
is asked only where logic stalls and never about a node logic proves dead (`logic=False` turns this off).
One model call runs the model on a node: the first, on the puzzle as posed, to its own halting step (the
model alone); later ones also stop once their answer stood unchanged for `settle` steps. Then:

- the answer passes the exact check: the puzzle is solved;
- else the cells the model is sure of (`commit.sure_cells`) become givens of a child node (a commit);
- else (a stall) the search branches on one blank cell, trying the digits logic leaves it in the model's
  order (most probable first). `branch="surest"` picks the cell whose best legal digit the model is surest
  of, `"fewest"` the cell with the fewest legal digits (ties: the surest).

With `probes` (what `solve` and `eval` use), a stall first runs the node's one-guess children side by side
(inference/probes.py), `probes` of them a call for at most `probe_steps` steps each, a puzzle's children stopping
together once one answer passes the exact check (that answer ends the puzzle); only when every child has run
without one does the search branch on one cell. Each child run counts as a guess.

A node where some blank cell has no legal digit left, or some unit a digit with no place, is a dead end:
the search undoes the latest choice (a backtrack). A failed commit set is tried again with its surer
half (a wrong commit among many is isolated in a few halvings, without a model call); a failed single
commit turns its node into a branch point on that cell, without the failed digit; undoing a guess tries
the next digit. The search is depth-first and complete: every alternative it drops is known to fail.

The budget counts model calls per puzzle; a time limit, if set, counts each puzzle's share of the model
time of every step it ran in, and stops a call at the step that spends it. A puzzle that has spent either
is finished by the exact solver from the puzzle as posed, so the hand-off never costs more guesses than the
exact solver alone: from the search's node, a wrong commit or guess in force made the exact search prove a
dead subtree first (273 guesses against 73 on forum-hardest puzzles); the puzzle itself always has a solution
when it is valid.
After a puzzle's last call (its budget or time spent) the search still commits and lets logic run, which
cost no guess, but makes no guess: a guess is there to set up the next call, so one that no call follows
would only add to the puzzle's guesses (a hard puzzle under `solve`'s time limit paid one).
Every final answer is judged by the exact check (`valid`), never assumed. Unfinished puzzles of every batch share the
model's batches, so one hard puzzle does not hold up the others' calls.

Counts per puzzle: model calls, model steps, cells committed by the model that stand in the answer (the
commits in force on the path to it: distinct cells, at most the puzzle's blanks; a commit later undone by
a backtrack is not counted, nor twice), guesses (digits tried at branch points), backtracks, the exact
solver's guesses when it finished, and who found the answer: the model alone (first call), commit
decoding (no guess), guided search (guesses), the exact solver (budget or time spent, or its logic alone
solved the puzzle the model failed), or nobody (the puzzle has no solution).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Generator

import numpy as np

from sudoku_trm.inference.commit import DEFAULT_THRESHOLD, sure_cells
from sudoku_trm.inference.engine import InferenceConfig, Pass, Solutions, Step, as_grids, finish, solve_steps
from sudoku_trm.inference.found import (
    COMMIT_DECODING,
    EXACT_SOLVER,
    GUIDED_SEARCH,
    MODEL_ALONE,
    NO_SOLUTION,
    SEARCH_FOUND,
)
from sudoku_trm.inference.probes import Child, one_guess_children
from sudoku_trm.model.trm import TRM
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import BLANK, CELLS, UNITS, cell_name, valid_solutions

DEFAULT_BUDGET = 16  # model calls per puzzle; see the README's search benchmark for how it was chosen
BRANCHES = ("surest", "fewest")

FOUND = SEARCH_FOUND  # who found each answer (inference/found.py holds the words)

# The three units of every cell, to test a digit against all of its peers at once.
_CELL_UNITS = np.array([[u for u in range(len(UNITS)) if c in UNITS[u]] for c in range(CELLS)], dtype=np.int64)


@dataclass(frozen=True)
class SearchConfig:
    budget: int = DEFAULT_BUDGET  # model calls per puzzle at most; then the exact solver finishes
    threshold: float = DEFAULT_THRESHOLD  # commit decoding's: a cell this sure becomes a given
    branch: str = "surest"  # which cell a stall branches on: "surest" or "fewest" (legal digits)
    logic: bool = True  # push every node as far as the exact solver's logic goes before the model sees it
    settle: int | None = 1  # calls after the first also stop once their answer stood this many steps
    time_limit: float | None = None  # seconds of model time per puzzle (its share of each step), even within a call
    warm: bool = False  # a later call starts from the state the puzzle's previous call ended in, not afresh
    # At a stall, run this many one-guess children of the node side by side in one call (inference/probes.py),
    # each for at most `probe_steps` steps, before branching on one cell; 0: branch at once (solve and eval
    # probe: settings.SEARCH_PROBES).
    probes: int = 0
    probe_steps: int = 4

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"the search budget must be at least 1 model call, got {self.budget}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"the commit threshold must lie in (0, 1], got {self.threshold}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"the time limit must be positive, got {self.time_limit}")
        if self.settle is not None and self.settle < 1:
            raise ValueError(f"settle must be at least 1 step, got {self.settle}")
        if self.probes < 0 or self.probe_steps < 1:
            raise ValueError(f"probes must be >= 0 and probe_steps >= 1, got {self.probes} and {self.probe_steps}")
        if self.branch not in BRANCHES:
            raise ValueError(f"branch must be one of {', '.join(BRANCHES)}, got {self.branch!r}")


def legal_digits(grids: np.ndarray) -> np.ndarray:
    """(N, 81) grids -> (N, 81, 9) bool: digit d+1 may go into blank cell c (no peer holds it)."""
    grids = np.asarray(grids).reshape(-1, CELLS)
    present = np.zeros((len(grids), CELLS, 10), dtype=bool)
    present[np.arange(len(grids))[:, None], np.arange(CELLS)[None, :], grids] = True
    in_unit = present[:, UNITS].any(2)  # (N, 27, 10)
    taken = in_unit[:, _CELL_UNITS].any(2)  # (N, 81, 10)
    return ~taken[..., 1:] & (grids == BLANK)[..., None]


def dead_ends(grids: np.ndarray) -> np.ndarray:
    """(N, 81) grids -> (N,) bool: the grid cannot be completed by the rules alone, because a blank cell
    has no legal digit or a unit has a digit missing that none of its blanks may take."""
    grids = np.asarray(grids).reshape(-1, CELLS)
    legal = legal_digits(grids)
    stuck_cell = ((grids == BLANK) & ~legal.any(2)).any(1)
    present = np.zeros((len(grids), CELLS, 10), dtype=bool)
    present[np.arange(len(grids))[:, None], np.arange(CELLS)[None, :], grids] = True
    placeable = present[:, UNITS, 1:].any(2) | legal[:, UNITS].any(2)  # (N, 27, 9)
    return stuck_cell | ~placeable.all((1, 2))


@dataclass(frozen=True)
class CallStep:
    """One engine event of a model call on the nodes of `rows` (indices into the whole batch of puzzles)."""

    call: int  # 1-based: the search's round of model calls (a puzzle's own count is in its Move events)
    rows: np.ndarray  # (R,) the puzzles whose nodes this engine run holds, in its row order
    grids: np.ndarray  # (R, 81) the nodes run: each puzzle with its commits and guesses in force
    event: Step | Pass
    probes: bool = False  # the run holds one-guess probes (several rows a puzzle), not the puzzles' nodes


@dataclass(frozen=True)
class Move:
    """What the search did to one puzzle after a call: commit, guess, backtrack, or how it ended."""

    row: int  # the puzzle, an index into the batch
    kind: str  # "commit", "retry" (the surer half of a failed commit set), "guess", "probe", "hit" (the probe whose
    # answer was valid), "logic", "backtrack", or the end
    grid: np.ndarray  # (81,) the node the puzzle stands on after the move (the answer once it ended)
    cells: np.ndarray  # (81,) bool: the cells the move set (commit, guess) or undid (backtrack)
    depth: int  # choices in force after the move (commit sets and guesses)
    calls: int  # the puzzle's model calls so far
    cell: int = -1  # a guess: the cell and digit tried
    digit: int = 0
    probes: int = 0  # a probe: the one-cell guesses it runs

    def describe(self) -> str:
        """`guess r3c5 = 7 (search depth 2)`, `committed 12 cells`, `backtrack: 3 cells undone`, ..."""
        count = int(self.cells.sum())
        if self.kind == "commit":
            return f"committed {count} cell{'s' if count != 1 else ''} (search depth {self.depth})"
        if self.kind == "retry":
            return f"retry the surer {count} of those commits (search depth {self.depth})"
        if self.kind == "guess":
            return f"guess {cell_name(self.cell)} = {self.digit} (search depth {self.depth})"
        if self.kind == "hit":
            return f"the probe {cell_name(self.cell)} = {self.digit} gave a valid answer"
        if self.kind == "probe":
            return f"probe {self.probes} one-cell guesses at once, in {count} cell{'s' if count != 1 else ''}"
        if self.kind == "backtrack":
            return f"backtrack: a dead end, {count} cell{'s' if count != 1 else ''} undone (search depth {self.depth})"
        if self.kind == "logic":
            return f"logic placed {count} cell{'s' if count != 1 else ''}"
        if self.kind == "exact solver":
            return "budget spent: the exact solver finishes"
        if self.kind == "time limit":
            return "time limit reached: the exact solver finishes"
        return "solved" if self.kind == "solved" else "no solution"


@dataclass
class SearchSolutions:
    """Guided search of N puzzles: the final answers, the model alone, and what the search did per puzzle."""

    solutions: Solutions  # final answers; `steps` are model steps over every call
    single: Solutions  # the first call: the model alone, one pass
    calls: np.ndarray  # (N,) model calls
    committed: np.ndarray  # (N,) cells the model committed that stand in the answer (<= blanks)
    guesses: np.ndarray  # (N,) digits tried at branch points
    backtracks: np.ndarray  # (N,) choices undone
    solver_guesses: np.ndarray  # (N,) the exact solver's guesses where it finished (0 elsewhere)
    timed_out: np.ndarray  # (N,) bool: the exact solver finished because the time limit, not the budget, ran out
    found: list[str]  # per puzzle, one of FOUND
    valid: np.ndarray  # (N,) bool: the final answer passes the exact check
    several: np.ndarray  # (N,) bool: the puzzle has several solutions (the answer is one of them)
    budget: int

    def found_by(self, i: int) -> str:
        return self.found[i]

    def note(self, i: int) -> str:
        """How puzzle i's answer came about, in words, for solve's outcome line."""
        found = self.found[i]
        calls = _counted(self.calls[i], "model call")
        committed = _counted(self.committed[i], "committed cell") + " in the answer"
        if found == GUIDED_SEARCH:
            guesses = _counted(self.guesses[i], "guess", "guesses")
            text = f"guided search: {calls}, {guesses}, {_counted(self.backtracks[i], 'backtrack')}"
        elif found == EXACT_SOLVER:
            why = "the time limit" if self.timed_out[i] else "the budget"
            text = f"finished by the exact solver after {calls} ({why}), {committed}"
        elif found == COMMIT_DECODING:
            text = f"commit decoding: {calls}, {committed}"
        else:
            text = found
        return text + ("; the puzzle has several solutions, this is one" if self.several[i] else "")

    def record(self, i: int) -> dict:
        """Puzzle i's counts, for solve's --json."""
        return {
            "found_by": self.found[i],
            "model_calls": int(self.calls[i]),
            "committed": int(self.committed[i]),
            "guesses": int(self.guesses[i]),
            "backtracks": int(self.backtracks[i]),
            "exact_solver_guesses": int(self.solver_guesses[i]),
            "budget": self.budget,
            "time_limit_reached": bool(self.timed_out[i]),
            "single_pass_valid": bool(self.found[i] == MODEL_ALONE),
            "several_solutions": bool(self.several[i]),
        }


def _counted(count, word: str, plural: str = "") -> str:
    return f"{int(count)} {word if count == 1 else plural or word + 's'}"


@dataclass
class _Frame:
    """A choice in force: the node it was made at, and what is left to try there."""

    grid: np.ndarray
    probabilities: np.ndarray  # (81, 9) the model's at this node: the digit order of a later branch
    commits: np.ndarray | None = None  # (81,) bool: a commit set in force (else a branch)
    answer: np.ndarray | None = None  # (81,) the committed digits
    confidence: np.ndarray | None = None  # (81,) the model's confidence in them
    cell: int = -1  # a branch: its cell and the digits not yet tried, in the model's order
    untried: list[int] = field(default_factory=list)


@dataclass
class _Probe:
    """A stalled node's one-guess children, run a call's worth (`SearchConfig.probes`) at a time."""

    grid: np.ndarray
    probabilities: np.ndarray  # (81, 9) the model's at the node: the digit order if the probe fails
    children: list[Child]
    tried: int = 0  # children run so far

    def next(self, count: int) -> list[Child]:
        return self.children[self.tried : self.tried + count]


@dataclass
class _Puzzle:
    """One puzzle's search state."""

    puzzle: np.ndarray
    grid: np.ndarray  # the node awaiting a model call (while `open`)
    stack: list[_Frame] = field(default_factory=list)
    open: bool = True
    found: str = ""
    answer: np.ndarray | None = None  # the final answer once ended; else the last model answer
    calls: int = 0
    steps: int = 0
    committed: int = 0  # set when the puzzle ends: the commits in force on the answer's path
    guesses: int = 0
    backtracks: int = 0
    solver_guesses: int = 0
    seconds: float = 0.0  # model time: the puzzle's share of each step it ran in
    state: tuple[np.ndarray, np.ndarray] | None = None  # (y, z) where its last call ended (warm starts)
    timed_out: bool = False
    model_answer: np.ndarray | None = None  # the last call's answer and confidence
    confidence: np.ndarray | None = None
    probe: _Probe | None = None  # children awaiting the next call instead of `grid`


class _NoCallLeft(Exception):
    """A guess was due after the puzzle's last call: the puzzle stays open where it stands, and the `spent`
    check that starts the next round hands it to the exact solver."""


class _Search:
    """The moves of the search; each method appends what it did to `moves`, which the generator yields."""

    def __init__(self, config: SearchConfig):
        self.config = config
        self.moves: list[Move] = []

    def _move(self, row: int, state: _Puzzle, kind: str, grid, cells, cell: int = -1, digit: int = 0) -> None:
        self.moves.append(Move(row, kind, grid.copy(), cells, len(state.stack), state.calls, cell, digit))

    def out_of_time(self, state: _Puzzle) -> bool:
        return self.config.time_limit is not None and state.seconds >= self.config.time_limit

    def spent(self, state: _Puzzle) -> bool:
        """No model call can follow: the puzzle's budget or its time is spent."""
        return state.calls >= self.config.budget or self.out_of_time(state)

    def after_call(self, row: int, state: _Puzzle, answer, confidence, probabilities) -> None:
        """The model has run on the puzzle's node: end, commit, or branch; after its last call, no guess."""
        try:
            self._respond(row, state, answer, confidence, probabilities)
        except _NoCallLeft:
            pass

    def _respond(self, row: int, state: _Puzzle, answer, confidence, probabilities) -> None:
        state.answer = state.model_answer = answer
        state.confidence = confidence
        if valid_solutions(state.puzzle, answer)[0]:
            self._end(row, state, MODEL_ALONE if state.calls == 1 else self._solver_of(state, by_model=True), answer)
            return
        grid = state.grid
        if self.config.logic and not state.stack:  # the puzzle as posed: the one node logic has not pushed yet
            pushed = self._logic(row, state, grid)
            if pushed is None or not (pushed == BLANK).any():
                self._enter(row, state, pushed)  # no solution, or logic alone solves it
                return
            moved = (pushed != grid).any()
            state.grid = grid = pushed
        else:
            moved = False
        sure = sure_cells(grid[None], answer[None], confidence[None], self.config.threshold)[0]
        if sure.any():
            self._enter(row, state, self._commit(row, state, _Frame(grid, probabilities, sure, answer, confidence)))
        elif moved:  # the model saw the puzzle before logic's cells: ask it about the new node before guessing
            return
        elif self.config.probes:
            self._probe(row, state, grid, probabilities)
        else:
            self._enter(row, state, self._branch(row, state, grid, probabilities))

    def _probe(self, row: int, state: _Puzzle, grid: np.ndarray, probabilities: np.ndarray) -> None:
        """At a stall, make the node's one-guess children for the next calls; a node without one is dead."""
        children = one_guess_children(grid, self._legal(grid), probabilities, self.config.logic)
        if not children:
            self._enter(row, state, None)
        elif not self.spent(state):  # else the puzzle stays where it stands, for the exact solver
            state.probe = _Probe(grid, probabilities, children)

    def probe_call(self, row: int, state: _Puzzle) -> list[Child]:
        """The children the puzzle's next call runs (a "probe" move)."""
        assert state.probe is not None
        chunk = state.probe.next(self.config.probes)
        cells = np.zeros(CELLS, dtype=bool)
        cells[[child.cell for child in chunk]] = True
        self.moves.append(
            Move(row, "probe", state.grid.copy(), cells, len(state.stack), state.calls, probes=len(chunk))
        )
        return chunk

    def after_probe(self, row: int, state: _Puzzle, answers: np.ndarray, confidence: np.ndarray) -> None:
        """The model has run the children `probe_call` gave: one valid answer is the puzzle's; else the next
        children, and once none is left, a branch on one cell of the node (complete, as without probes)."""
        probe = state.probe
        assert probe is not None
        chunk = probe.next(len(answers))
        probe.tried += len(chunk)
        state.guesses += len(chunk)  # every child run is a digit tried, the ones after a hit too
        hits = np.flatnonzero(valid_solutions(state.puzzle, answers))  # the one puzzle against each answer
        if len(hits):
            child = chunk[hits[0]]
            state.probe = None
            state.model_answer, state.confidence = answers[hits[0]], confidence[hits[0]]
            self._move(row, state, "hit", child.grid, np.arange(CELLS) == child.cell, child.cell, child.digit)
            self._end(row, state, GUIDED_SEARCH, answers[hits[0]])
        elif probe.tried == len(probe.children):
            state.probe = None
            try:
                self._enter(row, state, self._branch(row, state, probe.grid, probe.probabilities))
            except _NoCallLeft:
                pass

    @staticmethod
    def _solver_of(state: _Puzzle, by_model: bool = False) -> str:
        """Who found an answer after the first call: the model's answer on a later node (`by_model`), or a node
        logic completed. Commit decoding or search, by the choices made; the exact solver's logic when the
        node holds no choice of the model's and the model did not give the answer."""
        if not state.stack and not by_model:
            return EXACT_SOLVER
        return COMMIT_DECODING if not (state.guesses or state.backtracks) else GUIDED_SEARCH

    def _logic(self, row: int, state: _Puzzle, grid: np.ndarray) -> np.ndarray | None:
        """`grid` with every cell the exact solver's logic places (a "logic" move when it places any), or
        None when logic finds it has no solution."""
        pushed = solver.propagate(grid)
        if pushed is None:
            return None
        placed = pushed[0] != grid
        if placed.any():
            self._move(row, state, "logic", pushed[0], placed)
        return pushed[0]

    def _legal(self, grid: np.ndarray) -> np.ndarray:
        """(81, 9) bool: the digits each blank of `grid` may take: after logic's deductions, or by its peers."""
        if self.config.logic:
            pushed = solver.propagate(grid)
            if pushed is None:
                return np.zeros((CELLS, 9), dtype=bool)
            return pushed[1] & (grid == BLANK)[:, None]
        return legal_digits(grid)[0]

    def _commit(self, row: int, state: _Puzzle, frame: _Frame, retry: bool = False) -> np.ndarray:
        """Put the frame's commit set in force; a `retry` is the surer half of a set that failed."""
        assert frame.commits is not None and frame.answer is not None
        state.stack.append(frame)
        child = np.where(frame.commits, frame.answer, frame.grid).astype(np.uint8)
        self._move(row, state, "retry" if retry else "commit", child, frame.commits)
        return child

    def _branch(
        self, row: int, state: _Puzzle, grid: np.ndarray, probabilities: np.ndarray, cell: int = -1, skip: int = 0
    ) -> np.ndarray | None:
        """Open a branch point at `grid` (a live node: every blank has a legal digit) on `cell` (default: the
        configured measure's), leaving out digit `skip` (known to fail), and guess its first digit; None
        when no digit is left."""
        legal = self._legal(grid)
        if cell < 0:
            best = np.where(legal, probabilities, -1.0).max(1)  # the surest legal digit of each blank
            blank = grid == BLANK
            if self.config.branch == "fewest":
                count = np.where(blank, legal.sum(1), 10)
                best = np.where(count == count.min(), best, -2.0)
            cell = int(np.argmax(np.where(blank, best, -3.0)))
        order = np.argsort(-probabilities[cell], kind="stable")
        digits = [int(d) + 1 for d in order if legal[cell, d] and d + 1 != skip]
        if not digits:
            return None
        state.stack.append(_Frame(grid, probabilities, cell=cell, untried=digits))
        return self._guess(row, state)

    def _guess(self, row: int, state: _Puzzle) -> np.ndarray:
        if self.spent(state):
            raise _NoCallLeft
        frame = state.stack[-1]
        digit = frame.untried.pop(0)
        state.guesses += 1
        child = frame.grid.copy()
        child[frame.cell] = digit
        self._move(row, state, "guess", child, np.arange(CELLS) == frame.cell, frame.cell, digit)
        return child

    def _enter(self, row: int, state: _Puzzle, child: np.ndarray | None) -> None:
        """Stand on `child`, backing out of dead ends until a node needs the model or the search ends."""
        dead = state.grid
        while True:
            if child is not None and self.config.logic:
                pushed = self._logic(row, state, child)
                dead, child = child, pushed  # a contradiction leaves the move's own cells to undo
            if child is None:
                if not state.stack:
                    self._end(row, state, NO_SOLUTION, state.answer)
                    return
            elif not (child == BLANK).any():
                if valid_solutions(state.puzzle, child)[0]:
                    self._end(row, state, self._solver_of(state), child)
                    return
                dead = child
            elif not dead_ends(child)[0]:
                state.grid = child
                return
            else:
                dead = child
            child = self._backtrack(row, state, dead)

    def _backtrack(self, row: int, state: _Puzzle, dead: np.ndarray) -> np.ndarray | None:
        """Undo the latest choice in force: its next alternative (a child), or None when it has none left.

        A failed commit set is retried with its surer half (so a wrong commit among many is isolated in a
        few calls); a failed single commit becomes a branch on its cell without the committed digit."""
        frame = state.stack.pop()
        state.backtracks += 1
        self._move(row, state, "backtrack", frame.grid, dead != frame.grid)
        if frame.commits is not None:
            assert frame.answer is not None and frame.confidence is not None
            cells = np.flatnonzero(frame.commits)
            if len(cells) == 1:
                cell = int(cells[0])
                return self._branch(row, state, frame.grid, frame.probabilities, cell, int(frame.answer[cell]))
            surer = cells[np.argsort(-frame.confidence[cells], kind="stable")[: (len(cells) + 1) // 2]]
            half = np.zeros(CELLS, dtype=bool)
            half[surer] = True
            return self._commit(row, state, replace(frame, commits=half), retry=True)
        if frame.untried:
            state.stack.append(frame)
            return self._guess(row, state)
        return None

    def exact_finish(self, row: int, state: _Puzzle, timed_out: bool = False) -> None:
        """The budget (or the time limit) is spent: the exact solver finishes from the puzzle as posed (no choice
        of the search's stays in force), spending exactly the guesses it would spend alone."""
        found = solver.analyse(state.puzzle, limit=1)
        state.solver_guesses += found.guesses
        state.timed_out = timed_out
        if found.solution is not None:
            self._end(row, state, EXACT_SOLVER, found.solution, in_force=0)
            return
        self._end(row, state, NO_SOLUTION, state.answer)

    def _end(
        self, row: int, state: _Puzzle, found: str, answer: np.ndarray | None, in_force: int | None = None
    ) -> None:
        """End the puzzle with `answer`, reached through the first `in_force` choices of its stack (all)."""
        state.open, state.found = False, found
        path = state.stack if in_force is None else state.stack[:in_force]
        # Each commit set in force fills blanks of the node below it: distinct cells, counted once.
        state.committed = sum(int(f.commits.sum()) for f in path if f.commits is not None)
        state.answer = state.puzzle.copy() if answer is None else np.asarray(answer, dtype=np.uint8)
        kind = "solved" if found in (MODEL_ALONE, COMMIT_DECODING, GUIDED_SEARCH) else found
        if found == EXACT_SOLVER and state.timed_out:
            kind = "time limit"
        self._move(row, state, kind, state.answer, np.zeros(CELLS, dtype=bool))


def search_steps(
    model: TRM,
    puzzles,
    config: SearchConfig = SearchConfig(),
    inference: InferenceConfig = InferenceConfig(),
) -> Generator[CallStep | Move, None, SearchSolutions]:
    """Guided search of `puzzles` (an (N, 81) array, 0 = blank, or strings as `solve` takes them), yielding
    every engine step of every model call (the open puzzles' nodes in batches of `inference.batch_size`)
    and every move as it is made; returns the `SearchSolutions`. `solve_searched` drains it."""
    puzzles = as_grids(puzzles)
    if not len(puzzles):
        raise ValueError("no puzzles to solve")
    inference = replace(inference, probabilities=True)
    states = [_Puzzle(p.copy(), p.copy()) for p in puzzles]
    search = _Search(config)
    single: Solutions | None = None
    seconds, call = 0.0, 0
    while True:
        for row, state in enumerate(states):
            if state.open and search.spent(state):
                search.exact_finish(row, state, timed_out=search.out_of_time(state) and state.calls < config.budget)
        yield from _drain(search.moves)
        open_rows = [row for row, state in enumerate(states) if state.open]
        if not open_rows:
            break
        call += 1
        rows = np.array([row for row in open_rows if states[row].probe is None], dtype=np.int64)
        probing = np.array([row for row in open_rows if states[row].probe is not None], dtype=np.int64)
        if len(rows):
            result = yield from _call_nodes(model, states, rows, call, config, inference)
            seconds += result.seconds
            if single is None:
                single = result
            for j, row in enumerate(rows):
                state = states[row]
                state.calls += 1
                state.steps += int(result.steps[j])
                search.after_call(int(row), state, result.answers[j], result.confidence[j], result.probabilities[j])
        if len(probing):
            seconds += yield from _call_probes(model, search, states, probing, call, config, inference)
        yield from _drain(search.moves)
    assert single is not None
    return _collect(puzzles, states, single, seconds, config)


def _call_nodes(
    model: TRM, states: list[_Puzzle], rows: np.ndarray, call: int, config: SearchConfig, inference: InferenceConfig
) -> Generator[CallStep, None, Solutions]:
    """One model call on the node of each puzzle in `rows`, in batches; returns the calls' `Solutions`."""
    grids = np.stack([states[row].grid for row in rows])
    # Every puzzle's first call is the model alone, to its own halting; later calls may stop as they settle.
    run = inference if call == 1 else replace(inference, settle=config.settle)
    run = replace(run, keep_state=config.warm, time_limit=config.time_limit)
    parts = []
    for first in range(0, len(rows), inference.batch_size):
        part, nodes = rows[first : first + inference.batch_size], grids[first : first + inference.batch_size]
        warm = None
        if config.warm and call > 1:
            warm = tuple(np.stack([states[row].state[i] for row in part]) for i in (0, 1))  # type: ignore[index]
        seconds_before = np.array([states[row].seconds for row in part])
        parts.append((yield from _tagged(solve_steps(model, nodes, run, warm, seconds_before), call, part, nodes)))
        if config.warm:
            assert parts[-1].state is not None
            for j, row in enumerate(part):
                states[row].state = (parts[-1].state[0][j], parts[-1].state[1][j])
        assert parts[-1].puzzle_seconds is not None
        for j, row in enumerate(part):  # each puzzle pays its share of every step it ran in
            states[row].seconds = float(parts[-1].puzzle_seconds[j])
    return parts[0] if len(parts) == 1 else Solutions.concat(parts)


def _call_probes(
    model: TRM,
    search: _Search,
    states: list[_Puzzle],
    rows: np.ndarray,
    call: int,
    config: SearchConfig,
    inference: InferenceConfig,
) -> Generator[CallStep | Move, None, float]:
    """One model call on the next children of each probing puzzle in `rows`, a batch row each, for at most
    `probe_steps` steps; a puzzle's children stop together once one is valid. Returns the model seconds."""
    chunks = {int(row): search.probe_call(int(row), states[row]) for row in rows}
    yield from _drain(search.moves)
    owners = np.concatenate([np.full(len(chunks[int(row)]), row) for row in rows])
    grids = np.stack([child.grid for row in rows for child in chunks[int(row)]])
    run = replace(inference, max_steps=config.probe_steps, settle=config.settle, time_limit=config.time_limit)
    # Each child may spend an equal slice of its puzzle's time left: the engine counts a row's share of each step.
    spent = np.zeros(len(owners))
    if config.time_limit is not None:
        left = {int(row): (config.time_limit - states[row].seconds) / len(chunks[int(row)]) for row in rows}
        spent = np.array([config.time_limit - left[int(row)] for row in owners])
    parts = []
    for first in range(0, len(owners), inference.batch_size):
        part = slice(first, first + inference.batch_size)
        engine = solve_steps(model, grids[part], run, None, spent[part], owners[part])
        parts.append((yield from _tagged(engine, call, owners[part], grids[part], probes=True)))
    result = parts[0] if len(parts) == 1 else Solutions.concat(parts)
    assert result.puzzle_seconds is not None
    for row in rows:
        mine, state = owners == row, states[row]
        state.seconds += float((result.puzzle_seconds[mine] - spent[mine]).sum())
        state.calls += 1
        state.steps += int(result.steps[mine].sum())
        search.after_probe(int(row), state, result.answers[mine], result.confidence[mine])
    return result.seconds


def solve_searched(
    model: TRM,
    puzzles,
    config: SearchConfig = SearchConfig(),
    inference: InferenceConfig = InferenceConfig(),
) -> SearchSolutions:
    """Guided search of `puzzles`, drained: see `search_steps`."""
    return finish(search_steps(model, puzzles, config, inference))


def _drain(moves: list[Move]) -> Generator[Move, None, None]:
    while moves:
        yield moves.pop(0)


def _tagged(
    run: Generator[Step | Pass, None, Solutions], call: int, rows: np.ndarray, grids: np.ndarray, probes: bool = False
):
    """The engine run's events tagged with the call and its puzzles; returns what the run returns."""
    while True:
        try:
            event = next(run)
        except StopIteration as done:
            return done.value
        yield CallStep(call, rows, grids, event, probes)


def _collect(
    puzzles: np.ndarray, states: list[_Puzzle], single: Solutions, seconds: float, config: SearchConfig
) -> SearchSolutions:
    answers = np.stack([s.answer for s in states]).astype(np.uint8)
    # A cell keeps the model's last confidence where the answer holds the model's digit; 0 where the search
    # or the exact solver put another (drawn as unsure).
    said = np.stack([s.model_answer for s in states])
    confidence = np.stack([s.confidence for s in states])
    confidence = np.where(answers == said, confidence, 0.0)
    final = Solutions(
        puzzles.copy(),
        answers,
        np.where(puzzles > 0, 1.0, confidence).astype(np.float32),
        np.array([s.steps for s in states], dtype=np.int64),
        single.halted.copy(),
        single.halt_probabilities.copy(),
        seconds,
        step_limit=single.step_limit,
    )
    _, counts, _ = solver.analyse_batch(puzzles, limit=2)

    def counted(name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in states], dtype=np.int64)

    return SearchSolutions(
        final,
        single,
        counted("calls"),
        counted("committed"),
        counted("guesses"),
        counted("backtracks"),
        counted("solver_guesses"),
        np.array([s.timed_out for s in states], dtype=bool),
        [s.found for s in states],
        valid_solutions(puzzles, answers),
        counts > 1,
        config.budget,
    )
