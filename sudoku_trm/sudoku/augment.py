"""Sudoku symmetries: sample, apply and invert them in batches, in numpy or in torch on any device.

A symmetry maps every valid (puzzle, solution) pair to another valid pair. The group is generated
by relabelling the digits (9!), transposing (2), permuting the bands (3!) and the stacks (3!), and
permuting the rows within each band and the columns within each stack (3!^3 each): 9! * 2 * 6^8,
about 1.2e12 elements, so an augmented training stream practically never repeats a grid.

A batch of N symmetries is two index maps, which makes applying one two gathers and inverting one
an argsort, on whichever backend holds the data:
    cells  (N, 81): output cell i reads input cell cells[n, i]
    digits (N, 10): digit d becomes digits[n, d]; digits[n, 0] == 0, so blanks stay blank
The index arithmetic is written once against a tiny backend interface (random permutations, coin
flips, a concatenation), so the numpy and torch paths share every line of it.

Torch is imported only where a torch path runs: `generate` and `check` use the numpy path and never
pay for importing torch (seconds on a busy machine). A tensor can only exist once torch is imported, so
the type tests look in `sys.modules` instead of importing it.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union

import numpy as np

if TYPE_CHECKING:
    import torch

from sudoku_trm.sudoku.grid import BLANK, CELLS, SIZE

BLOCK = 3  # rows per band, columns per stack, bands (or stacks) per grid
DIGIT_VALUES = SIZE + 1  # blank plus the nine digits: the length of a digit map

Array = Union[np.ndarray, "torch.Tensor"]
A = TypeVar("A", np.ndarray, "torch.Tensor")


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _is_torch_generator(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Generator)


class Encoding(enum.IntEnum):
    """How digits are stored; the value is the code of digit 1. Codes below it pass through unchanged."""

    GRID = 1  # sudoku_trm.sudoku.grid: 0 blank, 1..9 digits
    TOKENS = 2  # model input: 0 pad, 1 blank, 2..10 digits


class Factor(enum.Flag):
    """The generators of the group, to sample one at a time (tests) or a subgroup (e.g. voting)."""

    DIGITS = enum.auto()  # relabel 1..9
    TRANSPOSE = enum.auto()  # swap rows and columns
    BANDS = enum.auto()  # reorder the three bands (groups of three rows)
    STACKS = enum.auto()  # reorder the three stacks (groups of three columns)
    ROWS = enum.auto()  # reorder the rows within each band
    COLUMNS = enum.auto()  # reorder the columns within each stack
    NONE = 0
    GEOMETRY = TRANSPOSE | BANDS | STACKS | ROWS | COLUMNS
    ALL = DIGITS | GEOMETRY


@dataclass(frozen=True)
class Symmetries:
    """A batch of N symmetries, all numpy or all torch on one device (int64 index maps)."""

    cells: Array  # (N, 81): output cell i takes input cell cells[n, i]
    digits: Array  # (N, 10): value d becomes digits[n, d]; digits[:, 0] == 0

    def __post_init__(self) -> None:
        if type(self.cells) is not type(self.digits):
            raise TypeError("cells and digits must both be numpy arrays or both torch tensors")
        n = len(self.cells)
        if tuple(self.cells.shape) != (n, CELLS) or tuple(self.digits.shape) != (n, DIGIT_VALUES):
            raise ValueError(
                f"expected cells (N, {CELLS}) and digits (N, {DIGIT_VALUES}), "
                f"got {tuple(self.cells.shape)} and {tuple(self.digits.shape)}"
            )

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, index) -> Symmetries:
        """A sub-batch (slice, index array or mask); an integer keeps a batch of one."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Symmetries(self.cells[index], self.digits[index])

    def to_torch(self, device: str | torch.device | None = None) -> Symmetries:
        import torch

        if isinstance(self.cells, np.ndarray):
            return Symmetries(torch.from_numpy(self.cells).to(device), torch.from_numpy(self.digits).to(device))
        return Symmetries(self.cells.to(device), self.digits.to(device))

    def to_numpy(self) -> Symmetries:
        if _is_tensor(self.cells):
            return Symmetries(self.cells.cpu().numpy(), self.digits.cpu().numpy())
        return self


# --- backends: only what the shared builder needs --------------------------------------------------


class _NumpyBackend:
    def __init__(self, rng: np.random.Generator | None):
        self.rng = rng

    def permutations(self, shape: tuple[int, ...], size: int, random: bool) -> np.ndarray:
        """Uniform random permutations of range(size), or the identity, with shape (*shape, size)."""
        if not random:
            return np.broadcast_to(np.arange(size, dtype=np.int64), (*shape, size))
        return self.rng.random((*shape, size)).argsort(axis=-1)

    def coins(self, n: int, random: bool) -> np.ndarray:
        if not random:
            return np.zeros(n, dtype=np.int64)
        return self.rng.integers(0, 2, n, dtype=np.int64)

    def fix_first(self, maps: np.ndarray, count: int) -> np.ndarray:
        """Prepend `count` columns that map codes 0..count-1 to themselves."""
        fixed = np.broadcast_to(np.arange(count, dtype=np.int64), (len(maps), count))
        return np.concatenate([fixed, maps], axis=1)


class _TorchBackend:
    def __init__(self, generator: torch.Generator | None, device: torch.device):
        import torch

        self.torch = torch
        self.generator = generator
        self.device = device

    def permutations(self, shape: tuple[int, ...], size: int, random: bool) -> torch.Tensor:
        torch = self.torch
        if not random:
            return torch.arange(size, device=self.device).expand(*shape, size)
        # float64 keys: ties (which would bias the order slightly) are practically impossible.
        keys = torch.rand((*shape, size), generator=self.generator, device=self.device, dtype=torch.float64)
        return keys.argsort(dim=-1)

    def coins(self, n: int, random: bool) -> torch.Tensor:
        torch = self.torch
        if not random:
            return torch.zeros(n, dtype=torch.int64, device=self.device)
        return torch.randint(0, 2, (n,), generator=self.generator, device=self.device)

    def fix_first(self, maps: torch.Tensor, count: int) -> torch.Tensor:
        torch = self.torch
        fixed = torch.arange(count, device=self.device).expand(len(maps), count)
        return torch.cat([fixed, maps], dim=1)


_Backend = Union[_NumpyBackend, _TorchBackend]


def _line_maps(backend: _Backend, n: int, blocks: bool, within: bool) -> Array:
    """(N, 9): output row (or column) i reads input line maps[n, i]; the lines of a block stay together."""
    block_order = backend.permutations((n,), BLOCK, blocks)  # (N, 3)
    line_order = backend.permutations((n, BLOCK), BLOCK, within)  # (N, 3, 3), one order per block
    return (block_order[:, :, None] * BLOCK + line_order).reshape(n, SIZE)


def _build(backend: _Backend, n: int, factors: Factor) -> Symmetries:
    rows = _line_maps(backend, n, Factor.BANDS in factors, Factor.ROWS in factors)
    cols = _line_maps(backend, n, Factor.STACKS in factors, Factor.COLUMNS in factors)
    # Output cell (r, c) reads input cell rows[r] * 9 + cols[c]; transposing swaps the two strides,
    # reading input cell cols[c] * 9 + rows[r]. Per-sample strides keep one (N, 81) temporary.
    flip = backend.coins(n, Factor.TRANSPOSE in factors)[:, None]
    row_stride = SIZE + flip * (1 - SIZE)
    col_stride = 1 + flip * (SIZE - 1)
    cells = ((rows * row_stride)[:, :, None] + (cols * col_stride)[:, None, :]).reshape(n, CELLS)
    relabel = backend.permutations((n,), SIZE, Factor.DIGITS in factors) + 1  # (N, 9): digit d+1 -> relabel[d]
    digits = backend.fix_first(relabel, BLANK + 1)  # blank (0) -> blank
    return Symmetries(cells, digits)


# --- public API ------------------------------------------------------------------------------------


def random_symmetries(
    n: int,
    generator: np.random.Generator | torch.Generator,
    device: str | torch.device | None = None,
    *,
    factors: Factor = Factor.ALL,
) -> Symmetries:
    """N independent uniform samples from the group generated by `factors` (the whole group by default).

    A numpy Generator gives numpy maps; a torch Generator gives tensors on `device` (default: the
    generator's own device, which torch requires to match the device of the draws).
    """
    if isinstance(generator, np.random.Generator):
        if device is not None:
            raise ValueError("device applies to torch generators only")
        return _build(_NumpyBackend(generator), n, factors)
    if _is_torch_generator(generator):
        return _build(_TorchBackend(generator, _device(device or generator.device)), n, factors)
    raise TypeError(f"expected a numpy or torch Generator, got {type(generator).__name__}")


def identity(n: int, device: str | torch.device | None = None) -> Symmetries:
    """N identity symmetries: numpy when `device` is None, else torch tensors on `device`."""
    backend = _NumpyBackend(None) if device is None else _TorchBackend(None, _device(device))
    return _build(backend, n, Factor.NONE)


def _backend_like(x: Array) -> _Backend:
    """A backend (without randomness) that builds arrays of the same kind, on the same device, as x."""
    return _TorchBackend(None, x.device) if _is_tensor(x) else _NumpyBackend(None)


def _gather(values: A, index: Array) -> A:
    """values[n, index[n, i]] for every n and i."""
    if _is_tensor(values):
        return values.gather(1, index.long())
    return np.take_along_axis(values, index.astype(np.intp, copy=False), axis=1)


def _check_pair(x: Array, sym: Symmetries) -> None:
    if type(x) is not type(sym.cells):
        raise TypeError(
            f"data is {type(x).__name__} but the symmetries are {type(sym.cells).__name__}: "
            "convert one with Symmetries.to_torch / to_numpy"
        )
    if tuple(x.shape) != (len(sym), CELLS):
        raise ValueError(f"expected data of shape ({len(sym)}, {CELLS}), got {tuple(x.shape)}")


def apply(x: A, sym: Symmetries, encoding: Encoding | int = Encoding.GRID) -> A:
    """Transform a batch of grids or token rows (N, 81) by `sym` (N); same type, dtype and device.

    Codes below `encoding` (blank, pad) are left alone; codes above the digit 9 are not allowed
    (on a GPU an out-of-range code is a device-side error, so this is not checked there).
    """
    _check_pair(x, sym)
    passthrough = int(encoding) - 1  # codes 0..passthrough-1 are never relabelled
    if passthrough < 0:
        raise ValueError(f"the code of digit 1 must be at least 1, got {int(encoding)}")
    # table[n, code] = new code: the digit map shifted up by `passthrough` (its blank entry, 0 -> 0,
    # lands on the blank code), behind `passthrough` codes that map to themselves.
    table = _backend_like(x).fix_first(sym.digits + passthrough, passthrough)
    table = table.to(x.dtype) if _is_tensor(table) else table.astype(x.dtype)
    return _gather(table, _gather(x, sym.cells))


def inverse(sym: Symmetries) -> Symmetries:
    """The symmetries that undo `sym`: apply(apply(x, s), inverse(s)) == x."""
    # Both maps are permutations, and a permutation's argsort is its inverse.
    return Symmetries(sym.cells.argsort(-1), sym.digits.argsort(-1))


def compose(first: Symmetries, then: Symmetries) -> Symmetries:
    """The symmetries that apply `first` and then `then`: apply(x, compose(a, b)) == apply(apply(x, a), b)."""
    if type(first.cells) is not type(then.cells) or len(first) != len(then):
        raise ValueError("compose needs two batches of the same length and backend")
    # Output cell i reads cell then.cells[i] of the intermediate grid, which read first.cells of that.
    return Symmetries(_gather(first.cells, then.cells), _gather(then.digits, first.digits))


def _device(device: str | torch.device) -> torch.device:
    import torch

    return torch.device(device)
