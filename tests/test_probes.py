"""One-guess probes (inference/probes.py) and the search that runs them (`SearchConfig.probes`), on puzzles
that are hard only at their start: stand-in models that answer right once one key cell holds its digit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripted_models import Scripted, Unhurried, drain

from sudoku_trm.inference import engine
from sudoku_trm.inference.probes import one_guess_children
from sudoku_trm.inference.search import EXACT_SOLVER, GUIDED_SEARCH, Move, SearchConfig, search_steps
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import BLANK, CELLS
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set


@pytest.fixture(scope="module")
def stuck(shared_sample):
    """Forum-hardest puzzles that logic cannot start on (it places no cell), and their solutions."""
    puzzles = load_puzzle_set(shared_sample / "hard_dev.csv")
    return puzzles.subset(np.array([i for i, q in enumerate(puzzles.questions) if (solver.propagate(q)[0] == q).all()]))


@pytest.fixture(scope="module")
def hard(stuck):
    assert len(stuck) >= 3
    return stuck.subset(np.arange(3))


def dead_guesses(grid: np.ndarray, legal: np.ndarray) -> set[tuple[int, int]]:
    """The (cell, digit) guesses at `grid` that logic proves wrong."""
    dead = set()
    for cell in np.flatnonzero(grid == BLANK):
        for digit in np.flatnonzero(legal[cell]) + 1:
            guessed = grid.copy()
            guessed[cell] = digit
            if solver.propagate(guessed) is None:
                dead.add((int(cell), int(digit)))
    return dead


def node_of(puzzle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grid, candidates = solver.propagate(puzzle)
    return grid, candidates & (grid == BLANK)[:, None]


def test_children_keep_every_right_guess_drop_only_dead_ones_and_come_in_reach_order(stuck):
    # The first of these puzzles where logic proves some single guesses wrong (most hard ones have none).
    row = next(i for i, q in enumerate(stuck.questions) if dead_guesses(*node_of(q)))
    puzzle, solution = stuck.questions[row], stuck.answers[row]
    grid, legal = node_of(puzzle)
    probabilities = np.random.default_rng(0).random((CELLS, 9))
    children = one_guess_children(grid, legal, probabilities)
    made = {(c.cell, c.digit) for c in children}
    dead = dead_guesses(grid, legal)
    assert made.isdisjoint(dead) and len(made) + len(dead) == legal.sum() and len(made) == len(children)
    assert all((int(cell), int(solution[cell])) in made for cell in np.flatnonzero(grid == BLANK))
    for child in children:
        assert child.grid[child.cell] == child.digit and (child.grid[grid > 0] == grid[grid > 0]).all()
        assert (child.grid == solver.propagate(child.grid)[0]).all()  # pushed as far as logic goes
    blanks = [int((c.grid == BLANK).sum()) for c in children]
    assert blanks == sorted(blanks) and blanks[0] < blanks[-1]
    for a, b in zip(children, children[1:]):  # ties: the model's surer guess first
        if (a.grid == BLANK).sum() == (b.grid == BLANK).sum():
            assert probabilities[a.cell, a.digit - 1] >= probabilities[b.cell, b.digit - 1]


def test_without_logic_children_are_the_bare_guesses_in_the_models_order(hard):
    grid, legal = node_of(hard.questions[0])
    probabilities = np.random.default_rng(1).random((CELLS, 9))
    children = one_guess_children(grid, legal, probabilities, logic=False)
    assert len(children) == legal.sum()
    assert all(((c.grid != grid).sum() == 1) for c in children)
    scores = [probabilities[c.cell, c.digit - 1] for c in children]
    assert scores == sorted(scores, reverse=True)


class KeyCell:
    """Sure and right once `cell` holds its solution digit; elsewhere unsure and wrong, with a wrong answer that
    changes at every step (so it never settles): a puzzle the model solves once one cell is given."""

    def __init__(self, solution: np.ndarray, cell: int):
        self.solution = torch.from_numpy(solution.astype(np.int64))
        self.cell = cell
        self.steps = 0

    def __call__(self, grids: torch.Tensor):
        self.steps += 1
        right = grids[:, self.cell] == self.solution[self.cell]
        # Shifted by 1 to 7, and read as the next digit where unsure (scripted_models): never the solution.
        wobble = (self.solution + self.steps % 7) % 9 + 1
        answers = torch.where(right[:, None], self.solution, wobble)
        return answers, right[:, None].expand(-1, CELLS)


def key_cell_of(puzzle: np.ndarray) -> int:
    return int(np.flatnonzero(solver.propagate(puzzle)[0] == BLANK)[0])


@pytest.mark.parametrize("probes", [7, 1000])
def test_probes_find_the_key_guess_and_count_every_child_run(hard, probes):
    puzzle, solution = hard.questions[0], hard.answers[0]
    rule = KeyCell(solution, key_cell_of(puzzle))
    model = Unhurried(rule, horizon=6)
    config = SearchConfig(budget=64, probes=probes, probe_steps=3)
    events, result = drain(search_steps(model, puzzle[None], config))
    moves = [e for e in events if isinstance(e, Move)]
    probed = [m for m in moves if m.kind == "probe"]
    assert result.found == [GUIDED_SEARCH] and result.valid.all() and (result.solutions.answers[0] == solution).all()
    assert all(m.probes == min(probes, m.probes) for m in probed) and all(m.probes <= probes for m in probed)
    assert result.guesses[0] == sum(m.probes for m in probed)  # every child run is a guess, the hit's siblings too
    assert result.calls[0] == 1 + len(probed)  # the model alone, then one call per probe
    hit = [m for m in moves if m.kind == "hit"]
    assert len(hit) == 1 and hit[0].grid[rule.cell] == solution[rule.cell]
    assert moves[-1].kind == "solved" and "guess" not in [m.kind for m in moves]
    # Row-steps: the first call runs to the horizon; a probe that misses runs each child 3 steps (it never
    # settles); the hitting probe stops all its children at step 1, when one answer is valid.
    expected = 6 + 3 * sum(m.probes for m in probed[:-1]) + probed[-1].probes
    assert result.solutions.steps[0] == model.rows_run == expected


def test_probes_that_never_hit_hand_over_to_one_cell_branching_and_the_exact_solver_finishes(hard):
    def never_right(grids: torch.Tensor):
        answers = torch.where(grids > 0, grids, 1)
        return answers, torch.zeros(grids.shape, dtype=torch.bool)

    config = SearchConfig(budget=6, probes=500)  # one call holds every child of a node
    events, result = drain(search_steps(Scripted(never_right), hard.questions, config))
    moves = [e for e in events if isinstance(e, Move)]
    found = np.array(result.found)
    assert result.valid.all() and (result.solutions.answers == hard.answers).all()
    # The exact solver finishes, or a guess of the one-cell branch that logic completes finds the answer.
    assert set(found) <= {EXACT_SOLVER, GUIDED_SEARCH} and (found == EXACT_SOLVER).sum() >= 2
    assert (result.calls <= 6).all()
    own = np.array([solver.analyse(q, limit=1).guesses for q in hard.questions])
    finished = found == EXACT_SOLVER
    assert (result.solver_guesses[finished] == own[finished]).all()  # the hand-off costs no more than alone
    for row in range(len(hard)):
        mine = [m for m in moves if m.row == row]
        kinds = [m.kind for m in mine]
        assert kinds.count("probe") >= 1 and "guess" in kinds[kinds.index("probe") :]  # then a plain branch
        assert result.guesses[row] == sum(m.probes for m in mine if m.kind == "probe") + kinds.count("guess")


def test_a_probe_call_keeps_to_the_puzzles_time_limit(hard, monkeypatch):
    """Each model step takes one (fake) second, shared by the rows that ran it; a probe's children share the
    puzzle's time left, so the call ends when that is spent, not after every child's steps."""
    clock = [0.0]
    monkeypatch.setattr(engine.time, "perf_counter", lambda: clock[0])
    puzzle, solution = hard.questions[0], hard.answers[0]
    rule = KeyCell(solution, key_cell_of(puzzle))

    def ticking(grids: torch.Tensor):
        clock[0] += 1.0
        answers, _ = rule(grids)
        return answers, torch.zeros(grids.shape, dtype=torch.bool)  # never right: the probe finds nothing

    model = Unhurried(ticking, horizon=4)
    config = SearchConfig(budget=8, probes=8, probe_steps=8, time_limit=6.0)
    events, result = drain(search_steps(model, puzzle[None], config))
    # Call 1: 4 steps alone (4 s). Call 2: 8 children share the 2 s left, 1/8 s each a step: 2 steps each.
    assert model.rows_run == 4 + 8 * 2
    assert result.calls[0] == 2 and result.timed_out[0] and result.found == [EXACT_SOLVER]


def test_the_live_view_draws_the_probe_and_its_hit_not_each_childs_steps(hard, monkeypatch):
    import contextlib
    import io

    from rich.console import Console

    from sudoku_trm.cli import live
    from sudoku_trm.inference.engine import InferenceConfig
    from sudoku_trm.sudoku.puzzles import Puzzle

    puzzle, solution = hard.questions[0], hard.answers[0]
    model = Unhurried(KeyCell(solution, key_cell_of(puzzle)), horizon=3)
    frames = []
    monkeypatch.setattr(live.Live, "update", lambda self, renderable, refresh=False: frames.append(renderable))
    out = Console(file=io.StringIO(), force_terminal=True, width=120)
    live.watch(
        out,
        Puzzle(puzzle, None, "<test>", 1),
        lambda: model,
        InferenceConfig,
        0.0,
        lambda m, n: contextlib.nullcontext(),
        None,
        lambda: SearchConfig(budget=16, probes=1000),
    )
    statuses = []
    for frame in frames:
        console = Console(file=io.StringIO(), width=160, color_system=None)
        console.print(frame)
        statuses.append(console.file.getvalue().strip().splitlines()[-1])
    assert any("one-cell guesses at once" in s for s in statuses)
    hit = [s for s in statuses if "gave a valid answer" in s]
    assert len(hit) == 1
    # The probe call's own steps draw nothing: after the first call's 3 steps, only moves are drawn.
    assert hit[0].startswith("call 2 ")  # drawn after the probe call, which counts
    # The probe call's own steps draw nothing: the only steps drawn are the first call's three.
    assert [s.split("  ")[0] for s in statuses if "step " in s and "/" in s.split("  ")[0]] == [
        "step 0/3",
        "call 1, step 1/3",
        "call 1, step 2/3",
        "call 1, step 3/3",
    ]
