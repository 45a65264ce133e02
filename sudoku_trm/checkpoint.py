"""Checkpoints that never lose finished work: written to a temporary file, then renamed into place.

A training checkpoint (`runs/<name>/checkpoint.pt`) holds the full state needed to continue
bit-for-bit: weights, EMA weights, optimiser, step, data-stream and RNG states, and both configs.
It is a plain dict of tensors and Python values, loaded with `weights_only=True`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from sudoku_trm.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"


def atomic_write(path: Path, write) -> None:
    """Call `write(file_object)` on a temporary file beside `path`, then rename it onto `path`.

    A crash mid-write leaves the previous file intact; rename is atomic on one filesystem.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise UserError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
