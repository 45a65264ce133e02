"""`sudoku-trm solve`: read puzzles, say what is wrong with them, solve the rest and show how.

Order of events: bad lines and puzzles the exact solver finds unsolvable are reported first (and not
solved); puzzles with several solutions get a note and are solved (any valid grid is then right).
Output depends on where it goes:

- a terminal: the first ANIMATE_FIRST puzzles are solved live, one at a time, every step drawn as the
  model makes it (live.py); the rest are solved together, under a progress bar, and shown as answers.
  Three because watching one takes about 6 s with the shipped model (16 steps, 0.35 s a frame): the
  first command shows the refinement on a few puzzles and the rest does not keep the user waiting.
  `--animate` watches every puzzle, `--no-animate` none;
- elsewhere (a pipe, a file): plain ordered text, no control codes, no wrapped lines, givens in brackets;
- --json: one JSON record per puzzle, and one per line left out (bad_lines.py), in file order, and nothing
  else; --trace adds every step to the text forms.

Times are model time. A puzzle watched live runs alone and shows its own; the others run in batches, and
each shows its share of its batch's time, said to be one (render.Timing), in text and in JSON.

How each piece looks is render.py's; this module decides which pieces go where.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console

from sudoku_trm.cli import live, render
from sudoku_trm.cli.bad_lines import check_in_order, count_left_out, error_record, in_file_order, left_out
from sudoku_trm.cli.model_options import ModelOptions, load_model
from sudoku_trm.cli.progress import progress_bar
from sudoku_trm.cli.render import Solved, Timing
from sudoku_trm.cli.terminal import for_text
from sudoku_trm.errors import UserError
from sudoku_trm.inference.solving import SolvedBatch, cpu_threads, solve_puzzles
from sudoku_trm.sudoku.checking import PuzzleCheck
from sudoku_trm.sudoku.puzzles import format_line, write_puzzles
from sudoku_trm.sudoku.verdict import judge

if TYPE_CHECKING:
    from sudoku_trm.inference.engine import InferenceConfig, Solutions
    from sudoku_trm.model.trm import TRM

ANIMATE_FIRST = 3  # puzzles solved live on a terminal by default; the rest are solved together
GRIDS_AT_MOST = 20  # plain output shows whole grids up to this many puzzles, one line each beyond


@dataclass(frozen=True)
class SolveOptions(ModelOptions):
    trace: bool = False
    as_json: bool = False
    svg: Path | None = None
    output: Path | None = None
    animate: bool | None = None  # None: the first ANIMATE_FIRST puzzles on a terminal
    delay: float = 0.35  # seconds a frame stays up at least
    show_passes: bool = False  # also draw the answer after each recursion pass within a step


def run(puzzle_files: str | list[str], options: SolveOptions, out: Console, err: Console) -> int:
    """Solve every good puzzle of the files (`-`: stdin); returns the exit code (1 when any input was bad)."""
    paths = [puzzle_files] if isinstance(puzzle_files, str) else list(puzzle_files)
    # The one reading path of solve, eval and check (sudoku.puzzles.read_puzzles), with each file's place.
    report, places = check_in_order(paths)
    # A puzzle with several solutions is still solved (any valid grid counts): a note, not an error.
    several = {(c.puzzle.file, c.puzzle.line) for c in report.records if c.solutions > 1}
    errors = [e for e in report.errors if (e.file, e.line) not in several]
    for error in errors:
        err.print(f"error: {error}", markup=False)
    solvable = [c for c in report.records if c.solutions > 0]
    for check in solvable:
        if check.solutions > 1:
            err.print(
                f"note: {check.puzzle.file}:{check.puzzle.line}: the puzzle has several solutions; "
                "any valid grid counts",
                markup=False,
            )
    if not solvable:
        if errors:
            return 1  # each problem is already on stderr
        raise UserError(f"{', '.join(paths)}: no solvable puzzle to solve")

    watched = _watched(options, out, len(solvable))
    models: list[TRM] = []

    def get_model() -> TRM:
        if not models:
            models.append(load_model(options))
        return models[0]

    keep_steps = bool(options.trace or options.svg)
    results: list[Solved] = []
    parts: list[Solutions] = []
    timings: list[Timing] = []

    def get_config() -> InferenceConfig:
        return options.inference(trace=keep_steps, passes=options.show_passes)

    if watched:  # the legend first, so that the first animation is read with it
        out.print(render.legend())
        out.print()
    for check in solvable[:watched]:
        solutions, last, outcome = live.watch(
            out,
            check.puzzle,
            get_model,
            get_config,
            options.delay,
            cpu_threads,
            options.adaptive_budget,
            options.decoding,
            loading=not models,
        )
        batch = SolvedBatch(solutions) if outcome is None else SolvedBatch.of(outcome)
        result = _solved(check, batch, 0, options, batch.found_by())
        results.append(result)
        parts.append(solutions)
        timings.append(Timing(solutions.seconds))
        # What stays in the scrollback: each answer with its verdict, under the legend printed before the
        # first (the last frame's status line said the same while it was live).
        out.print(render.final_answer(result, timings[-1]))
        out.print()
    rest = solvable[watched:]
    if rest:
        model = get_model()
        grids = np.stack([c.puzzle.grid for c in rest])
        with progress_bar(err, "solving", len(grids)) as advance:
            solved = solve_puzzles(model, grids, options, advance, keep_steps, options.show_passes)
        solutions = solved.solutions
        found = solved.found_by()
        for i, check in enumerate(rest):
            results.append(_solved(check, solved, i, options, found))
        parts.append(solutions)
        timings += [Timing(solutions.seconds, len(rest))] * len(rest)
    everything = parts[0] if len(parts) == 1 else _joined(parts)
    depth = (get_model().config.H_cycles, get_model().config.L_cycles)

    text = for_text(out)
    plain = not out.is_terminal
    skipped = left_out(errors, {(r.puzzle.file, r.puzzle.line) for r in results})
    if options.as_json:
        records = [
            (places.key(result.puzzle, result.puzzle.line), _record(result, options.votes, took))
            for result, took in zip(results, timings)
        ]
        records += [(places.key(error, error.line), error_record(error)) for error in skipped]
        for record in in_file_order(records):
            out.print(json.dumps(record), markup=False, soft_wrap=True)
    elif rest:
        if plain and (options.trace or len(rest) <= GRIDS_AT_MOST):
            text.print(render.legend(plain=True))
            text.print()
        _print_answers(text, results[watched:], depth, options.trace, timings[watched:], plain)
    if not options.as_json:  # even for one puzzle: the summary is where a script or a reader looks
        text.print(render.summary(results, everything, options.votes, count_left_out(skipped)), markup=False)
    if options.svg is not None:
        _save_svg(options.svg, results, depth, timings)
        err.print(f"saved the steps to {options.svg}", markup=False)
    if options.output is not None:
        _write_answers(options.output, results)
        err.print(f"wrote {len(results)} answers to {options.output}", markup=False)
    broken = sum(not r.verdict.valid for r in results)
    if broken:
        err.print(_hint(broken, len(results), paths, options), markup=False)
    return 1 if errors else RULES_BROKEN if broken else 0


RULES_BROKEN = 3  # the exit code when an answer breaks the rules (and no input was bad): the model was wrong


def _hint(broken: int, count: int, paths: list[str], options: SolveOptions) -> str:
    """One line on stderr: the answers are wrong, and the right ones are one command away."""
    files = " ".join(paths)
    how = "" if options.effort == "off" else f" (--effort {options.effort})"
    return (
        f"note: {broken} of {count} answers break the rules{how}: `sudoku-trm solve {files} --effort search` "
        f"always answers a valid puzzle validly, `sudoku-trm check {files}` gives the exact solutions"
    )


def _watched(options: SolveOptions, out: Console, count: int) -> int:
    """How many puzzles, from the first, are solved live."""
    if options.as_json or not out.is_terminal or options.votes > 1 or options.animate is False:
        return 0  # with votes, the answer is chosen after every copy ran: there is no one refinement to watch
    if options.animate:
        return count
    return 0 if options.trace else min(count, ANIMATE_FIRST)


def _solved(check: PuzzleCheck, batch: SolvedBatch, i: int, options: SolveOptions, found: list[str]) -> Solved:
    """Row `i` of `batch`, judged; `found` is the batch's `found_by()` (computed once per batch)."""
    verdict = judge(check.puzzle.grid, batch.solutions.answers[i], check.solutions, check.solution)
    agreeing = None if batch.votes is None else int(batch.votes.agreeing[i])
    fixed = options.steps is not None
    return Solved(
        check.puzzle,
        batch.solutions,
        i,
        verdict,
        agreeing,
        options.votes,
        fixed,
        batch.adaptive,
        batch.searched,
        found[i],
    )


def _joined(parts: list[Solutions]) -> Solutions:
    """The watched puzzles' solutions (one each) and the rest's, in order: for the summary, JSON and SVG."""
    from sudoku_trm.inference.engine import Solutions

    return Solutions.concat(parts)


def _print_answers(
    out: Console, results: list[Solved], depth: tuple[int, int], trace: bool, timings: list[Timing], plain: bool
) -> None:
    for result, took in zip(results, timings):
        if trace:
            title = render.title(result.puzzle)
            for frame in render.frames(result, depth):
                out.print(frame.render(title, plain))
        if trace or len(results) <= GRIDS_AT_MOST:
            out.print(render.final_answer(result, took, plain))
            out.print()
        else:
            out.print(render.answer_line(result), markup=False)


def _record(result: Solved, votes: int, timing: Timing) -> dict:
    i, verdict, solutions = result.index, result.verdict, result.solutions
    steps = result.steps
    blanks = result.puzzle.grid == 0
    record = {
        "file": result.puzzle.file,
        "line": result.puzzle.line,
        "puzzle": format_line(result.puzzle.grid),
        "answer": format_line(result.answer),
        "steps": steps,
        "step_limit": result.limit,
        "halted": result.halted,
        "halt_probabilities": [round(float(p), 4) for p in solutions.halt_probabilities[i, :steps]],
        "mean_confidence": round(float(solutions.confidence[i][blanks].mean()), 4) if blanks.any() else 1.0,
        "valid": verdict.valid,
        "problems": list(verdict.problems),
        "puzzle_solutions": "unique" if verdict.solutions == 1 else "several",
        "correct": verdict.correct,
        "wrong_cells": verdict.wrong_cells,
        **timing.record(),  # seconds: the puzzle's own, or its share of the batch's (batch_puzzles > 1)
    }
    if result.agreeing is not None:
        record["votes"] = votes
        record["agreeing"] = result.agreeing  # copies whose answer equals this one
    if result.adaptive is not None:  # "steps" are then model steps over all the puzzle's chains
        record["adaptive"] = result.adaptive.record(i)
    if result.searched is not None:  # "steps" are then model steps over all the puzzle's calls
        record["search"] = result.searched.record(i)
    return record


def _save_svg(path: Path, results: list[Solved], depth: tuple[int, int], timings: list[Timing]) -> None:
    """The legend at the top, then each puzzle on a sheet: its frames in a grid, SHEET_COLUMNS a row."""
    recorder = Console(
        record=True, width=render.SHEET_WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    recorder.print(render.legend())
    recorder.print()
    for result, took in zip(results, timings):
        recorder.print(render.sheet(result, depth, took))
    try:
        title = f"sudoku-trm solve: {len(results)} puzzle{'s' if len(results) != 1 else ''}"
        recorder.save_svg(str(path), title=title, unique_id="s")  # short ids: they are repeated on every element
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
