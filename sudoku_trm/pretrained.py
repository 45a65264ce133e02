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

from sudoku_trm.model.trm import TRM, looks_local


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
        return TRM.from_pretrained(name_or_path, map_location=map_location)
    from sudoku_trm.hub.client import fetch_model

    source = fetch_model(
        str(name_or_path),
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )
    return TRM.from_pretrained(source, map_location=map_location)


def push_model(model: TRM, repo_id: str, **options: Any) -> str:
    """Upload `model`'s export to a Hub model repo; `options` as hub.client.push_folder takes them.
    Returns the commit URL."""
    from sudoku_trm.hub.client import push_folder

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        return push_folder(Path(folder), repo_id, **options)
