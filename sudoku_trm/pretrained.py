"""Models by name, a thin layer above model/ and hub/: the shipped default, an exported directory or a
Hugging Face Hub repo id, and uploading one. model/ never imports hub/; this module joins them.

    from sudoku_trm.pretrained import load_model
    model = load_model()                      # the shipped default (or $SUDOKU_TRM_WEIGHTS), from any directory
    model = load_model("weights/mine")        # an exported directory
    model = load_model("OWNER/NAME")          # a Hub repo in the same layout, downloaded into the Hub cache
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from sudoku_trm.errors import UserError
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights, load_weights, resolve_weights_dir


def looks_local(name_or_path: str | Path) -> bool:
    """A Path, or a string that cannot be a Hub repo id (OWNER/NAME) or starts like a path."""
    if isinstance(name_or_path, Path):
        return True
    name = str(name_or_path)
    parts = name.split("/")
    return name.startswith(("/", ".", "~")) or "\\" in name or len(parts) != 2 or not all(parts)


def load_model(
    name_or_path: str | Path | None = None,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
    map_location: str | torch.device = "cpu",
) -> TRM:
    """A model, loaded strictly and silently. None: the shipped default. A Path, an existing directory
    or a string that cannot be OWNER/NAME (or starts with / . ~) is a local directory, whose absence is
    one UserError, never a Hub request for a typo; anything else is a Hub repo id."""
    if name_or_path is None or Path(name_or_path).is_dir() or looks_local(name_or_path):
        return load_local(name_or_path, map_location)
    from sudoku_trm.hub.client import fetch_model

    source = fetch_model(
        str(name_or_path),
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )
    return load_local(source, map_location)


def load_local(directory: str | Path | None, map_location: str | torch.device = "cpu") -> TRM:
    """A model from an exported directory (None: $SUDOKU_TRM_WEIGHTS, else the shipped default, found from
    any working directory), loaded strictly (a missing, extra or misshapen tensor is a UserError) and
    silently; a directory that does not exist is one UserError, never a Hub request."""
    source = resolve_weights_dir(None if directory is None else Path(directory))
    if not source.is_dir():
        what = "not a directory" if source.exists() else "no such directory"
        raise UserError(f"{directory}: {what} (a model is an exported directory holding config.json)")
    return load_weights(source, device=map_location)


def push_model(model: TRM, repo_id: str, **options: Any) -> str:
    """Upload `model`'s export to a Hub model repo; `options` as hub.client.push_folder takes them.
    Returns the commit URL."""
    from sudoku_trm.hub.client import push_folder

    with tempfile.TemporaryDirectory() as folder:
        export_weights(model, Path(folder))
        return push_folder(Path(folder), repo_id, **options)
