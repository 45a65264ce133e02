"""The puzzles in flight during training: one row per batch slot.

A slot holds one puzzle, its carried state (y, z) and how many supervision steps it has had. Each
optimiser step, in order: `refill` gives the slots that halted last step a fresh puzzle, every slot
runs one supervision step, and `halt_after` marks the ones that are done. The refill keeps rows of a
freshly drawn full batch with `torch.where` instead of indexing, so the GPU always works on a full
batch and deciding who leaves never waits for the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sudoku_trm.model.readout import says_halt
from sudoku_trm.model.trm import TRM, Carry


@dataclass
class Slots:
    carry: Carry
    inputs: Tensor  # (B, 81) int64 tokens
    labels: Tensor  # (B, 81) int64 tokens
    steps: Tensor  # (B,) int64: supervision steps this puzzle has had
    halted: Tensor  # (B,) bool: done; refilled at the start of the next step
    rounds: Tensor | None = None  # (B, 81) int64: logic rounds of each cell (per-step targets), or None
    buckets: Tensor | None = None  # (B,) int64: each puzzle's frontier bucket (training/frontier.py), or None

    @staticmethod
    def empty(model: TRM, batch: int, device: torch.device) -> Slots:
        tokens = torch.zeros((batch, model.config.seq_len), dtype=torch.long, device=device)
        steps = torch.zeros(batch, dtype=torch.long, device=device)
        halted = torch.ones(batch, dtype=torch.bool, device=device)  # so the first step fills every slot
        return Slots(model.initial_carry(batch, device), tokens, tokens.clone(), steps, halted)

    def refill(
        self, fresh: tuple[Tensor, Tensor], model: TRM, rounds: Tensor | None = None, buckets: Tensor | None = None
    ) -> None:
        """Halted slots take the fresh puzzles (a full batch, kept only where needed) and restart from
        the model's initial state; then every slot counts the step it is about to run. `rounds`: the
        fresh puzzles' logic rounds, and `buckets` their frontier buckets, kept the same way."""
        inputs, labels = fresh
        leave = self.halted
        self.inputs = torch.where(leave[:, None], inputs, self.inputs)
        self.labels = torch.where(leave[:, None], labels, self.labels)
        if rounds is not None:
            kept = self.rounds if self.rounds is not None else rounds
            self.rounds = torch.where(leave[:, None], rounds, kept)
        if buckets is not None:
            self.buckets = torch.where(leave, buckets, self.buckets if self.buckets is not None else buckets)
        self.carry = model.reset_carry(self.carry, leave)
        self.steps = torch.where(leave, 0, self.steps) + 1

    def halt_after(self, halt_logit: Tensor, max_steps: int, exploration_prob: float) -> None:
        """Mark the slots that are done: the head says halt, or the step limit is reached. Exploration
        (TRM/HRM recipe): with `exploration_prob` a slot must first reach a random minimum of 2..max_steps.
        Draws from the global RNG, which checkpoints save."""
        halted = says_halt(halt_logit) | (self.steps >= max_steps)
        explore = torch.rand(self.steps.shape, device=self.steps.device) < exploration_prob
        minimum = torch.randint(min(2, max_steps), max_steps + 1, self.steps.shape, device=self.steps.device)
        self.halted = halted & (self.steps >= torch.where(explore, minimum, 0))

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "y": self.carry.y,
            "z": self.carry.z,
            "inputs": self.inputs,
            "labels": self.labels,
            "steps": self.steps,
            "halted": self.halted,
            **({} if self.rounds is None else {"rounds": self.rounds}),
            **({} if self.buckets is None else {"buckets": self.buckets}),
        }

    @staticmethod
    def from_state(state: dict[str, Tensor], device: torch.device) -> Slots:
        t = {k: v.to(device) for k, v in state.items()}
        return Slots(
            Carry(t["y"], t["z"]), t["inputs"], t["labels"], t["steps"], t["halted"], t.get("rounds"), t.get("buckets")
        )
