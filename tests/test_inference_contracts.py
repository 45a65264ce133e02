"""Contracts of the inference engine and voting that mutation testing found unpinned: step limits, batches
with traces, and every per-cell array that voting maps back from the symmetric copies."""

import numpy as np
import pytest

from sudoku_trm.inference.engine import InferenceConfig, Solutions, solve
from sudoku_trm.inference.voting import map_back, solve_with_votes, symmetric_copies
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set


@pytest.fixture(scope="module")
def model(tiny_weights):
    return load_weights(tiny_weights)


@pytest.fixture(scope="module")
def puzzles(shared_sample):
    return load_puzzle_set(shared_sample / "hard_dev.csv", cache_dir=None).questions[:12]


@pytest.mark.parametrize(
    ("steps", "max_steps", "expected"),
    [(None, None, 3), (None, 2, 2), (1, None, 1), (3, 2, 3), (2, 5, 2)],
)
def test_the_step_limit_is_steps_then_max_steps_then_the_models(model, steps, max_steps, expected):
    assert InferenceConfig(steps=steps, max_steps=max_steps).step_limit(model) == expected


def test_a_step_limit_below_one_is_refused(model):
    with pytest.raises(ValueError, match="at least 1"):
        InferenceConfig(max_steps=-1).step_limit(model)


def same_solutions(a: Solutions, b: Solutions) -> None:
    """Every field equal: NaN where a puzzle had stopped, traces repeating its last step."""
    for name in ("puzzles", "answers", "steps", "halted", "trace_answers"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
    np.testing.assert_allclose(a.trace_confidence.astype(np.float32), b.trace_confidence.astype(np.float32), atol=1e-3)
    assert np.array_equal(np.isnan(a.halt_probabilities), np.isnan(b.halt_probabilities))
    np.testing.assert_allclose(a.halt_probabilities, b.halt_probabilities, atol=1e-5)


def test_traced_batches_join_into_the_same_solutions_as_one_batch(model, puzzles):
    config = InferenceConfig(trace=True, batch_size=len(puzzles))
    together = solve(model, puzzles, config)
    assert len(set(together.steps.tolist())) > 1  # puzzles stop at different steps: padding is exercised
    in_pieces = solve(model, puzzles, InferenceConfig(trace=True, batch_size=5))
    same_solutions(together, in_pieces)
    parts = [solve(model, puzzles[i : i + 1], InferenceConfig(trace=True)) for i in range(len(puzzles))]
    joined = Solutions.concat(parts)
    same_solutions(together, joined)
    assert joined.seconds == pytest.approx(sum(p.seconds for p in parts))
    # select keeps every per-puzzle array, traces included, and the run's time
    rows = np.array([4, 0, 9])
    picked = together.select(rows)
    for name in ("puzzles", "answers", "confidence", "steps", "halted", "trace_answers", "trace_confidence"):
        assert np.array_equal(getattr(picked, name), getattr(together, name)[rows]), name
    assert np.array_equal(picked.halt_probabilities, together.halt_probabilities[rows], equal_nan=True)
    assert picked.seconds == together.seconds


def test_voting_maps_every_array_of_each_copy_back_to_the_puzzle(model, puzzles):
    """Solve the copies by hand, map them back: each copy's final answer and confidence equal its trace's
    last step, and the givens reappear where the puzzle has them."""
    copies, symmetries = symmetric_copies(puzzles, votes=3, seed=5)
    raw = solve(model, copies, InferenceConfig(trace=True))
    back = map_back(raw, symmetries)
    assert np.array_equal(back.puzzles, np.repeat(puzzles, 3, axis=0))
    last = back.steps - 1
    rows = np.arange(len(back))
    assert np.array_equal(back.trace_answers[rows, last], back.answers)
    np.testing.assert_allclose(back.trace_confidence[rows, last].astype(np.float32), back.confidence, atol=1e-3)
    given = back.puzzles > 0
    assert np.array_equal(back.answers[given], back.puzzles[given])
    assert np.all(back.confidence[given] == 1.0)  # givens are certain, wherever the symmetry moved them
    assert back.seconds == raw.seconds
    assert np.array_equal(back.steps, raw.steps) and np.array_equal(back.halted, raw.halted)


def test_a_majority_answer_reports_the_share_of_copies_agreeing_per_cell(model, puzzles):
    votes = 4
    result = solve_with_votes(model, puzzles, votes, InferenceConfig(), seed=2)
    assert result.votes == votes
    assert result.majority.all()  # the untrained model never gives a valid grid: every cell is voted
    copies, symmetries = symmetric_copies(puzzles, votes, seed=2)
    back = map_back(solve(model, copies, InferenceConfig()), symmetries)
    answers = back.answers.reshape(len(puzzles), votes, 81)
    share = (answers == result.solutions.answers[:, None]).mean(1)
    np.testing.assert_allclose(result.solutions.confidence, share, atol=1e-6)
    assert np.array_equal(result.agreeing, (answers == result.solutions.answers[:, None]).all(2).sum(1))


def test_the_seed_chooses_the_copies(puzzles):
    first, _ = symmetric_copies(puzzles, votes=3, seed=0)
    again, _ = symmetric_copies(puzzles, votes=3, seed=0)
    other, _ = symmetric_copies(puzzles, votes=3, seed=1)
    assert np.array_equal(first, again) and not np.array_equal(first[1::3], other[1::3])
