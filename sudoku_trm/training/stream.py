"""The training stream: an endless supply of freshly augmented (inputs, labels) batches on the device.

Draws run through one random permutation of the set after another; every sample gets its own random
Sudoku symmetry each time it is drawn, so 90k base puzzles never repeat as the same grid. Generators are
seeded and their state is part of `state_dict()`, so a resumed run draws exactly the batches an
uninterrupted one would (on another device type, see training/rng.py). Each permutation is drawn on the
CPU (the same order on any device) and copied to the device once, so drawing a batch never waits for
the host. `paper_protocol_set` builds the TRM paper's fixed augmented set instead.
"""

from __future__ import annotations

import numpy as np
import torch

from sudoku_trm.errors import UserError
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet
from sudoku_trm.training.rng import restore_generator

_AUGMENT_CHUNK = 65_536


def paper_protocol_set(base: PuzzleSet, subsample: int, copies: int, seed: int) -> PuzzleSet:
    """The TRM paper's fixed training set: `subsample` base puzzles, each with `copies` augmented versions.

    The first copy of each puzzle is the original. Unlike the reference builder, every draw is seeded,
    so the same arguments always build the same set.
    """
    if not 1 <= subsample <= len(base):
        raise UserError(f"subsample must be between 1 and {len(base)} (the base puzzles), got {subsample}")
    if copies < 1:
        raise UserError(f"augmented copies must be at least 1, got {copies}")
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
    """Batches of `batch_size` (inputs, labels) token rows on `device`, one per call.

    Indices run through one random permutation of the set after another; each drawn sample gets its
    own random symmetry (on the device) and, with `easier_share`, some blanks filled in. The trainer
    draws a full batch every step but keeps only the rows for slots whose puzzle just halted, so
    most draws are discarded: a pass through the permutation is not an epoch of training.
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
        self.passes = 0
        self.order = self._permutation(len(puzzles))
        self.position = 0

    def _permutation(self, size: int) -> torch.Tensor:
        """A fresh random order of the set, on the device: one copy per pass, not one per batch (from
        pinned memory on CUDA, so the host does not wait for the queued steps)."""
        order = torch.randperm(size, generator=self.order_generator)
        if self.device.type == "cuda":
            return order.pin_memory().to(self.device, non_blocking=True)
        return order.to(self.device)

    def _next_indices(self, needed: int) -> torch.Tensor:
        taken = [self.order[:0]]
        while needed:
            if self.position == len(self.order):
                self.passes += 1
                self.order = self._permutation(len(self.order))
                self.position = 0
            chunk = self.order[self.position : self.position + needed]
            self.position += len(chunk)
            needed -= len(chunk)
            taken.append(chunk)
        return torch.cat(taken)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels): int64 tokens of shape (batch_size, 81) on the device."""
        indices = self._next_indices(self.batch_size)
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

    def state_dict(self) -> dict:
        return {
            "passes": self.passes,
            "position": self.position,
            "order": self.order.clone(),
            "order_generator": self.order_generator.get_state(),
            "augment_generator": self.augment_generator.get_state(),
            "augment_generator_device": self.device.type,
        }

    def load_state_dict(self, state: dict) -> list[str]:
        """Continue where `state` left off; returns the generators that had to be reseeded (a state
        saved on another device type) rather than restored: empty when the stream continues exactly."""
        if len(state["order"]) != len(self.order):
            raise UserError("the checkpoint was trained on a different puzzle set (sizes differ)")
        self.passes = state["passes"]
        self.position = state["position"]
        self.order = state["order"].to(self.device, copy=True)
        reseeded = []
        if not restore_generator(self.order_generator, state["order_generator"], "cpu"):
            reseeded.append("the data order")
        if not restore_generator(
            self.augment_generator, state["augment_generator"], state.get("augment_generator_device")
        ):
            reseeded.append("the augmentation")
        return reseeded
