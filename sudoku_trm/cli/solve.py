"""`sudoku-trm solve`: read puzzles, say what is wrong with them, solve the rest and show how.

Order of events: bad lines and puzzles the exact solver finds unsolvable are reported first (and not
solved); puzzles with several solutions get a note and are solved (any valid grid is then right).
Output depends on where it goes: an animation of every step on a terminal for a few puzzles, plain
ordered text elsewhere, one JSON record per puzzle with --json; --trace adds every step. How each
piece looks is render.py's; this module decides which pieces go where.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console, Group
from rich.live import Live

from sudoku_trm.cli import render
from sudoku_trm.cli.model_options import ModelOptions, load_model, solve_puzzles
from sudoku_trm.cli.progress import progress_bar
from sudoku_trm.cli.render import Solved
from sudoku_trm.errors import UserError
from sudoku_trm.sudoku.checking import check_puzzles
from sudoku_trm.sudoku.puzzles import format_line, read_puzzles, write_puzzles
from sudoku_trm.sudoku.verdict import judge

ANIMATE_AT_MOST = 5  # puzzles animated on a terminal by default; more are solved as a batch
GRIDS_AT_MOST = 20  # plain output shows whole grids up to this many puzzles, one line each beyond


@dataclass(frozen=True)
class SolveOptions(ModelOptions):
    trace: bool = False
    as_json: bool = False
    svg: Path | None = None
    output: Path | None = None
    animate: bool | None = None  # None: on a terminal with at most ANIMATE_AT_MOST puzzles
    delay: float = 0.35  # seconds per animation frame


def run(puzzle_file: str, options: SolveOptions, out: Console, err: Console) -> int:
    """Solve every good puzzle of `puzzle_file`; returns the exit code (1 when any input was bad)."""
    read = read_puzzles(puzzle_file)
    checks, problems = check_puzzles(read.puzzles)
    # A puzzle with several solutions is still solved (any valid grid counts): a note, not an error.
    several = {(c.puzzle.file, c.puzzle.line) for c in checks if c.solutions > 1}
    errors = list(read.errors) + [p for p in problems if (p.file, p.line) not in several]
    for error in sorted(errors, key=lambda e: e.line or 0):
        err.print(f"error: {error}", markup=False)
    solvable = [c for c in checks if c.solutions > 0]
    for check in solvable:
        if check.solutions > 1:
            err.print(
                f"note: {check.puzzle.file}:{check.puzzle.line}: the puzzle has several solutions; "
                "any valid grid counts",
                markup=False,
            )
    if not solvable:
        raise UserError(f"{read_name(puzzle_file)}: no solvable puzzle to solve")

    model = load_model(options)
    grids = np.stack([c.puzzle.grid for c in solvable])
    animate = _should_animate(options, out, len(solvable))
    with progress_bar(err, "solving", len(grids), enabled=not animate) as advance:
        solutions, votes = solve_puzzles(
            model, grids, options, advance, trace=bool(animate or options.trace or options.svg)
        )

    results = [
        Solved(
            c.puzzle,
            solutions,
            i,
            judge(c.puzzle.grid, solutions.answers[i], c.solutions, c.solution),
            None if votes is None else int(votes.agreeing[i]),
            options.votes,
        )
        for i, c in enumerate(solvable)
    ]
    depth = (model.config.H_cycles, model.config.L_cycles)
    seconds_each = solutions.seconds / len(results)
    if options.as_json:
        for result in results:
            out.print(json.dumps(_record(result, options.votes, seconds_each)), markup=False, soft_wrap=True)
    elif animate:
        for result in results:
            _animate(out, result, depth, options.delay, seconds_each)
    else:
        _print_plain(out, results, depth, options.trace, seconds_each)
    if not options.as_json and len(results) > 1:
        out.print(render.summary(results, solutions, options.votes), markup=False)
    if options.svg is not None:
        _save_svg(options.svg, results, depth, seconds_each)
        err.print(f"saved the steps to {options.svg}", markup=False)
    if options.output is not None:
        _write_answers(options.output, results)
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


def _animate(out: Console, result: Solved, depth: tuple[int, int], delay: float, seconds: float) -> None:
    steps = render.steps(result, depth)
    with Live(steps[0].frame, console=out, auto_refresh=False, transient=True) as live:
        for step in steps:
            live.update(step.frame, refresh=True)
            time.sleep(delay)
    out.print(Group(render.final_answer(result, seconds), steps[-1].status, render.legend()))


def _print_plain(out: Console, results: list[Solved], depth: tuple[int, int], trace: bool, seconds: float) -> None:
    for result in results:
        if trace:
            for step in render.steps(result, depth):
                out.print(step.frame)
        if trace or len(results) <= GRIDS_AT_MOST:
            out.print(render.final_answer(result, seconds))
            out.print()
        else:
            out.print(render.answer_line(result), markup=False, soft_wrap=True)


def _record(result: Solved, votes: int, seconds: float) -> dict:
    i, verdict, solutions = result.index, result.verdict, result.solutions
    steps = result.steps
    record = {
        "file": result.puzzle.file,
        "line": result.puzzle.line,
        "puzzle": format_line(result.puzzle.grid),
        "answer": format_line(result.answer),
        "steps": steps,
        "halted": bool(solutions.halted[i]),
        "halt_probabilities": [round(float(p), 4) for p in solutions.halt_probabilities[i, :steps]],
        "mean_confidence": round(float(solutions.confidence[i][result.puzzle.grid == 0].mean()), 4)
        if (result.puzzle.grid == 0).any()
        else 1.0,
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


def _save_svg(path: Path, results: list[Solved], depth: tuple[int, int], seconds: float) -> None:
    recorder = Console(record=True, width=100, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    for result in results:
        for step in render.steps(result, depth):
            recorder.print(step.frame)
            recorder.print()
        recorder.print(render.final_answer(result, seconds))
        recorder.print()
    recorder.print(render.legend())
    try:
        recorder.save_svg(str(path), title=f"sudoku-trm solve: {len(results)} puzzle(s)")
    except OSError as error:
        raise UserError(f"{path}: cannot write the SVG ({error.strerror or error})") from None


def _write_answers(path: Path, results: list[Solved]) -> None:
    fmt = "csv" if path.suffix.lower() == ".csv" else "line"
    grids = [r.puzzle.grid for r in results]
    answers = [r.answer for r in results]
    try:
        write_puzzles(path, grids, answers, fmt)
    except OSError as error:
        raise UserError(f"{path}: cannot write the answers ({error.strerror or error})") from None
