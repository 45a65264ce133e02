"""Rule checks: the vectorised conflict test agrees with the one that names the conflicts."""

import numpy as np

from sudoku_trm.sudoku.grid import find_conflicts, has_conflicts


def test_has_conflicts_agrees_with_find_conflicts(shared_sample):
    rows = [line.split(",") for line in (shared_sample / "hard_dev.csv").read_text().splitlines()[1:]]
    answers = np.array([[int(c) for c in r[2]] for r in rows], dtype=np.uint8)
    rng = np.random.default_rng(0)
    broken = answers.copy()
    cells = rng.integers(0, 81, len(broken))
    broken[np.arange(len(broken)), cells] = rng.integers(1, 10, len(broken))  # some rows now repeat a digit
    grids = np.concatenate([answers, broken])
    expected = np.array([bool(find_conflicts(g)) for g in grids])
    assert not expected[: len(answers)].any() and expected.any()
    assert np.array_equal(has_conflicts(grids), expected)
