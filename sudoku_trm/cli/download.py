"""`sudoku-trm download weights|data`: options in, library call, where things went out.

Registered in cli/app.py with `app.add_typer(download_app, name="download")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from sudoku_trm.cli.terminal import reports_user_errors, stdout
from sudoku_trm.hub.repos import DATA_FILES, DEFAULT_DATA_DIR, DEFAULT_DATA_REPO, DEFAULT_WEIGHTS_REPO

download_app = typer.Typer(
    help="Download weights and data sets from the Hugging Face Hub (HF_HUB_OFFLINE=1: from the cache only).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_REVISION = typer.Option(
    None,
    "--revision",
    help="Branch, tag or commit to download (default: main). Pin a commit for reproducible downloads.",
)
_FORCE = typer.Option(False, "--force", help="Download again even if cached, and replace files already in the target.")


@download_app.command()
@reports_user_errors
def weights(
    repo_id: str = typer.Argument(DEFAULT_WEIGHTS_REPO, help="Model repo on the Hub (owner/name)."),
    directory: Optional[Path] = typer.Option(
        None, "--dir", metavar="DIR", help="Target directory (default: weights/<repo name>)."
    ),
    revision: Optional[str] = _REVISION,
    checkpoint: Optional[str] = typer.Option(
        None,
        "--checkpoint",
        help="Reference repos: which checkpoint file (default: pytorch_model.bin, else the latest step_N).",
    ),
    force: bool = _FORCE,
) -> None:
    """Download a model: our layout is copied as is, a TRM/CGAR reference checkpoint is converted.

    The result is a directory for `--weights`: config.json, model.safetensors and a model card.
    """
    from sudoku_trm.hub.downloads import download_weights

    result = download_weights(repo_id, directory, revision=revision, checkpoint=checkpoint, force=force)
    how = "converted from" if result.converted else "copied from"
    stdout.print(
        f"{result.directory}: {result.parameters:,}-parameter model {how} {result.snapshot.describe()} "
        f"({' + '.join(result.sources)})",
        markup=False,
        soft_wrap=True,
    )
    stdout.print(f"use it with: sudoku-trm solve PUZZLES --weights {result.directory}", markup=False, soft_wrap=True)


@download_app.command()
@reports_user_errors
def data(
    repo_id: str = typer.Argument(DEFAULT_DATA_REPO, help="Data set repo on the Hub (owner/name)."),
    directory: Optional[Path] = typer.Option(
        None, "--dir", metavar="DIR", help=f"Target directory (default: {DEFAULT_DATA_DIR.as_posix()})."
    ),
    files: List[str] = typer.Option(list(DATA_FILES), "--file", help="File to download (repeat)."),
    revision: Optional[str] = _REVISION,
    force: bool = _FORCE,
) -> None:
    """Download a data set's CSV files (Sudoku-Extreme by default) for `train --data` and `eval`."""
    from sudoku_trm.hub.downloads import download_data

    result = download_data(repo_id, directory, files=files, revision=revision, force=force)
    for path in result.paths:
        size = path.stat().st_size / 1e6
        stdout.print(f"{path}: {size:,.1f} MB from {result.snapshot.describe()}", markup=False, soft_wrap=True)
