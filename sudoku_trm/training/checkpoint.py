"""Checkpoints that never lose finished work: written to a temporary file, then renamed into place.

A training checkpoint (`runs/<name>/checkpoint.pt`) holds the full state needed to continue
bit-for-bit: weights, EMA weights, optimiser, step, data-stream and RNG states, and both configs.
It is a plain dict of tensors and Python values, loaded with `weights_only=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise UserError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
