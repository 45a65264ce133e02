"""Property tests for the Sudoku symmetry group in sudoku_trm.sudoku.augment (numpy and torch, CPU)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.augment import Encoding, Factor, Symmetries
from sudoku_trm.sudoku.grid import CELLS, UNITS, valid_solutions

BACKENDS = ["numpy", "torch"]
ONE_FACTOR_ORDERS = {  # each generator alone, and how many distinct symmetries it makes
    Factor.DIGITS: math.factorial(9),
    Factor.TRANSPOSE: 2,
    Factor.BANDS: 6,
    Factor.STACKS: 6,
    Factor.ROWS: 6**3,
    Factor.COLUMNS: 6**3,
}
GROUP_ORDER = math.factorial(9) * 2 * 6**8


def load_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(questions, answers) as (N, 81) uint8 grids from a `source,question,answer,rating` CSV."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line]

    def to_grid(texts: list[str]) -> np.ndarray:
        codes = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(-1, CELLS)
        return np.where(codes == ord("."), 0, codes - ord("0")).astype(np.uint8)

    return to_grid([r[1] for r in rows]), to_grid([r[2] for r in rows])


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, np.ndarray]:
    questions, answers = load_pairs(Path(__file__).parent / "fixtures" / "shared_sample" / "hard_dev.csv")
    assert len(questions) >= 50 and valid_solutions(questions, answers).all()
    return questions, answers


def sample(backend: str, n: int, seed: int = 0, factors: Factor = Factor.ALL) -> Symmetries:
    if backend == "numpy":
        return augment.random_symmetries(n, np.random.default_rng(seed), factors=factors)
    return augment.random_symmetries(n, torch.Generator().manual_seed(seed), factors=factors)


def as_backend(x: np.ndarray, backend: str):
    return x if backend == "numpy" else torch.from_numpy(x)


def as_numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else x


def unit_images(cells: np.ndarray) -> np.ndarray:
    """(N, 27): which unit each unit's cells are read from, -1 where they are not one unit."""
    images = np.sort(cells[:, UNITS], axis=2)  # (N, 27, 9) input cells behind each output unit
    matches = (images[:, :, None, :] == np.sort(UNITS, axis=1)[None, None]).all(axis=3)  # (N, 27, 27)
    return np.where(matches.any(axis=2), matches.argmax(axis=2), -1)


# --- validity -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", list(Encoding))
def test_valid_pairs_stay_valid(pairs, backend, encoding):
    questions, answers = pairs
    repeats = 20
    questions, answers = np.repeat(questions, repeats, axis=0), np.repeat(answers, repeats, axis=0)
    sym = sample(backend, len(questions), seed=int(encoding))
    shift = int(encoding) - int(Encoding.GRID)  # grid value -> code in this encoding
    new_q = as_numpy(augment.apply(as_backend(questions + shift, backend), sym, encoding)) - shift
    new_a = as_numpy(augment.apply(as_backend(answers + shift, backend), sym, encoding)) - shift

    assert valid_solutions(new_q, new_a).all()  # complete, valid, and every given kept
    moved_q = np.take_along_axis(questions, as_numpy(sym.cells), axis=1)
    np.testing.assert_array_equal(new_q == 0, moved_q == 0)  # blanks move with their cells, stay blank
    assert not np.array_equal(new_a, answers)  # it did transform something


def test_token_codes_below_the_digits_pass_through(pairs):
    """Pad (0) and blank (1) tokens move with their cells but keep their code; digits match the grid path."""
    questions = pairs[0]
    tokens = questions.astype(np.int64) + 1
    tokens[:, ::7] = 0  # sprinkle pads
    sym = sample("numpy", len(tokens))
    out = augment.apply(tokens, sym, Encoding.TOKENS)
    moved = np.take_along_axis(tokens, sym.cells, axis=1)
    np.testing.assert_array_equal(out[moved <= 1], moved[moved <= 1])
    digits_via_grid = augment.apply(questions, sym) + 1
    np.testing.assert_array_equal(out[moved > 1], digits_via_grid[moved > 1])


# --- inverses, composition, backends agree ------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", list(Encoding))
def test_inverse_undoes_exactly(pairs, backend, encoding):
    questions = pairs[0].astype(np.int64) + int(encoding) - 1
    x = as_backend(questions, backend)
    sym = sample(backend, len(questions), seed=3)
    back = augment.apply(augment.apply(x, sym, encoding), augment.inverse(sym), encoding)
    np.testing.assert_array_equal(as_numpy(back), questions)
    ident = augment.compose(sym, augment.inverse(sym))
    expected = augment.identity(len(sym), None if backend == "numpy" else "cpu")
    np.testing.assert_array_equal(as_numpy(ident.cells), as_numpy(expected.cells))
    np.testing.assert_array_equal(as_numpy(ident.digits), as_numpy(expected.digits))


@pytest.mark.parametrize("backend", BACKENDS)
def test_compose_matches_applying_in_turn(pairs, backend):
    x = as_backend(pairs[1], backend)
    first, then = sample(backend, len(pairs[1]), seed=4), sample(backend, len(pairs[1]), seed=5)
    in_turn = augment.apply(augment.apply(x, first), then)
    at_once = augment.apply(x, augment.compose(first, then))
    np.testing.assert_array_equal(as_numpy(in_turn), as_numpy(at_once))


def test_identity_changes_nothing(pairs):
    questions = pairs[0]
    np.testing.assert_array_equal(augment.apply(questions, augment.identity(len(questions))), questions)
    tokens = torch.from_numpy(questions).long() + 1
    out = augment.apply(tokens, augment.identity(len(tokens), "cpu"), Encoding.TOKENS)
    assert torch.equal(out, tokens)


def test_numpy_and_torch_agree_on_the_same_symmetries(pairs):
    questions = pairs[0]
    sym = sample("numpy", len(questions), seed=6)
    via_numpy = augment.apply(questions, sym)
    via_torch = augment.apply(torch.from_numpy(questions), sym.to_torch("cpu"))
    np.testing.assert_array_equal(via_torch.numpy(), via_numpy)
    round_trip = sym.to_torch().to_numpy()
    np.testing.assert_array_equal(round_trip.cells, sym.cells)
    np.testing.assert_array_equal(round_trip.digits, sym.digits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampling_is_reproducible(backend):
    a, b = sample(backend, 64, seed=11), sample(backend, 64, seed=11)
    assert np.array_equal(as_numpy(a.cells), as_numpy(b.cells))
    assert np.array_equal(as_numpy(a.digits), as_numpy(b.digits))


# --- the group: structure and reachability ------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_cell_maps_are_permutations_that_map_units_to_units(backend):
    sym = sample(backend, 2000, seed=7)
    cells, digits = as_numpy(sym.cells), as_numpy(sym.digits)
    assert cells.dtype == np.int64 and digits.dtype == np.int64
    np.testing.assert_array_equal(np.sort(cells, axis=1), np.broadcast_to(np.arange(CELLS), cells.shape))
    np.testing.assert_array_equal(np.sort(digits, axis=1), np.broadcast_to(np.arange(10), digits.shape))
    assert (digits[:, 0] == 0).all()

    images = unit_images(cells)
    assert (images >= 0).all()  # every row, column and box reads exactly one unit
    kind = images // 9  # 0 row, 1 column, 2 box (UNITS order)
    assert (kind[:, 18:] == 2).all()  # boxes come from boxes
    lines = kind[:, :18]
    row_to_row = (lines[:, :9] == 0).all(axis=1) & (lines[:, 9:] == 1).all(axis=1)
    row_to_col = (lines[:, :9] == 1).all(axis=1) & (lines[:, 9:] == 0).all(axis=1)
    assert (row_to_row | row_to_col).all()  # all lines keep their kind, or all swap (transpose)
    assert row_to_row.any() and row_to_col.any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("factor", list(ONE_FACTOR_ORDERS))
def test_each_factor_reaches_all_its_elements(backend, factor):
    n = 4000
    sym = sample(backend, n, seed=8, factors=factor)
    cells, digits = as_numpy(sym.cells), as_numpy(sym.digits)
    if factor is Factor.DIGITS:
        np.testing.assert_array_equal(cells, np.broadcast_to(np.arange(CELLS), cells.shape))
        for d in range(1, 10):  # every digit is sent to every digit
            assert set(digits[:, d]) == set(range(1, 10))
        assert len(np.unique(digits, axis=0)) > 0.98 * n  # 9! relabellings: few repeats
        return
    np.testing.assert_array_equal(digits, np.broadcast_to(np.arange(10), digits.shape))
    assert len(np.unique(cells, axis=0)) == ONE_FACTOR_ORDERS[factor]  # exactly the factor's elements

    grid = cells.reshape(n, 9, 9)
    source_rows, source_cols = grid[:, :, 0] // 9, grid[:, 0, :] % 9  # where each row / column comes from
    if factor is Factor.BANDS:
        assert len({tuple(r) for r in source_rows[:, ::3] // 3}) == 6
    if factor is Factor.STACKS:
        assert len({tuple(c) for c in source_cols[:, ::3] // 3}) == 6
    for block in range(3):
        part = slice(3 * block, 3 * block + 3)
        if factor is Factor.ROWS:
            assert len({tuple(r) for r in source_rows[:, part]}) == 6
        if factor is Factor.COLUMNS:
            assert len({tuple(c) for c in source_cols[:, part]}) == 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_group_makes_distinct_grids(pairs, backend):
    """10,000 images of one solution are all different, as expected from a group of ~1.2e12."""
    n = 10_000
    assert n * n / (2 * GROUP_ORDER) < 1e-3  # chance of any repeat (birthday bound)
    answer = np.repeat(pairs[1][:1], n, axis=0)
    images = as_numpy(augment.apply(as_backend(answer, backend), sample(backend, n, seed=9)))
    assert len(np.unique(images, axis=0)) == n


# --- torch specifics ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_torch_keeps_dtype_and_device(pairs, dtype):
    x = torch.from_numpy(pairs[0]).to(dtype)
    sym = sample("torch", len(x))
    assert sym.cells.dtype == torch.int64 and sym.cells.device == x.device
    out = augment.apply(x, sym)
    assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
    out = augment.apply(x + 1, sym, Encoding.TOKENS)
    assert out.dtype == dtype


def test_numpy_keeps_dtype(pairs):
    for dtype in (np.uint8, np.int32, np.int64):
        x = pairs[0].astype(dtype)
        assert augment.apply(x, sample("numpy", len(x))).dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_samples_and_applies_on_the_device(pairs):
    generator = torch.Generator("cuda").manual_seed(0)
    sym = augment.random_symmetries(len(pairs[0]), generator)
    assert sym.cells.is_cuda and sym.digits.is_cuda
    questions = torch.from_numpy(pairs[0]).cuda()
    answers = torch.from_numpy(pairs[1]).cuda()
    new_q, new_a = augment.apply(questions, sym), augment.apply(answers, sym)
    assert new_q.is_cuda and new_q.dtype == torch.uint8
    assert valid_solutions(new_q.cpu().numpy(), new_a.cpu().numpy()).all()
    back = augment.apply(new_q, augment.inverse(sym))
    assert torch.equal(back, questions)
    # The same maps on the CPU give the same grids.
    assert torch.equal(augment.apply(questions.cpu(), sym.to_torch("cpu")), new_q.cpu())


# --- misuse -------------------------------------------------------------------------------------


def test_mismatched_inputs_are_rejected(pairs):
    sym = sample("numpy", 4)
    with pytest.raises(TypeError):
        augment.apply(torch.from_numpy(pairs[0][:4]), sym)
    with pytest.raises(ValueError):
        augment.apply(pairs[0][:5], sym)
    with pytest.raises(ValueError):
        augment.random_symmetries(4, np.random.default_rng(), device="cpu")
    with pytest.raises(TypeError):
        augment.random_symmetries(4, 0)  # a seed is not a generator


def test_sub_batches(pairs):
    sym = sample("numpy", 10)
    assert len(sym[3]) == 1 and len(sym[-1]) == 1 and len(sym[2:5]) == 3
    np.testing.assert_array_equal(sym[-1].cells, sym.cells[-1:])
    np.testing.assert_array_equal(augment.apply(pairs[0][2:5], sym[2:5]), augment.apply(pairs[0][:10], sym)[2:5])
