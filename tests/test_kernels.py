"""The solver's kernels run as plain Python for a process's first few hundred propagations, then compiled
(sudoku/kernels.py): the budget is counted exactly, an overrun hands over without changing any result, a big
batch compiles at once, and a short job never imports numba."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import PUZZLES
from numba.core.registry import CPUDispatcher

from sudoku_trm.sudoku import kernels, logic, solver
from sudoku_trm.sudoku.puzzles import read_puzzles


def _grids(name: str) -> np.ndarray:
    return np.stack([p.grid for p in read_puzzles(PUZZLES / name).puzzles])


@pytest.fixture(scope="module")
def hard() -> np.ndarray:
    """very_hard.txt's first puzzle: 414 guesses to prove it unique."""
    grid = _grids("very_hard.txt")[0]
    kernels.compile_all()
    assert solver.analyse(grid).guesses > 100
    return grid


def _compiled_analysis(grids: np.ndarray) -> tuple[np.ndarray, ...]:
    kernels.compile_all()
    return solver.analyse_batch(grids)


def _same(got: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...]) -> None:
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def plain_searches(monkeypatch) -> list[int]:
    """The solution counts the plain `_analyse` returned, in call order (-1: it stopped at its cap); compiled
    searches are not seen."""
    kernels.compile_all()  # the dispatchers exist, so compiling later swaps the spy out like any plain kernel
    key = ("sudoku_trm.sudoku.solver", "_analyse")
    real, returned = kernels._plain[key], []

    def spy(*args):
        count, guesses = real(*args)
        returned.append(count)
        return count, guesses

    monkeypatch.setitem(kernels._plain, key, spy)
    return returned


def _is_compiled() -> bool:
    return isinstance(solver._analyse, CPUDispatcher) and isinstance(logic._rounds, CPUDispatcher)


def test_a_search_spends_one_propagation_per_node_and_stays_plain():
    grids = _grids("medium.txt")[:3]
    expected = _compiled_analysis(grids)
    nodes = int(len(grids) + expected[2].sum())  # the root of each search and one node per guess
    assert expected[2].sum() > 0  # some guesses, or the count would not tell nodes from puzzles
    with kernels.plain(work=100):
        got = solver.analyse_batch(grids)
        assert kernels.plain_work_left() == 100 - nodes
        assert not kernels.compiled() and not _is_compiled()
    _same(got, expected)


def test_a_search_that_would_overrun_the_budget_is_run_again_compiled(hard):
    expected = _compiled_analysis(hard[None])
    with kernels.plain(work=50):
        got = solver.analyse_batch(hard[None])
        assert kernels.compiled() and _is_compiled() and kernels.plain_work_left() == 0
    _same(got, expected)


def test_the_budget_spent_to_the_last_propagation_then_compiles(hard, plain_searches):
    expected = _compiled_analysis(hard[None])
    nodes = 1 + int(expected[2][0])
    with kernels.plain(work=nodes):  # exactly enough: the search runs plain, and the next one compiles
        _same(solver.analyse_batch(hard[None]), expected)
        assert kernels.compiled() and plain_searches == [1]
    with kernels.plain(work=nodes + 1):
        _same(solver.analyse_batch(hard[None]), expected)
        assert not kernels.compiled() and kernels.plain_work_left() == 1 and plain_searches == [1, 1]
    with kernels.plain(work=nodes - 1):  # one short: the plain search stops before its last guess
        _same(solver.analyse_batch(hard[None]), expected)
        assert kernels.compiled() and plain_searches == [1, 1, -1]


def test_an_overrun_in_the_middle_of_a_batch_keeps_every_result(hard):
    grids = np.stack([_grids("easy.txt")[0], hard, _grids("medium.txt")[1], hard])
    expected = _compiled_analysis(grids)
    with kernels.plain(work=200):
        _same(solver.analyse_batch(grids), expected)
        assert kernels.compiled()


def test_a_batch_bigger_than_the_budget_compiles_at_once(plain_searches):
    grids = _grids("easy.txt")
    expected = _compiled_analysis(grids)
    with kernels.plain(work=len(grids) - 1):
        assert not _is_compiled()
        _same(solver.analyse_batch(grids), expected)
        assert _is_compiled() and plain_searches == []
    with kernels.plain(work=len(grids)):  # as many puzzles as propagations left: they start plain
        _same(solver.analyse_batch(grids), expected)
        assert plain_searches == [1] * len(grids)


def test_logic_rounds_propagate_and_branch_cell_spend_the_budget():
    grids = _grids("hard.txt")[:2]
    kernels.compile_all()
    rounds = logic.logic_rounds(grids)
    with kernels.plain(work=100):
        plain_rounds = logic.logic_rounds(grids)
        assert kernels.plain_work_left() == 100 - logic.ROUNDS_WORK * len(grids)
        grid, candidates = solver.propagate(grids[0])
        cell = solver.branch_cell(grid, candidates)
        assert kernels.plain_work_left() == 100 - logic.ROUNDS_WORK * len(grids) - 2
        assert not kernels.compiled()
    for a, b in zip(plain_rounds, rounds):
        np.testing.assert_array_equal(a, b)
    assert cell == solver.branch_cell(grid, candidates)
    with kernels.plain(work=2 * logic.ROUNDS_WORK):  # a batch whose rounds the budget cannot cover compiles first
        logic.logic_rounds(_grids("hard.txt")[:3])
        assert kernels.compiled() and _is_compiled()


def test_without_numba_the_kernels_stay_plain_and_finish_every_search(hard, monkeypatch):
    expected = _compiled_analysis(hard[None])
    with kernels.plain(work=20):
        monkeypatch.setitem(sys.modules, "numba", None)  # an import of it now fails
        _same(solver.analyse_batch(hard[None]), expected)
        assert not kernels.compiled() and not _is_compiled()
        assert kernels.plain_work_left() > 10**9  # never asks again
        monkeypatch.undo()
    assert _is_compiled()


def test_checking_a_short_file_never_imports_numba():
    """What `solve PUZZLE` and `check PUZZLE` do first: read and check the input. As plain Python, without
    importing numba (0.4 s) or loading its compiled code (0.3 s more)."""
    probe = (
        "import sys\n"
        "from sudoku_trm.sudoku import checking, kernels\n"
        f"report = checking.check_files([{str(PUZZLES / 'medium.txt')!r}])\n"
        "print(sum(r.guesses for r in report.records), len(report.records), kernels.plain_work_left())\n"
        "print('numba' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    counts, imported = result.stdout.splitlines()
    guesses, puzzles, left = map(int, counts.split())
    assert puzzles == 6 and imported == "False"
    # Each search: its root and one node per guess; each grade: two rounds runs (singles, then with locked candidates).
    assert left == kernels.PLAIN_WORK - (puzzles + guesses) - 2 * logic.ROUNDS_WORK * puzzles
