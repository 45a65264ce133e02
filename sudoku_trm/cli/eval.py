"""`sudoku-trm eval`: score the model on whole puzzle files, per file and in total.

Files are read as `solve` and `check` read them (`-` is stdin). Labels are each file's listed answers,
or the exact solver's solution where a puzzle has none; puzzles without exactly one solution (and
malformed lines) are reported with file:line and left out, the rest is still evaluated. With --votes or
adaptive solving (--effort, --budget), the model's own single-pass accuracy and how often the extra
compute rescued (or spoiled) an answer are reported beside the figures it gives: test-time compute is
shown next to the model's own figure, never instead of it. Under adaptive solving, steps are model steps
per puzzle over all its chains. Under guided search (--effort search) the report adds who found the
answers (model alone, commit decoding, guided search, exact solver), mean model calls, cells committed,
guesses and backtracks, beside the exact solver's own guesses on the same puzzles (to the first solution,
as the search stops at its first): how many guesses the model saves over plain search.

Halting is reported as what halted: the share of puzzles the model stopped before the step limit, and
the precision of those stops (halted and right / halted), "n/a" (null in JSON) when none halted. In
JSON, `files` holds one report per file and `total` the figures over all of them, however many.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from sudoku_trm.cli.model_options import ModelOptions, load_model
from sudoku_trm.cli.progress import progress_bar
from sudoku_trm.cli.terminal import for_text
from sudoku_trm.errors import UserError
from sudoku_trm.inference.engine import Solutions
from sudoku_trm.inference.scores import Scores, score
from sudoku_trm.inference.solving import solve_puzzles
from sudoku_trm.model.weights import resolve_weights_dir
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_set
from sudoku_trm.sudoku.puzzles import STDIN_NAME

# The figures eval reports, in this order (Scores has more: training's halting accuracy and all-steps accuracy).
FIGURES = (
    "puzzles",
    "grid_accuracy",
    "cell_accuracy",
    "valid",
    "halted",
    "halt_precision",
    "mean_steps",
    "max_steps",
    "puzzles_per_second",
)


@dataclass(frozen=True)
class EvalOptions(ModelOptions):
    limit: int | None = None  # puzzles per file
    as_json: bool = False


@dataclass
class ComputeEffect:
    """What votes or adaptive solving changed against the model alone (one copy, one pass)."""

    single_grid_accuracy: float  # the model alone
    rescued: int  # wrong alone, right with the extra compute
    spoiled: int  # right alone, wrong with it


@dataclass
class SearchEffect:
    """What guided search did, over a file: who found the answers and what it cost, against plain search."""

    single_grid_accuracy: float  # the model alone
    rescued: int  # wrong alone, right after the search
    spoiled: int  # right alone, wrong after it (never, with a unique solution)
    found_by: dict[str, int]  # model alone, commit decoding, guided search, exact solver, no solution
    without_exact_solver: float  # share of puzzles answered validly before the budget ran out
    mean_model_calls: float
    mean_committed: float
    mean_guesses: float
    mean_backtracks: float
    mean_finishing_solver_guesses: float  # the exact solver's, where it finished
    mean_exact_solver_guesses: float  # the exact solver's own, on the puzzles as posed, to the first solution


@dataclass
class SearchCounts:
    """Per puzzle: what guided search did, and the exact solver's own guesses."""

    found: np.ndarray  # (N,) str
    valid: np.ndarray
    calls: np.ndarray
    committed: np.ndarray
    guesses: np.ndarray
    backtracks: np.ndarray
    solver_guesses: np.ndarray
    exact_guesses: np.ndarray

    @staticmethod
    def of(result, questions: np.ndarray) -> "SearchCounts":
        from sudoku_trm.sudoku.solver import analyse_batch

        _, _, exact = analyse_batch(questions, limit=1)
        r = result
        return SearchCounts(
            np.array(r.found), r.valid, r.calls, r.committed, r.guesses, r.backtracks, r.solver_guesses, exact
        )

    @staticmethod
    def concat(parts: list["SearchCounts"]) -> "SearchCounts":
        return SearchCounts(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in SearchCounts.__dataclass_fields__)
        )

    def effect(self, alone: np.ndarray, right: np.ndarray) -> SearchEffect:
        from sudoku_trm.inference.search import EXACT_SOLVER, FOUND

        return SearchEffect(
            float(alone.mean()),
            int((right & ~alone).sum()),
            int((alone & ~right).sum()),
            {name: int((self.found == name).sum()) for name in FOUND},
            float((self.valid & (self.found != EXACT_SOLVER)).mean()),
            float(self.calls.mean()),
            float(self.committed.mean()),
            float(self.guesses.mean()),
            float(self.backtracks.mean()),
            float(self.solver_guesses.mean()),
            float(self.exact_guesses.mean()),
        )


@dataclass
class FileReport:
    name: str
    scores: Scores
    effect: ComputeEffect | SearchEffect | None = None
    effect_name: str = "voting"  # "voting", "adaptive", "commit" or "search": the JSON key of `effect`

    def figures(self) -> dict:
        scores = self.scores.to_dict()
        return {key: scores[key] for key in FIGURES} | ({self.effect_name: asdict(self.effect)} if self.effect else {})

    def to_dict(self) -> dict:
        return {"file": self.name, **self.figures()}


@dataclass
class Outcome:
    """Solutions of one file with their labels (and the single-copy answers under voting)."""

    solutions: Solutions
    labels: np.ndarray
    single: Solutions | None = None
    search: SearchCounts | None = None


def run(files: list[str], options: EvalOptions, out: Console, err: Console) -> int:
    errors, sets = load_sets(files, options.limit, err)
    model = load_model(options)
    outcomes = [_evaluate_set(model, puzzles, options, err) for puzzles in sets]
    effect = (
        "adaptive" if options.adaptive else "commit" if options.commit else "search" if options.search else "voting"
    )
    reports = [_report(p.name, o, effect) for p, o in zip(sets, outcomes)]
    total = _report("total", _concat(outcomes), effect)
    budget = options.adaptive_budget(model)
    work = options.search_config().budget if options.search else None if budget is None else budget.work

    if options.as_json:
        document = {
            "weights": str(resolve_weights_dir(options.weights)),
            "votes": options.votes,
            "effort": options.effort if budget is None or options.effort != "off" else "default",
            "budget": work,  # model steps per puzzle at most (adaptive), model calls (search)
            "files": [r.to_dict() for r in reports],
            "total": {"files": len(reports), **total.figures()},  # over every file, even a single one
            "errors": errors,
        }
        out.print(json.dumps(document), markup=False, soft_wrap=True)
    else:
        title = _title(options.votes, None if budget is None else budget.describe(), options)
        _print_report(for_text(out), reports, total if len(reports) > 1 else None, title)
    return 1 if errors else 0


def load_sets(files: list[str], limit: int | None, err: Console) -> tuple[list[str], list[PuzzleSet]]:
    """The files' puzzles (each named by its path as given, the first `limit` of each) and the errors met,
    each said on `err` in one line; a UserError when no puzzle is left to evaluate (`eval` and `--sweep`)."""
    errors: list[str] = []
    sets: list[PuzzleSet] = []
    for path in files:
        try:
            puzzles = load_puzzle_set(path)
        except UserError as error:
            errors.append(str(error))
            continue
        errors.extend(str(e) for e in puzzles.errors)
        if limit is not None:
            puzzles = puzzles.subset(np.arange(min(limit, len(puzzles))))
        if len(puzzles):
            puzzles.name = STDIN_NAME if path == "-" else path
            sets.append(puzzles)
    for error in errors:
        err.print(f"error: {error}", markup=False)
    if not sets:
        raise UserError("no puzzles to evaluate")
    return errors, sets


def _evaluate_set(model, puzzles: PuzzleSet, options: EvalOptions, err: Console) -> Outcome:
    with progress_bar(err, f"eval {puzzles.name}", len(puzzles)) as advance:
        solved = solve_puzzles(model, puzzles.questions, options, advance)
    counts = None if solved.searched is None else SearchCounts.of(solved.searched, puzzles.questions)
    return Outcome(solved.solutions, puzzles.answers, solved.single, counts)


def _concat(outcomes: list[Outcome]) -> Outcome:
    singles = [o.single for o in outcomes]
    return Outcome(
        Solutions.concat([o.solutions for o in outcomes]),
        np.concatenate([o.labels for o in outcomes]),
        None if any(s is None for s in singles) else Solutions.concat(singles),
        None if any(o.search is None for o in outcomes) else SearchCounts.concat([o.search for o in outcomes]),
    )


def _report(name: str, outcome: Outcome, effect_name: str) -> FileReport:
    scores = score(outcome.solutions, outcome.labels)
    if outcome.single is None:
        return FileReport(name, scores)
    extra = (outcome.solutions.answers == outcome.labels).all(1)
    alone = (outcome.single.answers == outcome.labels).all(1)
    if outcome.search is not None:
        return FileReport(name, scores, outcome.search.effect(alone, extra), effect_name)
    effect = ComputeEffect(float(alone.mean()), int((extra & ~alone).sum()), int((alone & ~extra).sum()))
    return FileReport(name, scores, effect, effect_name)


def _title(votes: int, adaptive: str | None, options: EvalOptions) -> str:
    if options.search:
        config = options.search_config()
        return f"sudoku-trm eval (guided search: {config.budget} model calls per puzzle, then the exact solver)"
    if options.commit:
        return f"sudoku-trm eval (commit decoding at p >= {options.commit_threshold:g})"
    if adaptive is not None:
        return f"sudoku-trm eval (adaptive: {adaptive})"
    return "sudoku-trm eval" + (f" ({votes} votes per puzzle)" if votes > 1 else "")


# The columns of the report: the model's own figures, then what the extra compute did (if any).
MODEL_COLUMNS = ("puzzles", "exact", "cells", "valid", "halted", "precision", "steps", "puzzles/s")
EFFECT_COLUMNS = ("alone", "rescued", "spoiled")
SEARCH_COLUMNS = ("alone", "found by", "calls", "guesses", "solver's")
GAP = "  "  # between the columns of the narrow layout
EFFECT_HEADINGS = {  # the narrow layout's second block, by FileReport.effect_name
    "voting": "votes",
    "adaptive": "adaptive solving",
    "commit": "commit decoding",
    "search": "guided search",
}


def _print_report(out: Console, reports: list[FileReport], total: FileReport | None, title: str) -> None:
    """One table, a row per file, where it fits the console; else the narrow layout (`_narrow`)."""
    table = _table(reports, total, title)
    natural = Measurement.get(out, out.options.update(max_width=10**6), table).maximum  # nothing folded or cut
    if natural <= out.width:
        out.print(table)
    else:
        out.print(_narrow(reports, total, title))


def _caption(extra: bool, search: bool) -> str:
    return (
        "exact: whole grid right · cells: blank cells right · valid: obeys every rule · halted: "
        "stopped by the model, not the step limit · precision: halted and right / halted (n/a: none "
        "halted) · steps: mean (max)"
        + (" · alone: the model alone, single pass" if extra else "")
        + (
            " · found by: model alone / commit decoding / guided search / exact solver · calls, guesses: "
            "mean per puzzle · solver's: the exact solver's own guesses on the same puzzles"
            if search
            else ""
        )
    )


def _model_cells(report: FileReport) -> list[str]:
    s = report.scores
    return [
        f"{s.puzzles:,}",
        f"{s.grid_accuracy:.1%}",
        f"{s.cell_accuracy:.1%}",
        f"{s.valid:.1%}",
        f"{s.halted:.1%}",
        "n/a" if s.halt_precision is None else f"{s.halt_precision:.1%}",
        f"{s.mean_steps:.1f} ({s.max_steps})",
        f"{s.puzzles_per_second:,.1f}",
    ]


def _effect_cells(report: FileReport) -> list[str]:
    """What the extra compute did ([] under the model alone): SEARCH_COLUMNS or EFFECT_COLUMNS."""
    v = report.effect
    if isinstance(v, SearchEffect):
        found = " / ".join(str(v.found_by[k]) for k in list(v.found_by)[:4])
        return [
            f"{v.single_grid_accuracy:.1%}",
            found,
            f"{v.mean_model_calls:.1f}",
            f"{v.mean_guesses:.1f}",
            f"{v.mean_exact_solver_guesses:.1f}",
        ]
    if v is not None:
        return [f"{v.single_grid_accuracy:.1%}", str(v.rescued), str(v.spoiled)]
    return []


def _effect_columns(reports: list[FileReport]) -> tuple[str, ...]:
    if any(isinstance(r.effect, SearchEffect) for r in reports):
        return SEARCH_COLUMNS
    return EFFECT_COLUMNS if any(r.effect is not None for r in reports) else ()


def _table(reports: list[FileReport], total: FileReport | None, title: str) -> Table:
    """The wide layout: a row per file, its name in the first column."""
    effects = _effect_columns(reports)
    table = Table(title=title, caption=_caption(bool(effects), effects == SEARCH_COLUMNS))
    table.add_column("file", overflow="fold")
    for column in MODEL_COLUMNS + effects:
        table.add_column(column, justify="right", no_wrap=True)
    rows = reports + ([total] if total else [])
    for report in rows:
        table.add_row(
            report.name,
            *_model_cells(report),
            *_effect_cells(report),
            end_section=report is rows[-2] if total else False,
            style="bold" if report is total else None,
        )
    return table


def _narrow(reports: list[FileReport], total: FileReport | None, title: str) -> Group:
    """The layout for a narrow terminal, where a row per file would cut or fold the names: each file's name
    on a line of its own above its figures, the model's figures and the extra compute's in two blocks."""
    effects = _effect_columns(reports)
    blocks = [Text(title, "bold"), _block(MODEL_COLUMNS, _model_cells, reports, total)]
    if effects:
        effect = next(r.effect_name for r in reports if r.effect is not None)
        heading = f"{EFFECT_HEADINGS.get(effect, effect)}, against the model alone"
        blocks += [Text(), Text(heading, "bold"), _block(effects, _effect_cells, reports, total)]
    caption = Text(_caption(bool(effects), effects == SEARCH_COLUMNS), "dim italic")
    return Group(*blocks, Text(), caption)


def _block(headers: tuple[str, ...], cells_of, reports: list[FileReport], total: FileReport | None) -> Text:
    """Right-aligned columns under `headers`: each report's name on its own line, its cells below it."""
    rows = [(r, cells_of(r)) for r in reports + ([total] if total else [])]
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return GAP + GAP.join(cell.rjust(width) for cell, width in zip(cells, widths))

    text = Text(line(headers) + "\n", "bold")
    rule = GAP + "─" * (sum(widths) + len(GAP) * (len(widths) - 1)) + "\n"
    text.append(rule)
    for report, cells in rows:
        if report is total:
            text.append(rule)
        style = "bold" if report is total else ""
        text.append(report.name + "\n", style or "italic")
        text.append(line(cells) + "\n", style)
    text.rstrip()
    return text
