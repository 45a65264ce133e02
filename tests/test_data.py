"""The data pipeline: loading through the cache, solving answerless puzzles, the paper protocol, the stream."""

import numpy as np
import pytest
import torch

from sudoku_trm.errors import InputError
from sudoku_trm.model.tokens import from_tokens, to_tokens
from sudoku_trm.sudoku import grid
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_set, load_puzzle_sets
from sudoku_trm.training.stream import TrainingStream, paper_protocol_set


def _rows(csv_path):
    return [line.split(",") for line in csv_path.read_text().splitlines()[1:]]


def _digits(text):
    return np.frombuffer(text.replace(".", "0").encode(), dtype=np.uint8) - ord("0")


@pytest.fixture
def hard_dev(shared_sample, tmp_path):
    return load_puzzle_set(shared_sample / "hard_dev.csv", cache_dir=tmp_path / "cache")


def test_tokens_follow_the_design_encoding():
    cells = np.array([0, 1, 9])
    assert to_tokens(cells).tolist() == [1, 2, 10]
    assert from_tokens(np.array([0, 1, 2, 10])).tolist() == [0, 0, 1, 9]
    assert torch.equal(from_tokens(to_tokens(torch.arange(10))), torch.arange(10))


def test_csv_loads_into_compact_arrays(hard_dev, shared_sample):
    rows = _rows(shared_sample / "hard_dev.csv")
    assert hard_dev.questions.shape == (len(rows), 81) and hard_dev.questions.dtype == np.uint8
    assert np.array_equal(hard_dev.questions[7], _digits(rows[7][1]))
    assert np.array_equal(hard_dev.answers[7], _digits(rows[7][2]))
    assert hard_dev.ratings.tolist() == [int(r[3]) for r in rows]
    assert grid.valid_solutions(hard_dev.questions, hard_dev.answers).all()


def test_second_load_comes_from_the_cache_and_a_changed_file_is_reparsed(shared_sample, tmp_path):
    source = tmp_path / "set.csv"
    lines = (shared_sample / "unbiased_1k.csv").read_text().splitlines()
    source.write_text("\n".join(lines[:11]) + "\n")
    cache = tmp_path / "cache"
    first = load_puzzle_set(source, cache_dir=cache)
    cached_files = list(cache.glob("*.npz"))
    assert len(cached_files) == 1
    again = load_puzzle_set(source, cache_dir=cache)
    assert np.array_equal(first.questions, again.questions) and np.array_equal(first.answers, again.answers)

    source.write_text("\n".join(lines[:6]) + "\n")
    assert len(load_puzzle_set(source, cache_dir=cache)) == 5
    assert len(list(cache.glob("*.npz"))) == 2


def test_corrupt_cache_is_rebuilt(shared_sample, tmp_path):
    cache = tmp_path / "cache"
    expected = load_puzzle_set(shared_sample / "clue17.csv", cache_dir=cache)
    (cached,) = cache.glob("*.npz")
    cached.write_bytes(b"not a zip file")
    reloaded = load_puzzle_set(shared_sample / "clue17.csv", cache_dir=cache)
    assert np.array_equal(reloaded.answers, expected.answers)


def test_answerless_puzzles_are_solved_and_ambiguous_ones_skipped(shared_sample, tmp_path):
    rows = _rows(shared_sample / "unbiased_1k.csv")[:4]
    several = (shared_sample / "multi_solution_200.txt").read_text().splitlines()[0]
    lines = [rows[0][1], several, rows[1][1], rows[2][1]]
    source = tmp_path / "questions.txt"
    source.write_text("\n".join(lines) + "\n")
    loaded = load_puzzle_set(source, cache_dir=None)
    assert len(loaded) == 3
    assert [a.tolist() for a in loaded.answers] == [_digits(r[2]).tolist() for r in rows[:3]]
    assert (loaded.ratings >= 0).all()
    (error,) = loaded.errors
    assert error.line == 2 and "several solutions" in str(error)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="absent.csv"):
        load_puzzle_set(tmp_path / "absent.csv", cache_dir=None)


def test_several_files_concatenate(shared_sample, tmp_path):
    both = load_puzzle_sets([shared_sample / "hard_dev.csv", shared_sample / "clue17.csv"], tmp_path)
    assert len(both) == 200
    assert grid.valid_solutions(both.questions, both.answers).all()


def test_paper_protocol_is_seeded_valid_and_keeps_originals(hard_dev):
    built = paper_protocol_set(hard_dev, subsample=10, copies=8, seed=3)
    assert len(built) == 80
    assert np.array_equal(built.questions, paper_protocol_set(hard_dev, 10, 8, seed=3).questions)
    assert not np.array_equal(built.questions, paper_protocol_set(hard_dev, 10, 8, seed=4).questions)
    assert grid.valid_solutions(built.questions, built.answers).all()
    originals = {q.tobytes() for q in hard_dev.questions}
    assert all(q.tobytes() in originals for q in built.questions[::8])
    assert len({q.tobytes() for q in built.questions}) == 80  # the augmented copies all differ


def test_stream_batches_are_valid_augmented_pairs(hard_dev):
    stream = TrainingStream(hard_dev, batch_size=32, seed=0)
    inputs, labels = stream.next_batch()
    assert inputs.shape == labels.shape == (32, 81) and inputs.dtype == torch.int64
    assert int(inputs.min()) >= 1 and int(labels.min()) >= 2 and int(labels.max()) <= 10
    questions, answers = from_tokens(inputs).numpy(), from_tokens(labels).numpy()
    assert grid.valid_solutions(questions, answers).all()
    originals = {q.tobytes() for q in hard_dev.questions.astype(np.int64)}
    assert sum(q.tobytes() in originals for q in questions) < 2  # augmented, not the stored grids


def test_stream_without_augmentation_draws_each_puzzle_once_per_pass_and_never_ends(hard_dev):
    stream = TrainingStream(hard_dev, batch_size=30, seed=1, augment_batches=False)
    seen = [from_tokens(stream.next_batch()[0]).numpy() for _ in range(10)]  # 300 draws = 3 epochs
    drawn = np.concatenate(seen)
    everything = {q.tobytes() for q in hard_dev.questions.astype(np.int64)}
    for epoch in range(3):
        assert {q.tobytes() for q in drawn[epoch * 100 : (epoch + 1) * 100]} == everything
    assert stream.passes == 2  # the fourth pass starts only when a batch needs it
    assert not np.array_equal(drawn[:100], drawn[100:200])  # each epoch is reshuffled


def test_stream_resumes_exactly(hard_dev):
    uninterrupted = TrainingStream(hard_dev, batch_size=48, seed=5)
    for _ in range(3):
        uninterrupted.next_batch()
    state = uninterrupted.state_dict()
    expected = [uninterrupted.next_batch() for _ in range(4)]

    resumed = TrainingStream(hard_dev, batch_size=48, seed=99)
    resumed.load_state_dict(state)
    for (inputs, labels), (want_inputs, want_labels) in zip((resumed.next_batch() for _ in range(4)), expected):
        assert torch.equal(inputs, want_inputs) and torch.equal(labels, want_labels)


def test_stream_refuses_a_state_from_another_set(hard_dev):
    small = PuzzleSet(hard_dev.questions[:5], hard_dev.answers[:5], hard_dev.ratings[:5])
    with pytest.raises(Exception, match="different puzzle set"):
        TrainingStream(small, 2).load_state_dict(TrainingStream(hard_dev, 2).state_dict())
