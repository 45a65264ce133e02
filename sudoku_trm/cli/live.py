"""`solve`'s live view: one puzzle solved in front of the user, each frame drawn when the model has made it.

Frame 0 is the puzzle as posed, on screen before the model has even loaded; then each supervision step
appears the moment the engine yields it (`inference.engine.solve_steps`), with its halting probability
and the decision taken on it, counted against the step limit. With `passes`, the answer after each
recursion pass inside a step comes first. Under adaptive solving (`get_budget`) each frame shows one of
the puzzle's chains: its own while it runs ("step 23/32 (beyond training)" past the trained horizon),
then the most confident of its symmetric copies or restarts ("copy 3 of 8, step 5/16"), and the one that
found a valid answer the moment it does. Under commit decoding and guided search (`get_decoding`) each
model run is labelled ("call 3, search depth 2, step 5/16": search depth counts the choices in force,
apart from the model's recursion (H, L) on the same line), and what happens between runs gets a frame of
its own: the cells committed, a guess (cell and digit), a backtrack (the cells undone), the exact solver
taking over. Past the first run (the model alone, drawn step by step) only each run's last step is
drawn, labelled as the whole run ("call 3, search depth 2: ran 5/16 steps"), and moves stay up half the
delay, so a search of many calls can still be watched.
`delay` is the least time a frame stays up (so that a fast model can still be watched); the model's own
time counts towards it, so a slow step is never delayed further. Something is always on screen: while the
model loads or computes, the last frame says so.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

import numpy as np
from rich.console import Console
from rich.live import Live

from sudoku_trm.cli import render
from sudoku_trm.cli.render import Frame
from sudoku_trm.sudoku.puzzles import Puzzle

if TYPE_CHECKING:
    from sudoku_trm.inference.adaptive import Budget, ChainStep
    from sudoku_trm.inference.commit import Committed, RoundStep
    from sudoku_trm.inference.engine import InferenceConfig, Pass, Solutions, Step
    from sudoku_trm.inference.search import CallStep, Move
    from sudoku_trm.model.trm import TRM


class Pace:
    """Keeps each frame on screen at least `delay` seconds, counting the time spent computing the next."""

    def __init__(self, delay: float):
        self.delay = delay
        self.shown_at: float | None = None

    def wait(self, share: float = 1.0) -> None:
        """Until the frame on screen has had `share` of the delay."""
        if self.shown_at is not None:
            time.sleep(max(0.0, self.shown_at + self.delay * share - time.perf_counter()))

    def shown(self) -> None:
        self.shown_at = time.perf_counter()


def watch(
    out: Console,
    puzzle: Puzzle,
    get_model: Callable[[], TRM],
    get_config: Callable[[], InferenceConfig],
    delay: float,
    threads: Callable[[TRM, int], object],
    get_budget: Callable[[TRM], Budget | None] | None = None,
    get_decoding: Callable[[], object] | None = None,
    loading: bool = True,
) -> tuple[Solutions, Frame, object]:
    """Solve `puzzle` alone, drawing every frame live on `out`; returns the solutions (a batch of one), the
    last frame, whose status line the caller leaves on screen under the final answer, and, where
    `get_budget` gives an adaptive budget or `get_decoding` a CommitConfig or SearchConfig (each may give
    None: SolveSettings.adaptive_budget and .decoding), that solver's outcome.

    `get_model` loads the model (the first call may take seconds: frame 0 is up meanwhile) and
    `get_config` makes the inference config (it imports torch, so it too waits for frame 0); `threads`
    is the context that chooses CPU threads for a batch (inference.solving.cpu_threads). `loading`: frame 0
    says the model is loading (False once an earlier puzzle loaded it).
    """
    grid = puzzle.grid
    name = render.title(puzzle)
    pace = Pace(delay)
    with Live(console=out, auto_refresh=False, transient=True, vertical_overflow="visible") as live:

        def show(frame: Frame, wait: bool = True, share: float = 1.0) -> None:
            if wait:
                pace.wait(share)
            live.update(frame.render(name), refresh=True)
            pace.shown()

        show(render.posed(grid, None, None, note="loading the model..." if loading else ""))
        from sudoku_trm.inference import engine  # torch: imported with the model, under frame 0

        model = get_model()
        config = get_config()
        limit = config.step_limit(model)
        depth = (model.config.H_cycles, model.config.L_cycles)
        last = render.posed(grid, limit, depth)
        show(render.posed(grid, limit, depth, note="thinking..."), wait=False)
        previous = grid

        def draw(event: Step | Pass) -> None:
            nonlocal last, previous
            last = frame_of(event, grid, previous, depth, fixed=config.steps is not None)
            previous = last.answer
            show(last)

        adaptive = None
        decoding = None if get_decoding is None else get_decoding()
        budget = None if get_budget is None else get_budget(model)
        if decoding is not None:
            from sudoku_trm.inference.commit import CommitConfig, commit_steps
            from sudoku_trm.inference.search import search_steps

            drawing = Decoding(grid, depth)

            def draw_decoding(event) -> None:
                frame = drawing.frame(event)
                if frame is not None:
                    show(frame, share=drawing.share(event))

            run = commit_steps if isinstance(decoding, CommitConfig) else search_steps
            with threads(model, 1):
                adaptive = engine.finish(run(model, grid[None], decoding, config), draw_decoding)
            last = drawing.last
            solutions = adaptive.solutions
        elif budget is None:
            with threads(model, 1):
                solutions = engine.finish(engine.solve_steps(model, grid[None], config), draw)
        else:
            from sudoku_trm.inference.adaptive import solve_adaptive

            def draw_chain(event: ChainStep) -> None:
                nonlocal last, previous
                last = chain_frame(event, grid, previous, depth)
                previous = last.answer
                show(last)

            with threads(model, max(1, budget.copies, budget.restarts)):
                adaptive = solve_adaptive(model, grid[None], budget, config, on_step=draw_chain)
            solutions = adaptive.solutions
        pace.wait()  # the last frame stays up its time too, then gives way to the final answer
    return solutions, last, adaptive


class Decoding:
    """Frames of a puzzle watched alone under commit decoding or guided search (a batch of one)."""

    def __init__(self, puzzle: np.ndarray, depth: tuple[int, int]):
        self.puzzle = puzzle
        self.depth = depth
        self.previous = puzzle
        self.runs = 0  # model runs so far
        self.choices = 0  # commits and guesses in force (search)
        self.last = render.posed(puzzle, None, depth)

    def label(self) -> str:
        return f"call {self.runs}" + (f", search depth {self.choices}" if self.choices else "")

    @staticmethod
    def share(event) -> float:
        return 1.0 if hasattr(event, "event") else 0.5  # an engine step, or a move between runs

    def frame(self, event: RoundStep | Committed | CallStep | Move) -> Frame | None:
        """The frame to draw for `event`, or None (the inner steps of runs after the first)."""
        from sudoku_trm.inference.commit import Committed, RoundStep
        from sudoku_trm.inference.engine import Step
        from sudoku_trm.inference.search import CallStep

        if isinstance(event, CallStep) and event.probes:
            self.runs = event.call
            return None  # many children at once: their moves ("probe", "hit") are drawn, not each child's steps
        if isinstance(event, (RoundStep, CallStep)):
            number = event.round if isinstance(event, RoundStep) else event.call
            step = event.event
            self.runs = number
            if number > 1 and not (isinstance(step, Step) and step.stops[0]):
                return None
            frame = frame_of(step, self.puzzle, self.previous, self.depth, fixed=False)
            chain = self.label() if isinstance(event, CallStep) else f"round {number}"
            frame = replace(frame, chain=chain, last_of_run=number > 1)
        elif isinstance(event, Committed):
            count = int(event.cells[0].sum())
            said = "solved" if event.solved[0] else f"committed {count} cells" if count else "nothing new is sure: stop"
            frame = self._move_frame(event.grids[0], event.cells[0], said, f"round {event.round}")
        else:
            self.choices = event.depth
            frame = self._move_frame(event.grid, event.cells, event.describe(), self.label(), event.kind == "backtrack")
        self.previous = frame.answer
        self.last = frame
        return frame

    def _move_frame(self, grid: np.ndarray, cells: np.ndarray, said: str, chain: str, undo: bool = False) -> Frame:
        """A move between runs, drawn as the node it leaves (blanks where nothing is fixed), with the cells it
        set, or for a backtrack those it undid, marked as changed."""
        before = np.where(cells, self.previous if undo else 0, grid)
        step, limit = self.last.step, self.last.limit
        return Frame(self.puzzle, grid, None, before, step, limit, self.depth, chain=chain, move=said)


def frame_of(
    event: Step | Pass, puzzle: np.ndarray, previous: np.ndarray, depth: tuple[int, int], fixed: bool
) -> Frame:
    """The frame of an engine event for the batch's row 0 (a puzzle watched alone runs as a batch of one)."""
    from sudoku_trm.inference.engine import Pass

    answer, confidence = event.answers[0], event.confidence[0]
    if isinstance(event, Pass):
        return Frame(
            puzzle, answer, confidence, previous, event.step, event.limit, depth, None, None, event.number, event.passes
        )
    probability = float(event.halt_probability[0])
    said = render.decision(bool(event.halts[0]), bool(event.stops[0]), fixed)
    return Frame(puzzle, answer, confidence, previous, event.step, event.limit, depth, probability, said)


def chain_frame(event: ChainStep, puzzle: np.ndarray, previous: np.ndarray, depth: tuple[int, int]) -> Frame:
    """The frame of an adaptive batch step for a puzzle watched alone: the chain that found a valid answer,
    else the puzzle's own chain while it runs, else the most confident of the chains running."""
    from sudoku_trm.inference.adaptive import Stage

    valid, own = np.flatnonzero(event.valid), np.flatnonzero(event.chains == 0)
    if len(valid):
        row = int(valid[np.argmin(event.chains[valid])])
    elif len(own):
        row = int(own[0])
    else:
        blanks = puzzle == 0
        row = int(np.argmax(event.confidence[:, blanks].mean(1))) if blanks.any() else 0
    stage, step, limit = Stage(int(event.stages[row])), int(event.steps[row]), int(event.limits[row])
    peers = event.chains[event.stages == stage]
    chain = beyond = ""
    if stage is Stage.COPIES:
        chain = f"copy {int(event.chains[row])} of {len(peers)}"
    elif stage is Stage.RESTARTS:
        chain = f"restart {int(event.chains[row] - peers.min()) + 1} of {len(peers)}"
    elif stage is Stage.STEPS:
        beyond = "beyond training" if step > event.horizon else "after the model stopped"
    probability = float(event.halt_probability[row])
    halts = probability > 0.5
    if event.valid[row] and len(event.solved):
        said, note = render.VALID_DONE, "a valid answer: its work ends here"
    elif event.valid[row]:  # the model's own run goes on to its own stop; the valid answer is kept
        said, note = render.CONTINUE, "a valid answer, kept while the model runs to its own stop"
    elif stage is Stage.MODEL:
        said, note = render.decision(halts, halts or step >= event.horizon, False), ""
    else:
        said, note = render.CHAIN_ENDS if step >= limit else render.CONTINUE, ""
    answer, confidence = event.answers[row], event.confidence[row]
    frame = Frame(puzzle, answer, confidence, previous, step, limit, depth, probability, said, note=note)
    return replace(frame, chain=chain, beyond=beyond)
