"""The inference engine and test-time voting: halting, fixed steps, givens, batching, inverse mapping."""

import numpy as np
import pytest
import torch

from sudoku_trm.inference.engine import InferenceConfig, Solutions, solve
from sudoku_trm.inference.scores import score
from sudoku_trm.inference.voting import choose, map_back, solve_with_votes, symmetric_copies
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set


@pytest.fixture(scope="module")
def model(tiny_weights):
    return load_weights(tiny_weights)


@pytest.fixture(scope="module")
def dev(shared_sample):
    return load_puzzle_set(shared_sample / "hard_dev.csv", cache_dir=None)


def test_halting_stops_each_puzzle_at_its_first_halt(model, dev):
    result = solve(model, dev.questions[:40], InferenceConfig(trace=True))
    limit = model.config.halt_max_steps
    assert 1 < len(set(result.steps.tolist()))  # the fixture's head halts puzzles at different steps
    for i in range(40):
        steps = int(result.steps[i])
        probabilities = result.halt_probabilities[i]
        assert not (probabilities[: steps - 1] > 0.5).any()  # no earlier halt was ignored
        assert result.halted[i] == (probabilities[steps - 1] > 0.5)
        assert result.halted[i] or steps == limit
        assert np.isnan(probabilities[steps:]).all()  # nothing recorded after stopping
        assert np.array_equal(result.trace_answers[i, steps - 1], result.answers[i])


def test_fixed_steps_ignore_the_halting_head(model, dev):
    result = solve(model, dev.questions[:20], InferenceConfig(steps=5))
    assert (result.steps == 5).all()
    assert result.halt_probabilities.shape == (20, 5) and not np.isnan(result.halt_probabilities).any()
    assert np.array_equal(result.halted, result.halt_probabilities[:, -1] > 0.5)


def test_max_steps_caps_the_run(model, dev):
    result = solve(model, dev.questions[:20], InferenceConfig(max_steps=2))
    assert result.steps.max() <= 2 and result.halt_probabilities.shape[1] <= 2


def test_givens_are_never_overwritten(model, dev):
    result = solve(model, dev.questions[:20], InferenceConfig(steps=3, trace=True))
    given = dev.questions[:20] > 0
    assert np.array_equal(result.answers[given], dev.questions[:20][given])
    assert (result.confidence[given] == 1).all()
    for step in range(3):
        assert np.array_equal(result.trace_answers[:, step][given], dev.questions[:20][given])
    assert ((result.answers >= 1) & (result.answers <= 9)).all()  # every blank gets a digit
    blanks = ~given
    assert ((result.confidence[blanks] > 0) & (result.confidence[blanks] <= 1)).all()


def test_batches_and_early_exits_do_not_change_answers(model, dev):
    """Halted puzzles leave the batch; the others' results must not depend on who left or the batch size."""
    together = solve(model, dev.questions[:24], InferenceConfig(batch_size=24))
    in_small_batches = solve(model, dev.questions[:24], InferenceConfig(batch_size=5))
    alone = Solutions.concat([solve(model, dev.questions[i : i + 1]) for i in range(24)])
    for other in (in_small_batches, alone):
        assert np.array_equal(together.answers, other.answers)
        assert np.array_equal(together.steps, other.steps)
        np.testing.assert_allclose(together.confidence, other.confidence, atol=1e-5)


def test_symmetric_copies_map_back_exactly(dev):
    """Copies of the puzzles and of their solutions, mapped back, are the originals cell for cell."""
    puzzles, answers = dev.questions[:10], dev.answers[:10]
    copies, symmetries = symmetric_copies(puzzles, votes=4, seed=3)
    assert np.array_equal(copies[::4], puzzles)  # copy 0 is the puzzle itself
    assert not np.array_equal(copies[1::4], puzzles)
    copied_answers = augment.apply(np.repeat(answers, 4, axis=0), symmetries)
    confidence = np.tile(np.arange(81, dtype=np.float32), (40, 1))
    trace = np.stack([copies, copied_answers], axis=1)  # (40, 2 steps, 81)
    fake = Solutions(
        copies,
        copied_answers,
        confidence,
        np.full(40, 2),
        np.ones(40, bool),
        np.zeros((40, 2), np.float32),
        1.0,
        trace,
        trace.astype(np.float16),
    )
    back = map_back(fake, symmetries)
    assert np.array_equal(back.puzzles, np.repeat(puzzles, 4, axis=0))
    assert np.array_equal(back.answers, np.repeat(answers, 4, axis=0))
    assert np.array_equal(back.trace_answers[:, 1], np.repeat(answers, 4, axis=0))
    # confidence moves with its cell but is not relabelled like a digit
    cells = symmetries.cells.argsort(1)
    assert np.array_equal(back.confidence, np.take_along_axis(confidence, cells, 1))


def test_choose_prefers_a_valid_answer_even_in_the_minority(dev):
    puzzle, answer = dev.questions[0], dev.answers[0]
    wrong = answer.copy()
    blank = int(np.flatnonzero(puzzle == 0)[0])
    wrong[blank] = wrong[blank] % 9 + 1
    candidates = np.stack([wrong, wrong, answer])
    picked, copy = choose(puzzle, candidates, np.full((3, 81), 0.9, np.float32))
    assert copy == 2 and np.array_equal(picked, answer)
    # without a valid candidate every cell takes its majority digit
    other = wrong.copy()
    other[blank] = other[blank] % 9 + 1
    picked, copy = choose(puzzle, np.stack([wrong, wrong, other]), np.ones((3, 81), np.float32))
    assert copy is None and np.array_equal(picked, wrong)


def test_votes_keep_the_single_answer_and_report_it(model, dev):
    plain = solve(model, dev.questions[:12])
    voted = solve_with_votes(model, dev.questions[:12], votes=3, seed=1)
    assert np.array_equal(voted.single.answers, plain.answers)
    assert np.array_equal(voted.single.steps, plain.steps)
    assert (voted.agreeing <= 3).all()
    assert (voted.agreeing[~voted.majority] >= 1).all()  # a chosen copy agrees with itself
    assert np.array_equal(voted.majority, voted.valid_candidates == 0)
    one = solve_with_votes(model, dev.questions[:12], votes=1)
    assert np.array_equal(one.solutions.answers, plain.answers)


def test_score_counts_by_hand(dev):
    """Two of four answers exact; blanks right counted cell by cell; halting right when halted == correct."""
    puzzles, labels = dev.questions[:4], dev.answers[:4]
    answers = labels.copy()
    for i, wrong_cells in ((2, 1), (3, 5)):
        for cell in np.flatnonzero(puzzles[i] == 0)[:wrong_cells]:
            answers[i, cell] = answers[i, cell] % 9 + 1
    halted = np.array([True, False, False, True])
    fake = Solutions(
        puzzles,
        answers,
        np.ones((4, 81), np.float32),
        np.array([1, 3, 3, 2]),
        halted,
        np.zeros((4, 3), np.float32),
        2.0,
    )
    result = score(fake, labels)
    blanks = int((puzzles == 0).sum())
    assert result.grid_accuracy == 0.5
    assert result.cell_accuracy == pytest.approx((blanks - 6) / blanks)
    assert result.valid == 0.5
    assert result.halting_accuracy == 0.5  # right for puzzles 0 (halted, correct) and 2 (ran on, wrong)
    assert result.mean_steps == 2.25 and result.max_steps == 3
    assert result.puzzles_per_second == 2.0


def test_runs_on_the_model_dtype_and_device(model, dev):
    assert next(model.parameters()).device == torch.device("cpu")
    result = solve(model, dev.questions[:3], InferenceConfig(bf16=True))  # bf16 applies on CUDA only
    assert result.answers.dtype == np.uint8 and result.confidence.dtype == np.float32


# -- keeping the recursive state, and starting from it ---------------------------------------------------


def test_a_run_started_from_a_kept_state_continues_it(model, dev):
    """3 steps, then 2 more from where they ended, are 5 steps in one run."""
    from sudoku_trm.inference.engine import finish, solve_steps

    puzzles = dev.questions[:6]
    first = finish(solve_steps(model, puzzles, InferenceConfig(steps=3, keep_state=True)))
    assert first.state is not None and first.state[0].shape == (6, model.config.total_len, model.config.hidden_size)
    more = finish(solve_steps(model, puzzles, InferenceConfig(steps=2), start=first.state))
    straight = finish(solve_steps(model, puzzles, InferenceConfig(steps=5, keep_state=True)))
    assert np.array_equal(more.answers, straight.answers)
    np.testing.assert_allclose(more.confidence, straight.confidence, rtol=1e-5, atol=1e-6)
    cold = finish(solve_steps(model, puzzles, InferenceConfig(steps=2)))
    assert not np.allclose(cold.confidence, more.confidence)  # the start mattered


def test_each_puzzle_keeps_the_state_of_its_own_last_step(model, dev):
    from sudoku_trm.inference.engine import finish, solve_steps

    puzzles = dev.questions[:40]
    together = finish(solve_steps(model, puzzles, InferenceConfig(keep_state=True)))
    assert len(set(together.steps.tolist())) > 1  # puzzles stopped at different steps
    for i in (int(np.argmin(together.steps)), int(np.argmax(together.steps))):
        alone = finish(
            solve_steps(model, puzzles[i : i + 1], InferenceConfig(steps=int(together.steps[i]), keep_state=True))
        )
        for part in (0, 1):
            np.testing.assert_allclose(together.state[part][i], alone.state[part][0], rtol=1e-4, atol=1e-5)
    assert together.select(np.array([2, 0])).state[0].shape[0] == 2
    assert Solutions.concat([together, together]).state[1].shape[0] == 80
