"""Contracts of the inference engine and voting that mutation testing found unpinned: step limits, batches
with traces, and every per-cell array that voting maps back from the symmetric copies."""

import numpy as np
import pytest

from sudoku_trm.errors import InputError
from sudoku_trm.inference.engine import (
    InferenceConfig,
    Solutions,
    Step,
    as_grids,
    finish,
    solve,
    solve_batch,
    solve_steps,
)
from sudoku_trm.inference.voting import choose, map_back, solve_with_votes, symmetric_copies
from sudoku_trm.model.weights import load_weights
from sudoku_trm.sudoku import augment
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


# -- per-pass arrays, step limits and dtypes through select, concat and map_back ------------------------


def made_up_solutions(count: int, steps: int, passes: int, seed: int, step_limit: int | None = 4) -> Solutions:
    """Solutions with every array filled from a seeded generator, pass arrays included."""
    rng = np.random.default_rng(seed)
    return Solutions(
        puzzles=rng.integers(0, 10, (count, 81)).astype(np.uint8),
        answers=rng.integers(1, 10, (count, 81)).astype(np.uint8),
        confidence=rng.random((count, 81), dtype=np.float32),
        steps=rng.integers(1, steps + 1, count),
        halted=rng.random(count) < 0.5,
        halt_probabilities=rng.random((count, steps), dtype=np.float32),
        seconds=float(seed),
        trace_answers=rng.integers(1, 10, (count, steps, 81)).astype(np.uint8),
        trace_confidence=rng.random((count, steps, 81)).astype(np.float16),
        step_limit=step_limit,
        pass_answers=rng.integers(1, 10, (count, steps, passes, 81)).astype(np.uint8),
        pass_confidence=rng.random((count, steps, passes, 81)).astype(np.float16),
    )


def test_select_keeps_the_step_limit_and_the_per_pass_arrays():
    solutions = made_up_solutions(count=5, steps=3, passes=2, seed=0)
    rows = np.array([3, 1])
    picked = solutions.select(rows)
    assert picked.step_limit == 4
    assert np.array_equal(picked.pass_answers, solutions.pass_answers[rows])
    assert np.array_equal(picked.pass_confidence, solutions.pass_confidence[rows])


def test_concat_pads_shorter_runs_and_keeps_the_per_pass_arrays():
    """A part that stopped after 2 steps is padded to the longest part's 4: NaN halting probabilities (still
    float32), and its traces and pass arrays repeat its last step; the step limit is the largest part's."""
    short = made_up_solutions(count=2, steps=2, passes=2, seed=1, step_limit=2)
    long = made_up_solutions(count=3, steps=4, passes=2, seed=2, step_limit=5)
    joined = Solutions.concat([short, long])
    assert joined.step_limit == 5
    assert joined.halt_probabilities.dtype == np.float32 and joined.halt_probabilities.shape == (5, 4)
    assert np.isnan(joined.halt_probabilities[:2, 2:]).all()
    np.testing.assert_array_equal(joined.halt_probabilities[:2, :2], short.halt_probabilities)
    for name, width in (("trace_answers", 4), ("trace_confidence", 4), ("pass_answers", 4), ("pass_confidence", 4)):
        part, whole = getattr(short, name), getattr(joined, name)
        assert whole.shape[:2] == (5, width) and whole.dtype == part.dtype, name
        assert np.array_equal(whole[:2, :2], part), name
        assert np.array_equal(whole[:2, 2], part[:, 1]) and np.array_equal(whole[:2, 3], part[:, 1]), name
        assert np.array_equal(whole[2:], getattr(long, name)), name
    assert joined.seconds == 3.0


def test_concat_drops_pass_arrays_unless_every_part_has_them_and_a_missing_step_limit_stays_missing():
    with_passes = made_up_solutions(count=2, steps=2, passes=2, seed=3, step_limit=None)
    without = made_up_solutions(count=2, steps=2, passes=2, seed=4, step_limit=None)
    without.pass_answers = without.pass_confidence = None
    joined = Solutions.concat([with_passes, without])
    assert joined.pass_answers is None and joined.pass_confidence is None and joined.step_limit is None
    assert joined.trace_answers is not None
    mixed = Solutions.concat([with_passes, made_up_solutions(count=1, steps=2, passes=2, seed=5, step_limit=3)])
    assert mixed.step_limit == 3


def test_map_back_moves_pass_answers_and_relabels_them_but_only_moves_pass_confidence():
    """Copies made from known arrays by the symmetries themselves map back onto those arrays exactly."""
    original = made_up_solutions(count=6, steps=3, passes=2, seed=6, step_limit=7)
    _, symmetries = symmetric_copies(original.puzzles[:3], votes=2, seed=9)

    def forward(values: np.ndarray, digits: bool) -> np.ndarray:
        """Each copy's (S, P, 81) values as its symmetry turns them."""
        per_step = values.reshape(6, -1, 81)
        cells = symmetries.cells.astype(np.intp)
        turned = [
            augment.apply(per_step[:, k], symmetries) if digits else np.take_along_axis(per_step[:, k], cells, axis=1)
            for k in range(per_step.shape[1])
        ]
        return np.stack(turned, axis=1).reshape(values.shape)

    copies = made_up_solutions(count=6, steps=3, passes=2, seed=6, step_limit=7)
    copies.pass_answers = forward(original.pass_answers, digits=True)
    copies.pass_confidence = forward(original.pass_confidence, digits=False)
    assert not np.array_equal(copies.pass_answers, original.pass_answers)
    back = map_back(copies, symmetries)
    assert back.step_limit == 7
    assert np.array_equal(back.pass_answers, original.pass_answers)
    assert np.array_equal(back.pass_confidence, original.pass_confidence)
    assert back.pass_confidence.dtype == np.float16


# -- choosing among copies --------------------------------------------------------------------------


def test_a_majority_cell_takes_the_most_copies_digit_whatever_the_confidence():
    """Counts decide before confidence: two unsure copies outvote one sure copy."""
    answers = np.stack([np.full(81, 5), np.full(81, 5), np.full(81, 7)]).astype(np.uint8)
    confidence = np.stack([np.full(81, 0.1), np.full(81, 0.1), np.full(81, 0.9)]).astype(np.float32)
    chosen, index = choose(np.zeros(81, dtype=np.uint8), answers, confidence)
    assert index is None and chosen.dtype == np.uint8 and np.array_equal(chosen, np.full(81, 5))


def test_a_tied_majority_cell_takes_the_more_confident_digit():
    """The tie is broken by summed confidence, here towards the larger digit, so that the lowest-digit default
    of argmax and a reversed ordering both show."""
    answers = np.stack([np.full(81, 3), np.full(81, 8)]).astype(np.uint8)
    chosen, index = choose(np.zeros(81, dtype=np.uint8), answers, np.stack([np.full(81, 0.2), np.full(81, 0.9)]))
    assert index is None and np.array_equal(chosen, np.full(81, 8))
    chosen, _ = choose(np.zeros(81, dtype=np.uint8), answers, np.stack([np.full(81, 0.9), np.full(81, 0.2)]))
    assert np.array_equal(chosen, np.full(81, 3))


# -- solve_with_votes' own contracts ------------------------------------------------------------------


def test_votes_below_one_are_refused(model, puzzles):
    with pytest.raises(ValueError, match="votes must be at least 1, got 0"):
        solve_with_votes(model, puzzles, 0)


def test_vote_progress_counts_whole_puzzles_after_each_batch_of_copies(model, puzzles):
    """3 puzzles x 2 copies in batches of 3 copies: after 3 copies one puzzle is done, after 6 all three."""
    seen = []
    solve_with_votes(model, puzzles[:3], 2, InferenceConfig(batch_size=3), seed=0, on_progress=seen.append)
    assert seen == [1, 3] and all(type(done) is int for done in seen)


def test_vote_results_keep_the_solutions_dtypes_whatever_the_input_dtype(model, puzzles):
    """int64 puzzles in; uint8 grids, float32 confidence (the majority share too) and int64 counts out."""
    result = solve_with_votes(model, puzzles[:3].astype(np.int64), 3, InferenceConfig(), seed=1)
    assert result.majority.all()
    assert result.solutions.puzzles.dtype == np.uint8 and result.solutions.answers.dtype == np.uint8
    assert np.array_equal(result.solutions.puzzles, puzzles[:3])
    assert result.solutions.confidence.dtype == np.float32
    assert result.agreeing.dtype == np.int64 and result.valid_candidates.dtype.kind == "i"


# -- what solve takes and how it batches ---------------------------------------------------------------


def test_as_grids_takes_one_string_a_list_of_strings_or_an_array_of_any_shape_and_dtype():
    text = "..3.7..4...6..23.1.89.........1.7.8.517.....6...4.....271..9..5.95..........2...."
    grid = np.array([0 if c == "." else int(c) for c in text], dtype=np.uint8)
    one = as_grids(text)
    assert one.dtype == np.uint8 and one.shape == (1, 81) and np.array_equal(one[0], grid)
    assert np.array_equal(as_grids((text, text.replace(".", "0"))), np.stack([grid, grid]))
    wide = as_grids(np.stack([grid, grid]).astype(np.int64).reshape(2, 9, 9))
    assert wide.dtype == np.uint8 and np.array_equal(wide, np.stack([grid, grid]))
    assert np.array_equal(as_grids([grid, grid.tolist()]), np.stack([grid, grid]))  # a list of grids, not strings
    assert as_grids(np.full(81, 9)).tolist() == [[9] * 81]  # 0 and 9 are the edges of the allowed range
    assert as_grids(np.zeros((0, 81), dtype=np.int64)).shape == (0, 81)


@pytest.mark.parametrize("bad", [np.full(81, 10), np.full(81, -1), np.zeros(80), np.zeros((2, 40))])
def test_as_grids_refuses_cells_out_of_range_and_rows_not_of_81(bad):
    with pytest.raises(ValueError, match=r"rows of 81 cells 0\.\.9"):
        as_grids(bad)


def test_as_grids_names_the_puzzle_a_bad_string_came_from():
    good = "." * 81
    with pytest.raises(InputError) as one:
        as_grids("12")
    assert one.value.file == "<puzzle>" and "81" in one.value.message
    with pytest.raises(InputError) as second:
        as_grids([good, "12"])
    assert second.value.file == "<puzzle 1>" and second.value.message == one.value.message
    with pytest.raises(TypeError, match="puzzle 1: mix of strings and grids"):
        as_grids([good, np.zeros(81, dtype=np.uint8)])


def test_solve_reports_puzzles_done_after_each_batch_and_joins_the_batches(model, puzzles):
    seen = []
    result = solve(model, puzzles[:5], InferenceConfig(batch_size=2), on_progress=seen.append)
    assert seen == [2, 4, 5]
    assert len(result) == 5 and np.array_equal(result.puzzles, puzzles[:5])
    two = solve(model, puzzles[:4], InferenceConfig(batch_size=2))
    assert len(two) == 4 and np.array_equal(two.answers, result.answers[:4])


def test_solve_refuses_no_puzzles(model):
    with pytest.raises(ValueError, match="^no puzzles to solve$"):
        solve(model, np.zeros((0, 81), dtype=np.uint8))


def test_finish_hands_every_step_to_the_watcher_and_returns_the_solutions(model, puzzles):
    """The live view draws what `finish` hands it: each Step in order, then the same Solutions as solve_batch."""
    events = []
    result = finish(solve_steps(model, puzzles[:4], InferenceConfig(steps=3)), events.append)
    assert [type(e) for e in events] == [Step] * 3 and [e.step for e in events] == [1, 2, 3]
    assert np.array_equal(events[-1].answers, result.answers)
    assert np.array_equal(result.answers, solve_batch(model, puzzles[:4], InferenceConfig(steps=3)).answers)
