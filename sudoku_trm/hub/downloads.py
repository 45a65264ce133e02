"""Get published weights and data sets from the Hugging Face Hub into the project's layout.

`download_weights` takes a model repo in either of two layouts: ours (config.json + model.safetensors, or
config.json + model.safetensors.index.json + the shards it names, as model/weights.py exports a model
past the shard limit; copied as they are) or the TRM/CGAR reference's (a torch checkpoint + its YAML
config, converted by `importing`). Either way the result is a directory `export.load_weights` reads, and
the model is loaded strictly before anything is written there. `download_data` places a data set's CSVs in a
directory. Every file of one download comes from one commit (the revision resolved once).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.hub import client as hub
from sudoku_trm.hub.repos import DATA_FILES, DEFAULT_DATA_DIR, DEFAULT_DATA_REPO, DEFAULT_WEIGHTS_REPO
from sudoku_trm.model.weights import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_FILE_PATTERNS,
    WEIGHTS_INDEX_NAME,
    WEIGHTS_NAME,
    load_weights,
    shard_names,
)
from sudoku_trm.sudoku.puzzles import QUESTION_COLUMNS

WEIGHTS_ROOT = Path("weights")

# Reference checkpoints: the Hub's pytorch_model.bin, or a training run's step_N (some add a suffix).
_CHECKPOINT = re.compile(r"pytorch_model\.bin|step_(\d+)\S*")
_REFERENCE_CONFIGS = ("config.yaml", "all_config.yaml")


@dataclass(frozen=True)
class WeightsDownload:
    directory: Path
    snapshot: hub.RepoSnapshot
    sources: tuple[str, ...]  # the repo files it was made from
    converted: bool  # True: a reference checkpoint, converted; False: our layout, copied
    parameters: int


@dataclass(frozen=True)
class DataDownload:
    snapshot: hub.RepoSnapshot
    paths: tuple[Path, ...]


def default_weights_dir(repo_id: str) -> Path:
    """weights/<repo name>, e.g. weights/trm-cgar-sudoku."""
    return WEIGHTS_ROOT / repo_id.rstrip("/").split("/")[-1]


def download_weights(
    repo_id: str = DEFAULT_WEIGHTS_REPO,
    directory: Path | None = None,
    *,
    revision: str | None = None,
    checkpoint: str | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
) -> WeightsDownload:
    """Download a model repo into `directory` (default weights/<repo name>) in our layout.

    `checkpoint` picks one file of a reference repo holding several; by default pytorch_model.bin,
    else the highest step_N. A directory that already holds a model is replaced only with `force`.
    """
    directory = Path(directory) if directory is not None else default_weights_dir(repo_id)
    if not force and any((directory / name).exists() for name in (CONFIG_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)):
        raise UserError(f"{directory}: already holds a model; pass --force to replace it, or --dir for another place")
    snapshot = hub.open_repo(repo_id, revision=revision, cache_dir=cache_dir)
    fetch = dict(revision=snapshot.commit, force=force, cache_dir=cache_dir)
    files = set(snapshot.files)

    if checkpoint is None and CONFIG_NAME in files and files & {WEIGHTS_NAME, WEIGHTS_INDEX_NAME}:
        return _copy_export(repo_id, snapshot, directory, force=force, cache_dir=cache_dir)

    checkpoint_name, config_name = _reference_files(snapshot, checkpoint)
    checkpoint_path, config_path = hub.fetch_files(repo_id, [checkpoint_name, config_name], **fetch)
    from sudoku_trm.hub.importing import convert_reference  # imports yaml: only when converting

    model = convert_reference(
        checkpoint_path, config_path, directory, source=f"{snapshot.describe()}: {checkpoint_name} + {config_name}"
    )
    return WeightsDownload(directory, snapshot, (checkpoint_name, config_name), True, model.count_parameters())


def _copy_export(
    repo_id: str, snapshot: hub.RepoSnapshot, directory: Path, *, force: bool, cache_dir: Path | None
) -> WeightsDownload:
    """A repo in our layout, single file or sharded (`fetch_model` picks which, and refuses a repo
    holding both), loaded strictly from the cache, then copied into `directory`: the weight files first
    (shards before their index), the other layout's files removed, then config and card."""
    folder = hub.fetch_model(repo_id, revision=snapshot.commit, cache_dir=cache_dir, force_download=force)
    model = load_weights(folder)  # strict: refuse before writing anything
    if (folder / WEIGHTS_INDEX_NAME).is_file():
        weights = [*shard_names(folder / WEIGHTS_INDEX_NAME), WEIGHTS_INDEX_NAME]
    else:
        weights = [WEIGHTS_NAME]
    paths = {name: folder / name for name in weights + [CONFIG_NAME]}
    if CARD_NAME in snapshot.files:
        fetched = hub.fetch_files(repo_id, [CARD_NAME], revision=snapshot.commit, force=force, cache_dir=cache_dir)
        paths[CARD_NAME] = fetched[0]
    directory.mkdir(parents=True, exist_ok=True)
    for name, path in paths.items():
        if name == CONFIG_NAME:  # the weights are all in place: drop the other layout's, or older shards
            _remove_other_weights(directory, keep=set(weights))
        with open(path, "rb") as source:
            atomic_write(directory / name, lambda out: shutil.copyfileobj(source, out, 1 << 20))
    return WeightsDownload(directory, snapshot, tuple(paths), False, model.count_parameters())


def _remove_other_weights(directory: Path, keep: set[str]) -> None:
    """Delete the weight files of our layouts in `directory` that `keep` does not name."""
    for path in directory.iterdir():
        if path.name not in keep and any(fnmatch.fnmatchcase(path.name, p) for p in WEIGHTS_FILE_PATTERNS):
            path.unlink(missing_ok=True)


def _reference_files(snapshot: hub.RepoSnapshot, checkpoint: str | None) -> tuple[str, str]:
    """(checkpoint, config) of a reference-format repo; the config lies beside the checkpoint."""
    candidates = [f for f in snapshot.files if _CHECKPOINT.fullmatch(posixpath.basename(f))]
    if checkpoint is not None:
        if checkpoint not in snapshot.files:
            listed = ", ".join(candidates) or "none"
            raise UserError(f"{snapshot.describe()}: no file {checkpoint} (checkpoints there: {listed})")
        chosen = checkpoint
    elif candidates:
        chosen = max(candidates, key=_checkpoint_rank)
    else:
        listed = ", ".join(snapshot.files[:8]) + (", ..." if len(snapshot.files) > 8 else "") or "none cached"
        raise UserError(
            f"{snapshot.describe()}: neither our layout ({CONFIG_NAME} + {WEIGHTS_NAME}) nor a TRM "
            f"reference checkpoint (pytorch_model.bin or step_N beside config.yaml); files: {listed}"
        )
    folder = posixpath.dirname(chosen)
    for name in _REFERENCE_CONFIGS:
        config = posixpath.join(folder, name)
        if config in snapshot.files:
            return chosen, config
    raise UserError(
        f"{snapshot.describe()}: {chosen} has no {' or '.join(_REFERENCE_CONFIGS)} beside it "
        "(its architecture settings)"
    )


def _checkpoint_rank(name: str) -> tuple[int, int, int]:
    """Prefer a top-level pytorch_model.bin (the published one), then the latest training step."""
    match = _CHECKPOINT.fullmatch(posixpath.basename(name))
    step = int(match.group(1)) if match and match.group(1) else -1
    return (int(posixpath.dirname(name) == ""), int(step < 0), step)


def download_data(
    repo_id: str = DEFAULT_DATA_REPO,
    directory: Path | None = None,
    *,
    files: Sequence[str] = DATA_FILES,
    revision: str | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
) -> DataDownload:
    """Download a Hub data set's files into `directory` (default data/sudoku-extreme/)."""
    directory = Path(directory) if directory is not None else DEFAULT_DATA_DIR
    snapshot = hub.open_repo(repo_id, repo_type="dataset", revision=revision, cache_dir=cache_dir)
    missing = [name for name in files if name not in snapshot.files]
    if missing and not hub.is_offline():  # offline, fetch_file says the file is not cached
        raise UserError(f"{snapshot.describe()}: no file {missing[0]} (files: {', '.join(snapshot.files) or 'none'})")
    paths = tuple(
        hub.fetch_file(
            repo_id,
            name,
            repo_type="dataset",
            revision=snapshot.commit,
            local_dir=directory,
            force=force,
            cache_dir=cache_dir,
        )
        for name in files
    )
    for path in paths:
        if path.suffix.lower() == ".csv":
            _check_puzzle_csv(path)
    return DataDownload(snapshot, paths)


def _check_puzzle_csv(path: Path) -> None:
    """Fail now, not at training time, when a CSV has no question column (the wrong repo or file)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().strip()
    columns = [c.strip().strip('"').lower() for c in header.split(",")]
    if not any(c in QUESTION_COLUMNS for c in columns):
        raise UserError(
            f"{path}: not a puzzle CSV (header {header[:80]!r} has no column {' / '.join(QUESTION_COLUMNS)})"
        )
