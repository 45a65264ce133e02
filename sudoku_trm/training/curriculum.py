"""CGAR's two curricula for training a TRM.

PDC (progressive depth curriculum): shallow recursion early in training, full depth later. Depth is
(H_cycles, L_cycles) and depends only on progress = step / total steps, so a resumed run picks up
the same schedule. Evaluation always uses the full (last) depth.

HSW (hierarchical supervision weighting): early supervision steps weigh more than late ones,
w_t = decay^(t-1) / sum_{k=1..N} decay^(k-1) for the 1-based step t of each sample, N = max steps.
The weights of one puzzle's N steps sum to 1, so a puzzle that uses all its steps contributes a
total weight of 1 (against N with uniform weights of 1): HSW shifts emphasis and shrinks the loss
scale by ~N, which Adam's normalised update mostly absorbs.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from sudoku_trm.training.config import PDC_BOUNDARIES, PDC_DEPTHS, Curriculum, Depth


def block_applications(h_cycles: int, l_cycles: int, blocks: int = 2) -> int:
    """Block forward passes in one supervision step: each of h passes runs l latent updates and one
    answer update, each a pass through the whole network. (1,2) -> 6, (2,4) -> 20, (3,6) -> 42."""
    return h_cycles * (l_cycles + 1) * blocks


@dataclass(frozen=True)
class DepthSchedule:
    """Piecewise-constant depth: depths[i] holds while boundaries[i-1] <= progress < boundaries[i]."""

    boundaries: tuple[float, ...] = PDC_BOUNDARIES
    depths: tuple[Depth, ...] = PDC_DEPTHS

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON) but store tuples, so the schedule stays hashable and frozen.
        object.__setattr__(self, "boundaries", tuple(float(b) for b in self.boundaries))
        object.__setattr__(self, "depths", tuple((int(h), int(l)) for h, l in self.depths))
        if len(self.depths) != len(self.boundaries) + 1:
            raise ValueError(
                f"{len(self.boundaries)} boundaries need {len(self.boundaries) + 1} depths, got {len(self.depths)}"
            )
        if any(not 0.0 < b < 1.0 for b in self.boundaries) or list(self.boundaries) != sorted(set(self.boundaries)):
            raise ValueError(f"boundaries must increase strictly within (0, 1), got {self.boundaries}")
        if any(h < 1 or l < 1 for h, l in self.depths):
            raise ValueError(f"depths must be >= 1, got {self.depths}")

    @property
    def full_depth(self) -> Depth:
        return self.depths[-1]

    def depth_at(self, progress: float) -> Depth:
        """Depth for training progress in [0, 1] (values outside are clamped)."""
        if progress != progress:  # NaN
            raise ValueError("progress is NaN")
        return self.depths[bisect.bisect_right(self.boundaries, min(max(progress, 0.0), 1.0))]

    def mean_block_applications(self, blocks: int = 2) -> float:
        """Average cost of a supervision step over a whole run, in block applications."""
        edges = (0.0, *self.boundaries, 1.0)
        return sum(
            (hi - lo) * block_applications(h, l, blocks) for lo, hi, (h, l) in zip(edges, edges[1:], self.depths)
        )

    def saving(self, blocks: int = 2) -> float:
        """Fraction of block applications saved against running full depth throughout."""
        return 1.0 - self.mean_block_applications(blocks) / block_applications(*self.full_depth, blocks)


def step_weights(steps: Tensor, decay: float = 0.7, max_steps: int = 16) -> Tensor:
    """HSW weight of each sample's loss at its own 1-based supervision step: (B,) -> (B,) fp32.

    w_t = decay^(t-1) / sum_{k=1..max_steps} decay^(k-1), so w_1..w_N sum to 1. Steps are not
    range-checked (that would force a device sync); pass 1..max_steps.
    """
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must lie in (0, 1], got {decay}")
    norm = max_steps if decay == 1.0 else (1.0 - decay**max_steps) / (1.0 - decay)
    return torch.pow(decay, steps.float() - 1.0) / norm


def batch_step_weight(steps: Tensor, decay: float = 0.7) -> Tensor:
    """The public CGAR code's variant, for comparison: one scalar decay^mean(step) for the whole
    batch (steps as given, 1-based here). Under Adam a common scale is nearly a no-op."""
    return torch.pow(decay, steps.float().mean())


HswVariant = Literal["per_sample", "batch"]


@dataclass(frozen=True)
class CurriculumPlan:
    """A curriculum with its settings: the depth and the loss weights a training step should use.

    The schedule's last depth should equal the model's full depth (ModelConfig.H_cycles, L_cycles).
    """

    curriculum: Curriculum = Curriculum.CGAR
    schedule: DepthSchedule = field(default_factory=DepthSchedule)
    decay: float = 0.7
    max_steps: int = 16
    hsw_variant: HswVariant = "per_sample"  # "batch": the public code's 0.7^mean(step)

    def __post_init__(self) -> None:
        object.__setattr__(self, "curriculum", Curriculum(self.curriculum))
        if self.hsw_variant not in ("per_sample", "batch"):
            raise ValueError(f"hsw_variant must be 'per_sample' or 'batch', got {self.hsw_variant!r}")

    @property
    def eval_depth(self) -> Depth:
        return self.schedule.full_depth

    def depth_at(self, progress: float) -> Depth:
        return self.schedule.depth_at(progress) if self.curriculum.uses_pdc else self.schedule.full_depth

    def weights(self, steps: Tensor) -> Tensor:
        """Per-sample loss weights (B,) for samples at 1-based supervision `steps` (B,)."""
        if not self.curriculum.uses_hsw:
            return torch.ones(steps.shape, dtype=torch.float32, device=steps.device)
        if self.hsw_variant == "batch":
            return batch_step_weight(steps, self.decay).expand(steps.shape)
        return step_weights(steps, self.decay, self.max_steps)
