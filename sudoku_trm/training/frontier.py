"""A training stream that follows the model's frontier: more of the puzzles it half-solves now.

The fixed stream (training/stream.py) draws every puzzle alike and makes a fixed share of them easier. This
one sorts the training puzzles into buckets, (source, reveal), where a source is one of the training files
(or generated sets) and a reveal is the share of its blanks filled in from the solution before the model sees
it (0 is the puzzle as posed). It measures, from the training stream itself, how often the model solves each
bucket: a slot's puzzle counts once, when it leaves its slot (the halting head stopped it or the step limit
did), solved if its answer at that step was the whole solution. Each row of a batch then draws its bucket
with probability in proportion to p (1 - p) + FLOOR, p the bucket's solve rate: the buckets the model
solves about half the time weigh most, those it always or never solves least, and none is ever dropped, so a
bucket that becomes reachable is noticed. Solve rates are moving averages (each report decays the old
counts by DECAY per puzzle reported), with one solved and one failed try assumed to start.

Within a bucket a puzzle is drawn uniformly from its source, with its own random Sudoku symmetry. Generators
and counts are part of `state_dict()`, so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sudoku_trm.errors import UserError
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.sudoku import augment
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet
from sudoku_trm.training.config import FRONTIER_REVEALS
from sudoku_trm.training.rng import restore_generator

FLOOR = 0.02  # every bucket's least weight: p (1 - p) is at most 0.25
DECAY = 0.999  # per puzzle reported: a bucket's counts reflect roughly its last thousand puzzles


class FrontierStream:
    """Batches of (inputs, labels, buckets) on `device`; `report` tells it which left puzzles were solved."""

    def __init__(
        self,
        puzzles: PuzzleSet,
        batch_size: int,
        device: str | torch.device = "cpu",
        seed: int = 0,
        reveals: tuple[float, ...] = FRONTIER_REVEALS,
    ):
        if len(puzzles) == 0:
            raise UserError("the training set is empty")
        self.device = torch.device(device)
        self.batch_size = batch_size
        groups = puzzles.groups if puzzles.groups is not None else torch.zeros(len(puzzles), dtype=torch.long)
        groups = torch.as_tensor(groups, dtype=torch.long)
        # Sorted by source, so a source is one contiguous run of rows: [start, start + size).
        order = torch.argsort(groups, stable=True)
        self.questions = torch.from_numpy(puzzles.questions).to(self.device)[order.to(self.device)]
        self.answers = torch.from_numpy(puzzles.answers).to(self.device)[order.to(self.device)]
        sizes = torch.bincount(groups)
        self.source_names = puzzles.group_names or (puzzles.name,)
        self.sizes = sizes.to(self.device)
        self.starts = (torch.cumsum(sizes, 0) - sizes).to(self.device)
        self.reveals = torch.tensor(reveals, dtype=torch.float64, device=self.device)
        self.buckets = len(sizes) * len(reveals)
        self.tries = torch.ones(self.buckets, dtype=torch.float64, device=self.device) * 2.0  # one solved, one not
        self.solved = torch.ones(self.buckets, dtype=torch.float64, device=self.device)
        self.generator = torch.Generator(self.device).manual_seed(seed + 2)

    def solve_rates(self) -> Tensor:
        return self.solved / self.tries

    def weights(self) -> Tensor:
        """Each bucket's share of the next draws: p (1 - p) + FLOOR, normalised."""
        rate = self.solve_rates()
        weight = rate * (1 - rate) + FLOOR
        return weight / weight.sum()

    def next_batch(self) -> tuple[Tensor, Tensor, Tensor]:
        """(inputs, labels) int64 tokens (batch_size, 81), and each row's bucket (batch_size,)."""
        rows, g = self.batch_size, self.generator
        buckets = torch.multinomial(self.weights(), rows, replacement=True, generator=g)
        source, reveal = buckets // len(self.reveals), buckets % len(self.reveals)
        offset = (torch.rand(rows, generator=g, device=self.device, dtype=torch.float64) * self.sizes[source]).long()
        index = self.starts[source] + torch.minimum(offset, self.sizes[source] - 1)
        questions, answers = self.questions[index], self.answers[index]
        symmetries = augment.random_symmetries(rows, g, device=self.device)
        questions, answers = augment.apply(questions, symmetries), augment.apply(answers, symmetries)
        shown = torch.rand(questions.shape, generator=g, device=self.device, dtype=torch.float64)
        questions = torch.where((questions == 0) & (shown < self.reveals[reveal][:, None]), answers, questions)
        return to_tokens(questions.long()), to_tokens(answers.long()), buckets

    def report(self, buckets: Tensor, left: Tensor, solved: Tensor) -> None:
        """After a step, per slot: its puzzle's bucket, whether it left its slot, and whether it was solved.
        Masks rather than a selection, so a GPU never waits for the host here."""
        counts = torch.bincount(buckets, weights=left.double(), minlength=self.buckets)
        wins = torch.bincount(buckets, weights=(left & solved).double(), minlength=self.buckets)
        keep = DECAY ** counts.sum()
        self.tries = self.tries * keep + counts
        self.solved = self.solved * keep + wins

    def summary(self) -> dict[str, list[float]]:
        """Per bucket, in order (source, reveal): its solve rate and its share of the draws (for metrics)."""
        return {
            "frontier_solve_rate": [round(v, 4) for v in self.solve_rates().tolist()],
            "frontier_share": [round(v, 4) for v in self.weights().tolist()],
        }

    def describe(self) -> list[str]:
        """The buckets' names, in the order `summary` lists them."""
        return [f"{name} reveal {r:g}" for name in self.source_names for r in self.reveals.tolist()]

    def state_dict(self) -> dict:
        return {
            "tries": self.tries.clone(),
            "solved": self.solved.clone(),
            "generator": self.generator.get_state(),
            "generator_device": self.device.type,
        }

    def load_state_dict(self, state: dict) -> list[str]:
        if len(state["tries"]) != self.buckets:
            raise UserError("the checkpoint's frontier has other buckets (other data or reveals)")
        self.tries = state["tries"].to(self.device)
        self.solved = state["solved"].to(self.device)
        if not restore_generator(self.generator, state["generator"], state.get("generator_device")):
            return ["the frontier's draws"]
        return []
