"""Spies on a Trainer, shared by the training tests: what the optimiser and the model were actually given at
every step, recorded while the real methods still run; and a clock to put in place of the Trainer's."""

from __future__ import annotations

from sudoku_trm.training.trainer import Trainer


def learning_rates_per_step(trainer: Trainer) -> list[list[float]]:
    """Each parameter group's learning rate at every optimiser step, as the optimiser steps with it."""
    used: list[list[float]] = []
    step = trainer.optimizer.step

    def spy(*args, **kwargs):
        used.append([group["lr"] for group in trainer.optimizer.param_groups])
        return step(*args, **kwargs)

    trainer.optimizer.step = spy  # type: ignore[method-assign]
    return used


def depths_per_step(trainer: Trainer) -> list[tuple[int, int]]:
    """The recursion depth (H cycles, L cycles) of every forward pass the trainer runs."""
    used: list[tuple[int, int]] = []
    forward = trainer.forward

    def spy(carry, inputs, h_cycles, l_cycles):
        used.append((h_cycles, l_cycles))
        return forward(carry, inputs, h_cycles, l_cycles)

    trainer.forward = spy  # type: ignore[assignment]
    return used


class FakeClock:
    """A clock that moves only when told: time budgets tested independently of the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def elapsed(self) -> float:
        return self.now

    def add(self, seconds: float) -> None:
        self.now += seconds

    def step_done(self) -> None:
        pass
