"""`sudoku-trm eval --sweep`: exact accuracy against compute, one adaptive run per budget.

Adaptive solving (inference/adaptive.py) spends model steps on a puzzle until an answer passes the exact
check. The sweep runs one spending plan, SWEEP_PLAN (the "thorough" preset), cut off at growing budgets
of model steps per puzzle, and reports for each file and budget the exact accuracy, the model steps
actually spent (mean and max per puzzle), the wall time, and the stage that found each answer. Budgets
are multiples of H, the model's step limit (`--max-steps` sets it): a budget of H is the model alone plus
the exact check on every step of its own chain, which runs on past a wrong halt up to H. The plan itself
ends at 52H, so a larger budget spends no more. Every budget starts with the same first stage, the
model's own run, so the single-pass accuracy (the model's own figure) is identical at every budget and
is reported beside.

`--plot PATH` draws the curve as a PNG with matplotlib, the standard plotting library: its Agg backend
writes files without a display (a server, CI), and it stays an optional extra (`sudoku-trm[plot]`) so
that the solver does not pull it in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from sudoku_trm.cli.eval import EvalOptions, load_sets
from sudoku_trm.cli.model_options import load_model
from sudoku_trm.cli.terminal import for_text
from sudoku_trm.errors import UserError
from sudoku_trm.inference.adaptive import AdaptiveSolutions, Stage, preset, solve_adaptive
from sudoku_trm.inference.engine import InferenceConfig
from sudoku_trm.inference.solving import cpu_threads
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import resolve_weights_dir
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet

# The plan every budget truncates: own chain to 4H, then 16 symmetric copies and 8 random restarts of 2H
# steps (52H in all). One plan for every budget, so a larger budget only adds work after the same stages.
SWEEP_PLAN = "thorough"
MULTIPLES = (1, 2, 4, 8, 16, 32)  # the default budgets, in multiples of H
STAGES = tuple(stage for stage in Stage if stage is not Stage.UNSOLVED)
NO_MATPLOTLIB = "--plot needs matplotlib: pip install 'sudoku-trm[plot]'"
_NOTE_STYLE = dict(textcoords="offset points", fontsize=7, color="0.3")  # the budget beside each marker


@dataclass(frozen=True)
class SweepPoint:
    """One file at one budget."""

    file: str
    budget: int  # model steps per puzzle at most
    horizon: int  # H, the model's step limit (the budget of the model alone)
    puzzles: int
    exact: float  # answers equal to the labels, whole grid
    single_pass_exact: float  # the model alone: the same figure for its own single-pass answers
    mean_steps: float  # model steps spent per puzzle, over all its chains
    max_steps: int
    seconds: float  # wall time of the model work
    solved_by: dict[str, int]  # puzzles whose answer each stage found (model, steps, copies, restarts)


def budgets_for(horizon: int, multiples: Sequence[int] = MULTIPLES) -> list[int]:
    """Work caps in model steps per puzzle: H times each multiple."""
    return [horizon * multiple for multiple in multiples]


def run_sweep(
    model: TRM,
    puzzle_set: PuzzleSet,
    budgets: Sequence[int],
    config: InferenceConfig = InferenceConfig(),
    seed: int = 0,
    on_point: Callable[[SweepPoint], None] | None = None,
) -> list[SweepPoint]:
    """Solve `puzzle_set` once per budget (model steps per puzzle, each at least H), SWEEP_PLAN cut off at
    that budget; `on_point` sees each point as it is measured."""
    horizon = config.step_limit(model)
    plan = preset(SWEEP_PLAN, horizon)
    points = []
    for budget in budgets:
        result = solve_adaptive(model, puzzle_set.questions, replace(plan, work=budget), config, seed)
        point = _point(puzzle_set, budget, horizon, result)
        if on_point is not None:
            on_point(point)
        points.append(point)
    return points


def _point(puzzle_set: PuzzleSet, budget: int, horizon: int, result: AdaptiveSolutions) -> SweepPoint:
    exact = (result.solutions.answers == puzzle_set.answers).all(1)
    single = (result.single.answers == puzzle_set.answers).all(1)
    found = np.bincount(result.stage, minlength=len(Stage))
    return SweepPoint(
        file=puzzle_set.name,
        budget=budget,
        horizon=horizon,
        puzzles=len(puzzle_set),
        exact=float(exact.mean()),
        single_pass_exact=float(single.mean()),
        mean_steps=float(result.work.mean()),
        max_steps=int(result.work.max()),
        seconds=result.seconds,
        solved_by={stage.label: int(found[stage]) for stage in STAGES},
    )


def _budget_label(point: SweepPoint) -> str:
    """`4H (16)`: the budget as a multiple of H, with its model steps."""
    multiple = point.budget / point.horizon
    return f"{multiple:g}H ({point.budget})"


SWEEP_TITLE = f"sudoku-trm eval --sweep (the {SWEEP_PLAN} plan, cut off at each budget)"
SWEEP_CAPTION = (
    "budget: model steps per puzzle at most, H = the model's step limit · steps: model steps spent per puzzle, "
    "mean (max) · exact: whole grid right · model alone: the model's own single-pass figure, the same at every "
    "budget · model, steps, copies, restarts: puzzles whose answer that stage found"
)
SWEEP_COLUMNS = ("budget", "steps", "seconds", "exact", "model alone", *(stage.label for stage in STAGES))


def _sweep_cells(point: SweepPoint) -> list[str]:
    return [
        _budget_label(point),
        f"{point.mean_steps:.1f} ({point.max_steps})",
        f"{point.seconds:.2f}",
        f"{point.exact:.1%}",
        f"{point.single_pass_exact:.1%}",
        *(f"{point.solved_by[stage.label]:,}" for stage in STAGES),
    ]


def sweep_table(points: list[SweepPoint]) -> Table:
    """The wide layout: a row per file and budget, the file's name in the first column."""
    table = Table(title=SWEEP_TITLE, caption=SWEEP_CAPTION)
    table.add_column("file", overflow="fold")
    for column in SWEEP_COLUMNS:
        table.add_column(column, justify="right", no_wrap=True)
    for i, point in enumerate(points):
        last_of_file = i + 1 < len(points) and points[i + 1].file != point.file
        table.add_row(point.file, *_sweep_cells(point), end_section=last_of_file)
    return table


def narrow_sweep(points: list[SweepPoint]) -> Group:
    """The layout for a narrow terminal, where a row per file would fold the names: each file's name on a
    line of its own, above its budgets' figures in right-aligned columns."""
    headers = [column.replace("model alone", "alone") for column in SWEEP_COLUMNS]
    rows = [(point, _sweep_cells(point)) for point in points]
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))

    blocks: list[Text] = [Text(SWEEP_TITLE, "bold")]
    for name in dict.fromkeys(point.file for point in points):
        block = Text(name + "\n", "italic")
        block.append(line(headers) + "\n", "bold")
        block.append("\n".join(line(cells) for point, cells in rows if point.file == name))
        blocks += [Text(), block]
    caption = SWEEP_CAPTION.replace("model alone: the model's", "alone: the model's")
    return Group(*blocks, Text(), Text(caption, "dim italic"))


def print_sweep(out: Console, points: list[SweepPoint]) -> None:
    """The wide table where it fits the console unfolded; else the narrow layout."""
    table = sweep_table(points)
    natural = Measurement.get(out, out.options.update(max_width=10**6), table).maximum
    out.print(table if natural <= out.width else narrow_sweep(points))


def sweep_json(points: list[SweepPoint]) -> dict:
    """One record per (file, budget), in the order measured."""
    return {"plan": SWEEP_PLAN, "points": [asdict(point) for point in points]}


def save_plot(points: list[SweepPoint], path: str | Path) -> None:
    """A PNG of exact accuracy (%) against mean model steps per puzzle (log scale), one line per file, and
    each file's single-pass accuracy as a dashed line."""
    FigureCanvasAgg, Figure, ScalarFormatter = _matplotlib()
    # A Figure on the Agg canvas, not pyplot: no display, and no global backend switched for the caller.
    figure = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    files = list(dict.fromkeys(point.file for point in points))
    for index, name in enumerate(files):
        color = f"C{index}"
        mine = sorted((p for p in points if p.file == name), key=lambda p: p.budget)
        steps = [p.mean_steps for p in mine]
        axes.plot(steps, [100 * p.exact for p in mine], marker="o", color=color, label=f"{name} (adaptive)")
        for point, x in zip(mine, steps):
            axes.annotate(f"{point.budget / point.horizon:g}H", (x, 100 * point.exact), xytext=(4, -12), **_NOTE_STYLE)
        single = 100 * mine[0].single_pass_exact
        axes.axhline(single, linestyle="--", color=color, alpha=0.7, label=f"{name}: model alone ({single:.1f}%)")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(ScalarFormatter())  # 10, 100: steps read as numbers, not powers
    axes.xaxis.set_minor_formatter(ScalarFormatter())  # a short range has only minor ticks: numbers there too
    axes.set_xlabel("mean model steps per puzzle (log scale)")
    axes.set_ylabel("exact accuracy (%)")
    axes.set_title(f"Exact accuracy against compute ({SWEEP_PLAN} plan cut off at budgets of 1H, 2H, ...)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    try:
        figure.savefig(path, format="png", dpi=120)
    except OSError as error:
        raise UserError(f"cannot write the plot to {path}: {error.strerror or error}") from None


def _matplotlib() -> tuple:
    """What save_plot draws with: (FigureCanvasAgg, Figure, ScalarFormatter); a UserError if it is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import ScalarFormatter
    except ImportError:
        raise UserError(NO_MATPLOTLIB) from None
    return FigureCanvasAgg, Figure, ScalarFormatter


def run(
    files: list[str],
    options: EvalOptions,
    budgets: Sequence[int],
    plot: Path | None,
    out: Console,
    err: Console,
) -> int:
    """The sweep as a command: `budgets` in multiples of H. Returns 1 if an input was bad, else 0."""
    if options.steps is not None:
        raise UserError("--sweep stops each puzzle by itself: --steps does not apply (--max-steps sets H)")
    if options.adaptive:
        raise UserError("--sweep runs the thorough plan at each of its own budgets: --effort and --budget do not apply")
    if options.votes > 1:
        raise UserError("--sweep spends its budget on symmetric copies itself: --votes does not apply")
    if not budgets or min(budgets) < 1:
        raise UserError("sweep budgets are multiples of the model's step limit: each at least 1")
    if plot is not None:
        _matplotlib()  # missing: said now, not after the whole sweep
    errors, sets = load_sets(files, options.limit, err)

    model = load_model(options)
    config = options.inference()
    caps = budgets_for(config.step_limit(model), sorted(set(budgets)))
    points: list[SweepPoint] = []
    copies = preset(SWEEP_PLAN, 1).copies
    for puzzles in sets:
        # Rows at once: at most a batch, and at most every puzzle's copies (the widest stage) together.
        with cpu_threads(model, min(options.batch_size, len(puzzles) * copies)):
            points += run_sweep(model, puzzles, caps, config, options.seed, lambda p: _progress(err, p))

    if options.as_json:
        document = {"weights": str(resolve_weights_dir(options.weights)), **sweep_json(points), "errors": errors}
        out.print(json.dumps(document), markup=False, soft_wrap=True)
    else:
        print_sweep(for_text(out), points)
    if plot is not None:
        save_plot(points, plot)
        err.print(f"saved the plot to {plot}", markup=False)
    return 1 if errors else 0


def _progress(err: Console, point: SweepPoint) -> None:
    err.print(
        f"sweep {point.file}: budget {_budget_label(point)}: exact {point.exact:.1%} "
        f"(model alone {point.single_pass_exact:.1%}), {point.mean_steps:.1f} steps per puzzle, "
        f"{point.seconds:.2f} s",
        markup=False,
    )
