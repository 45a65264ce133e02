"""The Hugging Face Hub, behind one thin module: the only one that talks to the Hub.

(model/weights.py also imports huggingface_hub, for its file-format helpers alone: no network.)

Every download goes through `open_repo` (resolve a revision to a commit and list the repo's files)
and `fetch_file` (one file from that commit). Both respect offline mode at call time: with
HF_HUB_OFFLINE=1 (or `local_files_only=True`) only the local cache is used. huggingface_hub reads
its own settings once at import, so the environment is read again here, per call. Every failure of
huggingface_hub becomes a one-line `UserError` that names the repo, the file and the revision and
says what to do. Progress bars are huggingface_hub's own, on stderr; nothing here writes to stdout.

`fetch_model` and `push_folder` serve `load_model` and `push_model` (sudoku_trm/pretrained.py), which
import this module only when called: importing the model loads no Hub code.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download
from huggingface_hub.utils import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write

DEFAULT_REVISION = "main"
REPO_TYPES = ("model", "dataset")
_TRUE = {"1", "ON", "YES", "TRUE"}
_COMMIT = re.compile(r"[0-9a-f]{40}")

# huggingface_hub's HTTP library differs between its versions (requests, httpx, httpx2). Its error
# classes are the non-builtin bases of HfHubHTTPError, so network failures are caught without
# importing that library here.
_HTTP_LIBRARY_ERRORS = tuple(
    base for base in HfHubHTTPError.__mro__[1:] if base.__module__.split(".")[0] not in ("builtins", "huggingface_hub")
)


def is_offline(local_files_only: bool = False) -> bool:
    """Offline when asked, or when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set now or was at import."""
    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return local_files_only or env.strip().upper() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def cache_dir_for(cache_dir: str | Path | None = None) -> Path:
    """The given cache, else $HF_HUB_CACHE as it is now, else huggingface_hub's default."""
    return Path(cache_dir or os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE).expanduser()


@dataclass(frozen=True)
class RepoSnapshot:
    """A repo at one commit: every file of one download comes from the same commit."""

    repo_id: str
    repo_type: str
    revision: str  # as asked (a branch, tag or commit)
    commit: str  # what it resolved to
    files: tuple[str, ...]  # repo-relative paths; offline, the ones in the cache

    def describe(self) -> str:
        return f"{_repo_label(self.repo_id, self.repo_type)} @ {self.commit[:12]}"


def open_repo(
    repo_id: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> RepoSnapshot:
    """Resolve `revision` to a commit and list the files there (offline: from the cache)."""
    _check_repo_type(repo_type)
    revision = revision or DEFAULT_REVISION
    cache = cache_dir_for(cache_dir)
    offline = is_offline(local_files_only)
    with _hub_errors(repo_id, repo_type, revision, None, cache, offline):
        if offline:
            # A cached snapshot folder is named by its commit and holds the files downloaded so far.
            folder = Path(
                snapshot_download(
                    repo_id, repo_type=repo_type, revision=revision, cache_dir=cache, local_files_only=True
                )
            )
            files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            return RepoSnapshot(repo_id, repo_type, revision, folder.name, tuple(files))
        info = HfApi().repo_info(repo_id, repo_type=repo_type, revision=revision, token=token)
        files = sorted(s.rfilename for s in (info.siblings or []))
        return RepoSnapshot(repo_id, repo_type, revision, info.sha, tuple(files))


def fetch_file(
    repo_id: str,
    filename: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    local_dir: str | Path | None = None,
    force: bool = False,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> Path:
    """Download one file (or find it in the cache) and return its local path.

    Without `local_dir` the path lies in the Hub cache (treat it as read-only). With `local_dir` the
    file is placed at `local_dir/filename`. `force` downloads again even when cached, which needs the Hub.
    """
    _check_repo_type(repo_type)
    revision = revision or DEFAULT_REVISION
    cache = cache_dir_for(cache_dir)
    offline = is_offline(local_files_only)
    with _hub_errors(repo_id, repo_type, revision, filename, cache, offline):
        if force and offline:
            raise UserError(
                f"{_where(repo_id, repo_type, revision, filename)}: downloading again (--force) needs the "
                "Hub, but HF_HUB_OFFLINE=1 allows only the cache; run without HF_HUB_OFFLINE"
            )
        common = dict(repo_type=repo_type, revision=revision, cache_dir=cache, token=token)
        if local_dir is None:
            return Path(hf_hub_download(repo_id, filename, force_download=force, local_files_only=offline, **common))
        target = Path(local_dir) / filename
        if not offline:
            return Path(hf_hub_download(repo_id, filename, local_dir=local_dir, force_download=force, **common))
        # Offline, huggingface_hub's local_dir mode never looks in the cache: copy from the cache here.
        if not target.is_file():
            cached = hf_hub_download(repo_id, filename, local_files_only=True, **common)
            with open(cached, "rb") as source:
                atomic_write(target, lambda out: shutil.copyfileobj(source, out, 1 << 20))
        return target


def fetch_files(repo_id: str, filenames: Sequence[str], **options) -> list[Path]:
    """`fetch_file` for each name, in order (same options for all)."""
    return [fetch_file(repo_id, name, **options) for name in filenames]


# -- errors ------------------------------------------------------------------------------------------


def _check_repo_type(repo_type: str) -> None:
    if repo_type not in REPO_TYPES:
        raise UserError(f"repo type must be one of {', '.join(REPO_TYPES)}, got {repo_type!r}")


def _repo_label(repo_id: str, repo_type: str) -> str:
    return repo_id if repo_type == "model" else f"{repo_type} {repo_id}"


def _where(repo_id: str, repo_type: str, revision: str | None, filename: str | None) -> str:
    where = _repo_label(repo_id, repo_type)
    if filename:
        where += f" file {filename}"
    if revision and revision != DEFAULT_REVISION:
        short = revision[:12] if _COMMIT.fullmatch(revision) else revision
        where += f" (revision {short})"
    return where


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def _hub_errors(
    repo_id: str, repo_type: str, revision: str | None, filename: str | None, cache: Path, offline: bool
) -> Iterator[None]:
    """Turn whatever huggingface_hub raises into one actionable line. Order matters: the error
    classes nest (GatedRepoError is a RepositoryNotFoundError, every HTTP error is an OSError)."""
    where = _where(repo_id, repo_type, revision, filename)
    url = f"https://huggingface.co/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
    try:
        yield
    except UserError:
        raise
    except GatedRepoError:
        raise UserError(
            f"{where}: the repo is gated; accept its licence at {url} and log in with `hf auth login` (or set HF_TOKEN)"
        ) from None
    except RepositoryNotFoundError:
        raise UserError(
            f"{where}: no such {repo_type} repo on the Hub, or it is private; check the repo id "
            "(owner/name), or log in with `hf auth login` if you have access"
        ) from None
    except RevisionNotFoundError:
        raise UserError(
            f"{where}: the repo has no revision {revision!r}; check --revision (a branch, tag or commit hash)"
        ) from None
    except LocalEntryNotFoundError:  # before EntryNotFoundError, which it subclasses
        if offline:
            raise UserError(
                f"{where}: not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE=1 allows only "
                "the cache; run without HF_HUB_OFFLINE to download it"
            ) from None
        raise UserError(
            f"{where}: the Hub cannot be reached and nothing is cached; check your connection "
            "(or HF_ENDPOINT and proxy settings) and retry"
        ) from None
    except EntryNotFoundError:
        raise UserError(f"{where}: no such file in the repo; see {url}/tree/{revision or DEFAULT_REVISION}") from None
    except HFValidationError as error:
        raise UserError(f"{repo_id!r} is not a valid repo id or revision: {_first_line(error)}") from None
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status == 401:
            hint = "authentication failed; log in with `hf auth login` (or check HF_TOKEN)"
        elif status == 403:
            hint = f"access denied; check your token's permissions for {url}"
        elif status == 429:
            hint = "rate-limited by the Hub; wait a minute and retry, or log in with `hf auth login`"
        elif status is not None and status >= 500:
            hint = f"the Hub answered HTTP {status}; retry later"
        else:
            hint = f"the Hub request failed ({_first_line(error)})"
        raise UserError(f"{where}: {hint}") from None
    except (ConnectionError, TimeoutError, *_HTTP_LIBRARY_ERRORS) as error:
        raise UserError(
            f"{where}: cannot reach the Hugging Face Hub ({type(error).__name__}: {_first_line(error)}); "
            "check your connection, or set HF_HUB_OFFLINE=1 to use the cache"
        ) from None
    except OSError as error:  # disk: permissions, space, a read-only cache
        raise UserError(
            f"{where}: {error.strerror or _first_line(error)}{f' ({error.filename})' if error.filename else ''}"
        ) from None


# -- models: what pretrained.load_model and push_model call --------------------------------------------


def fetch_model(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Path:
    """The folder of one snapshot of `repo_id` holding an exported model (model/weights.py's layout), all
    from one commit: config.json and model.safetensors, or config.json, the index and every shard it names."""
    from sudoku_trm.model.weights import CONFIG_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME, shard_names

    options = dict(cache_dir=cache_dir, token=token, local_files_only=local_files_only)
    snapshot = open_repo(repo_id, revision=revision, **options)
    fetch = dict(revision=snapshot.commit, force=force_download, **options)
    if WEIGHTS_INDEX_NAME not in snapshot.files:
        # No index: the single file, whose absence fetch_file reports as a missing file of the repo.
        return fetch_files(repo_id, [CONFIG_NAME, WEIGHTS_NAME], **fetch)[0].parent
    if WEIGHTS_NAME in snapshot.files:
        raise UserError(
            f"{snapshot.describe()}: holds both {WEIGHTS_NAME} and {WEIGHTS_INDEX_NAME} (two exports mixed); "
            "ask its owner to delete the stale one, or pass --revision"
        )
    config, index = fetch_files(repo_id, [CONFIG_NAME, WEIGHTS_INDEX_NAME], **fetch)
    fetch_files(repo_id, shard_names(index), **fetch)
    return config.parent


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload sudoku-trm model",
    branch: str | None = None,
) -> str:
    """Upload an exported model folder to a model repo (created if missing), removing the weight files
    of an earlier push that the folder does not hold; returns the commit URL."""
    from sudoku_trm.model.weights import WEIGHTS_FILE_PATTERNS

    offline = is_offline()
    with _hub_errors(repo_id, "model", branch, None, cache_dir_for(), offline):
        if offline:
            raise UserError(f"{repo_id}: pushing needs the Hub, but HF_HUB_OFFLINE=1 is set")
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        # upload_folder never deletes by itself: a sharded export pushed over a single-file one (or the
        # reverse) would leave the repo holding both layouts. Files being uploaded are not deleted.
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=commit_message,
            revision=branch,
            delete_patterns=list(WEIGHTS_FILE_PATTERNS),
        )
        return str(getattr(info, "commit_url", info))
