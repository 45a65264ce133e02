"""`sudoku-trm solve`: read puzzles, say what is wrong with them, solve the rest and show how.

Order of events: bad lines and puzzles the exact solver finds unsolvable are reported first (and not
solved); puzzles with several solutions get a note and are solved (any valid grid is then right).
Output depends on where it goes: an animation of every step on a terminal for a few puzzles, plain
ordered text elsewhere, one JSON record per puzzle with --json; --trace adds every step.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from sudoku_trm.cli import render
from sudoku_trm.sudoku.checking import check_puzzles
from sudoku_trm.model.devices import resolve_device
from sudoku_trm.errors import UserError
from sudoku_trm.model.weights import load_weights, resolve_weights_dir
from sudoku_trm.inference.engine import InferenceConfig, Solutions, solve
from sudoku_trm.model.trm import TRM
from sudoku_trm.cli.progress import progress_bar
from sudoku_trm.sudoku.puzzles import Puzzle, format_line, read_puzzles, write_puzzles
from sudoku_trm.sudoku.verdict import Verdict, judge
from sudoku_trm.inference.voting import VoteResult, solve_with_votes

ANIMATE_AT_MOST = 5  # puzzles animated on a terminal by default; more are solved as a batch
GRIDS_AT_MOST = 20  # plain output shows whole grids up to this many puzzles, one line each beyond


@dataclass(frozen=True)
class SolveOptions:
    weights: Path | None = None
    device: str = "auto"
    inference: InferenceConfig = InferenceConfig()
    votes: int = 1
    seed: int = 0
    trace: bool = False
    as_json: bool = False
    svg: Path | None = None
    output: Path | None = None
    animate: bool | None = None  # None: on a terminal with at most ANIMATE_AT_MOST puzzles
    delay: float = 0.35  # seconds per animation frame


@dataclass
class Solved:
    """One puzzle's outcome, ready to print."""

    puzzle: Puzzle
    index: int  # row in the batch's Solutions
    verdict: Verdict
    agreeing: int | None = None  # with --votes: copies that gave this answer
    votes: int = 1


def run(puzzle_file: str, options: SolveOptions, out: Console, err: Console) -> int:
    """Solve every good puzzle of `puzzle_file`; returns the exit code (1 when any input was bad)."""
    read = read_puzzles(puzzle_file)
    checks, problems = check_puzzles(read.puzzles)
    errors = list(read.errors) + [p for p in problems if "several solutions" not in p.message]
    for error in sorted(errors, key=lambda e: e.line or 0):
        err.print(f"error: {error}", markup=False)
    solvable = [c for c in checks if c.solutions > 0]
    for check in solvable:
        if check.solutions > 1:
            err.print(f"note: {check.puzzle.file}:{check.puzzle.line}: the puzzle has several solutions; "
                      "any valid grid counts", markup=False)
    if not solvable:
        raise UserError(f"{read_name(puzzle_file)}: no solvable puzzle to solve")

    device = resolve_device(options.device)
    model = load_weights(resolve_weights_dir(options.weights), device)
    grids = np.stack([c.puzzle.grid for c in solvable])
    animate = _should_animate(options, out, len(solvable))
    inference = options.inference
    if animate or options.trace or options.svg:
        inference = dataclasses.replace(inference, trace=True)
    solutions, votes = _solve(model, grids, options, inference, err, show_progress=not animate)

    results = [
        Solved(c.puzzle, i, judge(c.puzzle.grid, solutions.answers[i], c.solutions, c.solution),
               None if votes is None else int(votes.agreeing[i]), options.votes)
        for i, c in enumerate(solvable)
    ]
    depth = (model.config.H_cycles, model.config.L_cycles)
    seconds_each = solutions.seconds / len(results)
    if options.as_json:
        for result in results:
            out.print(json.dumps(_record(result, solutions, options.votes, seconds_each)), markup=False, soft_wrap=True)
    elif animate:
        for result in results:
            _animate(out, result, solutions, depth, options.delay, seconds_each)
    else:
        _print_plain(out, results, solutions, depth, options.trace, seconds_each)
    if not options.as_json and len(results) > 1:
        out.print(_summary(results, solutions, options.votes), markup=False)
    if options.svg is not None:
        _save_svg(options.svg, results, solutions, depth)
        err.print(f"saved the steps to {options.svg}", markup=False)
    if options.output is not None:
        _write_answers(options.output, results, solutions)
        err.print(f"wrote {len(results)} answers to {options.output}", markup=False)
    return 1 if errors else 0


def read_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _should_animate(options: SolveOptions, out: Console, count: int) -> bool:
    if options.as_json:
        return False
    if options.animate is not None:
        return options.animate and out.is_terminal
    return out.is_terminal and count <= ANIMATE_AT_MOST and not options.trace


def _solve(model: TRM, grids: np.ndarray, options: SolveOptions, inference: InferenceConfig, err: Console,
           show_progress: bool) -> tuple[Solutions, VoteResult | None]:
    with progress_bar(err, "solving", len(grids), enabled=show_progress) as advance:
        if options.votes > 1:
            votes = solve_with_votes(model, grids, options.votes, inference, options.seed, advance)
            return votes.solutions, votes
        return solve(model, grids, inference, advance), None


# -- one puzzle, step by step ---------------------------------------------------------------------


def _decision(solutions: Solutions, index: int, step: int) -> str:
    """What the halting head decided after `step` (1-based) of puzzle `index`."""
    last = int(solutions.steps[index])
    if step < last:
        return "continue"
    return "halt" if solutions.halted[index] else "step limit"


def _step_frames(result: Solved, solutions: Solutions, depth: tuple[int, int]) -> list[Group]:
    i, puzzle = result.index, result.puzzle.grid
    limit = solutions.halt_probabilities.shape[1]
    frames, previous = [], None
    for step in range(1, int(solutions.steps[i]) + 1):
        answer = solutions.trace_answers[i, step - 1]
        confidence = solutions.trace_confidence[i, step - 1].astype(np.float32)
        status = render.step_status(
            step, limit, depth, float(solutions.halt_probabilities[i, step - 1]), _decision(solutions, i, step),
            render.changed_cells(previous, answer), render.unsure_count(puzzle, confidence),
        )
        frames.append(render.step_frame(_title(result.puzzle), puzzle, answer, confidence, previous, status))
        previous = answer
    return frames


def _title(puzzle: Puzzle) -> str:
    return f"{puzzle.file}:{puzzle.line}" + (f"  ({puzzle.source})" if puzzle.source else "")


def _final(result: Solved, solutions: Solutions, seconds: float) -> Group:
    i = result.index
    verdict = result.verdict
    steps = int(solutions.steps[i])
    how = "halted by the model" if solutions.halted[i] else "step limit reached"
    line = Text(f"{steps} step{'s' if steps != 1 else ''} ({how}), {seconds * 1000:.0f} ms")
    if result.agreeing is not None:
        line.append(f", {result.agreeing} of {result.votes} symmetric copies agree")
    verdict_text = Text("valid solution" if verdict.valid else "breaks the rules",
                        "bold green" if verdict.valid else "bold red")
    verdict_text = Text.assemble(verdict_text, Text(verdict.summary[len(verdict_text.plain):]))
    grid = render.grid_text(result.puzzle.grid, solutions.answers[i], solutions.confidence[i],
                            conflicts=verdict.conflict_cells)
    return Group(Text(_title(result.puzzle), "bold"), grid, line, verdict_text)


def _animate(out: Console, result: Solved, solutions: Solutions, depth, delay: float, seconds: float) -> None:
    frames = _step_frames(result, solutions, depth)
    with Live(frames[0], console=out, auto_refresh=False, transient=True) as live:
        for frame in frames:
            live.update(frame, refresh=True)
            time.sleep(delay)
    last_status = frames[-1].renderables[-1]
    out.print(Group(_final(result, solutions, seconds), last_status, render.legend()))


def _print_plain(out: Console, results: list[Solved], solutions: Solutions, depth, trace: bool, seconds: float) -> None:
    for result in results:
        if trace:
            for frame in _step_frames(result, solutions, depth):
                out.print(frame)
        if trace or len(results) <= GRIDS_AT_MOST:
            out.print(_final(result, solutions, seconds))
            out.print()
        else:
            i = result.index
            out.print(f"{result.puzzle.file}:{result.puzzle.line}  {format_line(solutions.answers[i])}  "
                      f"{int(solutions.steps[i])} steps  {result.verdict.summary}", markup=False, soft_wrap=True)


def _summary(results: list[Solved], solutions: Solutions, votes: int) -> str:
    valid = sum(r.verdict.valid for r in results)
    rate = len(results) / solutions.seconds if solutions.seconds > 0 else float("inf")
    text = (f"{len(results)} puzzles: {valid} valid, {len(results) - valid} break the rules; "
            f"mean {float(solutions.steps.mean()):.1f} steps; {rate:,.1f} puzzles/s")
    return text + (f" ({votes} votes each)" if votes > 1 else "")


def _record(result: Solved, solutions: Solutions, votes: int, seconds: float) -> dict:
    i, verdict = result.index, result.verdict
    steps = int(solutions.steps[i])
    record = {
        "file": result.puzzle.file,
        "line": result.puzzle.line,
        "puzzle": format_line(result.puzzle.grid),
        "answer": format_line(solutions.answers[i]),
        "steps": steps,
        "halted": bool(solutions.halted[i]),
        "halt_probabilities": [round(float(p), 4) for p in solutions.halt_probabilities[i, :steps]],
        "mean_confidence": round(float(solutions.confidence[i][result.puzzle.grid == 0].mean()), 4)
        if (result.puzzle.grid == 0).any() else 1.0,
        "valid": verdict.valid,
        "problems": list(verdict.problems),
        "puzzle_solutions": "unique" if verdict.solutions == 1 else "several",
        "correct": verdict.correct,
        "wrong_cells": verdict.wrong_cells,
        "seconds": round(seconds, 6),
    }
    if result.agreeing is not None:
        record["votes"] = votes
        record["agreeing"] = result.agreeing  # copies whose answer equals this one
    return record


def _save_svg(path: Path, results: list[Solved], solutions: Solutions, depth) -> None:
    recorder = Console(record=True, width=100, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    for result in results:
        for frame in _step_frames(result, solutions, depth):
            recorder.print(frame)
            recorder.print()
        recorder.print(_final(result, solutions, solutions.seconds / len(results)))
        recorder.print()
    recorder.print(render.legend())
    try:
        recorder.save_svg(str(path), title=f"sudoku-trm solve: {len(results)} puzzle(s)")
    except OSError as error:
        raise UserError(f"{path}: cannot write the SVG ({error.strerror or error})") from None


def _write_answers(path: Path, results: list[Solved], solutions: Solutions) -> None:
    fmt = "csv" if path.suffix.lower() == ".csv" else "line"
    grids = [r.puzzle.grid for r in results]
    answers = [solutions.answers[r.index] for r in results]
    try:
        write_puzzles(path, grids, answers, fmt)
    except OSError as error:
        raise UserError(f"{path}: cannot write the answers ({error.strerror or error})") from None

