"""Puzzle sets for training and evaluation: load, cache, encode, and stream augmented batches.

A `PuzzleSet` is a pair of compact uint8 arrays (questions, answers), one row of 81 cells per puzzle
(0 = blank). Loading a CSV parses it once and caches the arrays as `.npz`, keyed by the file's content,
so a re-run starts in milliseconds. Puzzles listed without an answer are solved by the exact solver;
those without exactly one solution are dropped and reported, since they have no single target.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from sudoku_trm import augment
from sudoku_trm.checking import check_puzzles
from sudoku_trm.errors import InputError, UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.puzzles import read_puzzles
from sudoku_trm.tokens import to_tokens

CACHE_FORMAT = 2  # bump when the cached arrays change meaning
_AUGMENT_CHUNK = 65_536
DEFAULT_CACHE_DIR = Path(os.environ.get("SUDOKU_TRM_CACHE", Path.home() / ".cache" / "sudoku-trm"))


@dataclass
class PuzzleSet:
    questions: np.ndarray  # (N, 81) uint8, 0 = blank
    answers: np.ndarray  # (N, 81) uint8, a complete valid grid
    # (N,) int32: the file's `rating` column where it has one; for puzzles solved here, the guesses of our
    # solver, which propagates further than the column's plain backtracker (about half its count).
    ratings: np.ndarray
    name: str = ""
    errors: list[InputError] = field(default_factory=list)  # lines skipped while loading

    def __len__(self) -> int:
        return len(self.questions)

    def subset(self, indices: np.ndarray) -> "PuzzleSet":
        return PuzzleSet(self.questions[indices], self.answers[indices], self.ratings[indices], self.name)

    @staticmethod
    def concat(sets: list["PuzzleSet"], name: str = "") -> "PuzzleSet":
        return PuzzleSet(
            np.concatenate([s.questions for s in sets]),
            np.concatenate([s.answers for s in sets]),
            np.concatenate([s.ratings for s in sets]),
            name or "+".join(s.name for s in sets),
            [e for s in sets for e in s.errors],
        )


def _parse_puzzle_file(path: Path) -> PuzzleSet:
    result = read_puzzles(path)
    if not result.puzzles:
        raise InputError("no usable puzzles", str(path))
    questions = np.stack([p.grid for p in result.puzzles]).astype(np.uint8)
    answers = np.zeros_like(questions)
    ratings = np.array([-1 if p.rating is None else p.rating for p in result.puzzles], dtype=np.int32)
    has_answer = np.array([p.answer is not None for p in result.puzzles])
    for i in np.flatnonzero(has_answer):
        answers[i] = result.puzzles[i].answer
    errors = list(result.errors)
    keep = np.ones(len(questions), dtype=bool)
    missing = np.flatnonzero(~has_answer)
    if missing.size:
        # The exact solver supplies the answers; a puzzle without exactly one solution has no target.
        checks, problems = check_puzzles([result.puzzles[i] for i in missing])
        errors.extend(problems)
        for i, check in zip(missing, checks):
            keep[i] = check.solutions == 1
            if keep[i]:
                answers[i] = check.solution
                if ratings[i] < 0:
                    ratings[i] = check.guesses
    return PuzzleSet(questions[keep], answers[keep], ratings[keep], path.stem, errors)


def _cache_path(path: Path, cache_dir: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    return cache_dir / f"{path.stem}-{digest}-v{CACHE_FORMAT}.npz"


def load_puzzle_set(path: str | Path, cache_dir: Path | None = DEFAULT_CACHE_DIR) -> PuzzleSet:
    """Load a puzzle file (any form puzzles.py reads) into arrays, through the `.npz` cache.

    `cache_dir=None` disables the cache. Skipped lines are in `.errors`, from the cache as well.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    if cache_dir is None:
        return _parse_puzzle_file(path)
    cached = _cache_path(path, Path(cache_dir))
    if cached.exists():
        try:
            with np.load(cached) as arrays:
                # Named by this path: the cache is keyed by content, which another path may share.
                errors = [InputError(str(m), str(path), int(n) if n >= 0 else None)
                          for m, n in zip(arrays["error_messages"], arrays["error_lines"])]
                return PuzzleSet(arrays["questions"], arrays["answers"], arrays["ratings"], path.stem, errors)
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is rebuilt, never trusted
    puzzle_set = _parse_puzzle_file(path)
    try:
        errors = puzzle_set.errors  # kept, so a cached load still reports the lines it skipped
        arrays = {
            "questions": puzzle_set.questions, "answers": puzzle_set.answers, "ratings": puzzle_set.ratings,
            "error_messages": np.array([e.message for e in errors], dtype=str),
            "error_lines": np.array([-1 if e.line is None else e.line for e in errors], dtype=np.int64),
        }
        atomic_write(cached, lambda handle: np.savez(handle, **arrays))  # readers never see half a cache
    except OSError:
        pass  # a read-only cache directory only costs speed
    return puzzle_set


def load_puzzle_sets(paths: list[str | Path], cache_dir: Path | None = DEFAULT_CACHE_DIR) -> PuzzleSet:
    """Load and concatenate several files into one set."""
    if not paths:
        raise UserError("no puzzle files given")
    return PuzzleSet.concat([load_puzzle_set(p, cache_dir) for p in paths])


def paper_protocol_set(base: PuzzleSet, subsample: int, copies: int, seed: int) -> PuzzleSet:
    """The TRM paper's fixed training set: `subsample` base puzzles, each with `copies` augmented versions.

    The first copy of each puzzle is the original. Unlike the reference builder, every draw is seeded,
    so the same arguments always build the same set.
    """
    if not 1 <= subsample <= len(base):
        raise UserError(f"--subsample must be between 1 and {len(base)}, got {subsample}")
    if copies < 1:
        raise UserError(f"--augment must be at least 1, got {copies}")
    rng = np.random.default_rng(seed)
    chosen = base.subset(np.sort(rng.choice(len(base), size=subsample, replace=False)))
    questions = np.repeat(chosen.questions, copies, axis=0)
    answers = np.repeat(chosen.answers, copies, axis=0)
    for start in range(0, len(questions), _AUGMENT_CHUNK):  # chunks: 1M int64 cell maps would be 650 MB
        part = slice(start, start + _AUGMENT_CHUNK)
        symmetries = augment.random_symmetries(len(questions[part]), rng)
        questions[part] = augment.apply(questions[part], symmetries)
        answers[part] = augment.apply(answers[part], symmetries)
    questions[::copies], answers[::copies] = chosen.questions, chosen.answers  # keep each original once
    return PuzzleSet(questions, answers, np.repeat(chosen.ratings, copies), f"{base.name}-paper-{subsample}x{copies}")


class TrainingStream:
    """An endless stream of (inputs, labels) token batches on `device`.

    Each epoch visits every puzzle once in a fresh random order; with `augment_batches` every sample
    gets its own random symmetry each time it is drawn, on the device, so 90k base puzzles never
    repeat as the same grid; with `easier_share` that share of samples gets some blanks filled in. Order and augmentation come from seeded generators whose state is part
    of `state_dict()`, so a resumed run draws exactly the batches an uninterrupted one would.
    """

    def __init__(
        self,
        puzzles: PuzzleSet,
        batch_size: int,
        device: str | torch.device = "cpu",
        seed: int = 0,
        augment_batches: bool = True,
        easier_share: float = 0.0,
    ):
        if len(puzzles) == 0:
            raise UserError("the training set is empty")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.augment_batches = augment_batches
        self.easier_share = easier_share
        # The whole set lives on the device (90k puzzles are 15 MB) so batches are gathered there.
        self.questions = torch.from_numpy(puzzles.questions).to(self.device)
        self.answers = torch.from_numpy(puzzles.answers).to(self.device)
        self.order_generator = torch.Generator().manual_seed(seed)  # CPU: the same order on any device
        self.augment_generator = torch.Generator(self.device).manual_seed(seed + 1)
        self.epoch = 0
        self.order = torch.randperm(len(puzzles), generator=self.order_generator)
        self.position = 0

    def _next_indices(self, needed: int) -> torch.Tensor:
        taken = [self.order[:0]]
        while needed:
            if self.position == len(self.order):
                self.epoch += 1
                self.order = torch.randperm(len(self.order), generator=self.order_generator)
                self.position = 0
            chunk = self.order[self.position : self.position + needed]
            self.position += len(chunk)
            needed -= len(chunk)
            taken.append(chunk)
        return torch.cat(taken).to(self.device)

    def next_batch(self, count: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels): int64 tokens of shape (count, 81) on the device; count defaults to batch_size.

        Deep supervision refills only the slots whose puzzles halted, so count varies from call to call.
        """
        indices = self._next_indices(self.batch_size if count is None else count)
        questions, answers = self.questions[indices], self.answers[indices]
        if self.augment_batches:
            symmetries = augment.random_symmetries(len(indices), self.augment_generator, device=self.device)
            questions = augment.apply(questions, symmetries)
            answers = augment.apply(answers, symmetries)
        if self.easier_share > 0:
            questions = self._make_easier(questions, answers)
        return to_tokens(questions.long()), to_tokens(answers.long())

    def _make_easier(self, questions: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """Fill a random share (uniform in [0, 1)) of the blanks of `easier_share` of the samples.

        A small model learns the rules faster from puzzles that need fewer steps; the hard ones
        remain the rest of the stream. Drawn from the augmentation generator, so resume stays exact.
        """
        rows = len(questions)
        draws = torch.rand(rows, 1 + questions.shape[1], generator=self.augment_generator, device=self.device)
        easier = draws[:, :1] < self.easier_share
        fill_share = torch.rand(rows, 1, generator=self.augment_generator, device=self.device)
        reveal = easier & (draws[:, 1:] < fill_share) & (questions == 0)
        return torch.where(reveal, answers, questions)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next_batch()

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "order": self.order.clone(),
            "order_generator": self.order_generator.get_state(),
            "augment_generator": self.augment_generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["order"]) != len(self.order):
            raise UserError("the checkpoint was trained on a different puzzle set (sizes differ)")
        self.epoch = state["epoch"]
        self.position = state["position"]
        self.order = state["order"].clone()
        self.order_generator.set_state(state["order_generator"])
        self.augment_generator.set_state(state["augment_generator"])
