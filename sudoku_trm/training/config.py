"""The trainer's typed hyperparameters, saved with every checkpoint (the model's are in model/config.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sudoku_trm.model.config import DictConfig

Depth = tuple[int, int]  # (H_cycles, L_cycles)

# Training data and dev set that need no files: the three levels the generator grades (sudoku/generate.py),
# and a dev set of another seed. Made on the first run (about two minutes on one core), then cached.
GENERATED_DATA: tuple[str, ...] = ("generated:singles:2000", "generated:logic:2000", "generated:guesses:2000")
GENERATED_DEV = "generated:guesses:200:1"

# CGAR's stages for the published full depth (3, 6): (1, 2) below 30% of training, (2, 4) below 60%.
PDC_BOUNDARIES: tuple[float, ...] = (0.3, 0.6)
PDC_DEPTHS: tuple[Depth, ...] = ((1, 2), (2, 4), (3, 6))

# The frontier mix's reveals: shares of a puzzle's blanks filled in from its solution (0: as posed).
FRONTIER_REVEALS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)


def stages_for(full: Depth) -> tuple[Depth, ...]:
    """PDC's three stages ending at `full`: the published ones for (3, 6), else a third, two thirds
    and all of each cycle count (at least 1 each)."""
    if full == PDC_DEPTHS[-1]:
        return PDC_DEPTHS
    h, l = full
    return tuple((max(1, round(h * f)), max(1, round(l * f))) for f in (1 / 3, 2 / 3)) + (full,)


OPTIMIZERS: tuple[str, ...] = ("adam_atan2", "adamw", "muon")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
LOSSES: tuple[str, ...] = ("stablemax", "softmax")
TARGETS: tuple[str, ...] = ("solution", "logic")  # training/targets.py
PENDING: tuple[str, ...] = ("solution", "unknown")  # training/targets.py
MIXES: tuple[str, ...] = ("fixed", "frontier")  # training/stream.py, training/frontier.py


class Curriculum(str, enum.Enum):
    """Which CGAR parts are active. `none`: full depth always, every step weighs 1."""

    NONE = "none"
    PDC = "pdc"
    HSW = "hsw"
    CGAR = "cgar"

    @property
    def uses_pdc(self) -> bool:
        return self in (Curriculum.PDC, Curriculum.CGAR)

    @property
    def uses_hsw(self) -> bool:
        return self in (Curriculum.HSW, Curriculum.CGAR)


@dataclass(frozen=True)
class TrainConfig(DictConfig):
    """Everything the trainer needs besides the model. Defaults: the TRM/CGAR recipe for one GPU."""

    name: str = "cgar"  # run folder under runs_dir: checkpoint.pt, metrics.jsonl
    runs_dir: str = "runs"
    # Puzzle files, or `generated:LEVEL:COUNT[:SEED]` sources the generator makes once and caches: the
    # default needs no data files. The published setting trains on Sudoku-Extreme (`download data`).
    data: tuple[str, ...] = GENERATED_DATA
    dev: str | None = GENERATED_DEV
    dev_limit: int | None = 500  # dev puzzles per periodic evaluation (None: all)
    subsample: int | None = None  # paper protocol: this many base puzzles ...
    augment_copies: int = 1000  # ... each with this many fixed augmented copies
    easier_share: float = 0.0  # share of training samples with a random share of blanks filled in (mix "fixed")
    # "fixed": every puzzle alike (training/stream.py); "frontier": (source, reveal) buckets drawn by how
    # often the model solves them now, most where it half-solves (training/frontier.py)
    mix: str = "fixed"
    reveals: tuple[float, ...] = FRONTIER_REVEALS  # the frontier's buckets per source (mix "frontier")
    curriculum: str = "cgar"  # none | pdc | hsw | cgar
    pdc_boundaries: tuple[float, ...] = PDC_BOUNDARIES  # progress where depth grows
    pdc_depths: tuple[tuple[int, int], ...] = PDC_DEPTHS  # (H_cycles, L_cycles) per stage
    hsw_decay: float = 0.7
    hsw_variant: str = "per_sample"  # per_sample (the paper) | batch (the public CGAR code)
    steps: int = 20_000  # optimiser steps (each one supervision step for the whole batch)
    # Minutes of wall time for the whole run (setup, compilation, evaluation and the final save
    # included): when set, `steps` is ignored and every schedule follows elapsed time / budget.
    time_budget: float | None = None
    batch_size: int = 768  # global, split over processes
    # adam_atan2 | adamw | muon (Muon on the blocks' weight matrices, AdamW on every other tensor)
    optimizer: str = "adam_atan2"
    lr: float = 1e-4  # Adam-atan2 / AdamW groups
    lr_schedule: str = "constant"  # constant | cosine (to lr_floor * lr at the last step)
    lr_floor: float = 0.0  # the cosine's end, as a fraction of each group's learning rate
    warmup_steps: int = 2_000  # linear warm-up, multiplying the schedule
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 1.0
    # Muon (optimizer "muon"); defaults are "Speed is Confidence"'s: momentum 0.6 with Nesterov, 3
    # Newton-Schulz steps, and a decay whose product with the lr (1e-4) matches AdamW's lr x decay.
    muon_lr: float = 0.02
    muon_momentum: float = 0.6
    muon_weight_decay: float = 0.005
    muon_ns_steps: int = 3
    grad_clip: float | None = None  # max gradient norm; None or 0: no clipping
    ema_decay: float = 0.999
    loss: str = "stablemax"  # stablemax | softmax: the cells' cross-entropy
    label_smoothing: float = 0.0  # share of each cell's target spread over the whole vocabulary
    halt_loss_weight: float = 0.5
    # Per-step targets (training/targets.py): "solution" scores every step on the whole solution; "logic"
    # scores step t on the cells our solver's logic places in rounds_per_step * t rounds, the cells it
    # reaches later weighing pending_weight.
    targets: str = "solution"
    rounds_per_step: int = 2
    pending_weight: float = 0.0
    # What a cell not reached yet is asked for (targets "logic"): "solution" (its digit, at pending_weight)
    # or "unknown" (an even spread over the digits, at pending_weight; cells logic never places stay so).
    pending: str = "solution"
    init_from: str | None = None  # an exported model directory to start from (ignored on resume)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    compile: bool = False  # torch.compile the shared network, once for every depth (worth it on CUDA)
    bf16: bool = True  # bf16 autocast on CUDA (no effect elsewhere)
    # bf16 autocast on the CPU too: 2.6x the training throughput on a CPU with AMX, with torch.compile
    # (benchmarks/results/cpu_throughput.md); far slower on a CPU without bf16 units, hence off by default.
    cpu_bf16: bool = False
    log_every: int = 50
    eval_every: int = 2_000
    eval_batch_size: int = 512
    checkpoint_every: int = 500
    resume: bool = False

    def __post_init__(self) -> None:
        names = [c.value for c in Curriculum]
        if self.curriculum not in names:
            raise ValueError(f"curriculum must be one of {', '.join(names)}, got {self.curriculum!r}")
        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("lr_schedule", LR_SCHEDULES),
            ("loss", LOSSES),
            ("targets", TARGETS),
            ("pending", PENDING),
            ("mix", MIXES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        if not 0.0 <= self.lr_floor <= 1.0:
            raise ValueError(f"lr_floor must lie in [0, 1], got {self.lr_floor}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of minutes, got {self.time_budget}")
        if self.muon_ns_steps < 1:
            raise ValueError(f"muon_ns_steps must be >= 1, got {self.muon_ns_steps}")
        if not 0.0 <= self.easier_share <= 1.0:
            raise ValueError(f"easier_share must lie in [0, 1], got {self.easier_share}")
        if (
            not self.reveals
            or any(not 0.0 <= r < 1.0 for r in self.reveals)
            or len(set(self.reveals)) < len(self.reveals)
        ):
            raise ValueError(f"reveals must be distinct shares in [0, 1), got {list(self.reveals)}")
        if self.rounds_per_step < 1:
            raise ValueError(f"rounds_per_step must be >= 1, got {self.rounds_per_step}")
        if not 0.0 <= self.pending_weight <= 1.0:
            raise ValueError(f"pending_weight must lie in [0, 1], got {self.pending_weight}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
