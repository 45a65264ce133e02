"""The shipped inference layout: `config.json`, the EMA weights in safetensors, a model card.

This is the layout huggingface_hub's PyTorchModelHubMixin writes, so the Hub integration can read
and push it unchanged. Training state never goes here; it stays in `runs/<name>/`.

Weights larger than a shard limit (15 MiB by default) are split the Hub's way: shards named
`model-00001-of-0000N.safetensors` and an index, `model.safetensors.index.json`, whose `weight_map`
says which shard holds each tensor; smaller ones stay in one `model.safetensors`. The limit exists
because files come back from a lent GPU machine only up to 16 MiB, and hidden 512 in fp32 is 20 MB.
A directory holds one layout or the other, never both: exporting removes the other layout's files.

huggingface_hub is imported here (lazily, only when sharding) for its file-format helpers alone:
`split_torch_state_dict_into_shards` plans the shards, so the names and the index are the ones the
Hub, transformers and `huggingface_hub.load_torch_model` expect. It touches no network; Hub traffic
stays in hub/client.py. Reading needs nothing of it: the index is plain JSON, read here so that
every fault is a one-line UserError naming the file at fault.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM, weights_to_come

# The shipped default model: weights/ beside the package (an editable or source install), unless the
# environment names another directory.
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
WEIGHTS_ENV = "SUDOKU_TRM_WEIGHTS"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
# The Hub's pattern: "{suffix}" is "" for one file, "-00001-of-00003" for a shard.
_WEIGHTS_PATTERN = "model{suffix}.safetensors"
_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
# Every weight file of either layout, as glob patterns (for pruning a Hub repo on push).
WEIGHTS_FILE_PATTERNS = (WEIGHTS_NAME, WEIGHTS_INDEX_NAME, "model-?????-of-?????.safetensors")
# What an index may name: a file beside it (no separator, drive or "..").
_SHARD_FILE = re.compile(r"\w[\w.-]*\.safetensors")
# Tensor bytes per shard. Under 16 MiB with room for each file's safetensors header (JSON, ~100
# bytes per tensor); a single tensor larger than the limit still gets a shard of its own.
SHARD_LIMIT = 15 * 2**20
# The Hub's own marker in each file (save_torch_state_dict writes it; transformers checks it).
_METADATA = {"format": "pt"}


def export_weights(
    model: TRM,
    directory: Path,
    training: dict | None = None,
    card: str | None = None,
    max_shard_bytes: int = SHARD_LIMIT,
) -> None:
    """Write the model's weights (one file, or shards and an index past `max_shard_bytes`), its config and
    card to `directory`, each file atomically, then remove the files of the layout not written."""
    directory = Path(directory)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    shards = _plan_shards(tensors, max_shard_bytes)
    for name, keys in shards.items():
        shard = {k: tensors[k] for k in keys}
        atomic_write(directory / name, lambda f, shard=shard: f.write(save(shard, metadata=_METADATA)))
    if len(shards) > 1:
        # The index goes last, so a crash while the shards are written leaves an earlier single file readable.
        index = {
            "metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())},
            "weight_map": {k: name for name, keys in shards.items() for k in keys},
        }
        index_text = json.dumps(index, indent=2) + "\n"
        atomic_write(directory / WEIGHTS_INDEX_NAME, lambda f: f.write(index_text.encode()))
    _remove_stale_weights(directory, keep=set(shards))
    config_text = json.dumps(model.config.to_dict(), indent=2) + "\n"
    atomic_write(directory / CONFIG_NAME, lambda f: f.write(config_text.encode()))
    card_text = card or model_card(model, training)
    atomic_write(directory / CARD_NAME, lambda f: f.write(card_text.encode()))


def _plan_shards(tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> dict[str, list[str]]:
    """File name -> tensor names: {WEIGHTS_NAME: all} when they fit in one shard."""
    try:
        from huggingface_hub import split_torch_state_dict_into_shards
    except ImportError:  # an older or absent huggingface_hub on a lent machine must not lose a run's export
        return _greedy_shards(tensors, max_shard_bytes)
    split = split_torch_state_dict_into_shards(
        tensors, filename_pattern=_WEIGHTS_PATTERN, max_shard_size=max_shard_bytes
    )
    return {name: list(keys) for name, keys in split.filename_to_tensors.items()}


def _greedy_shards(tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> dict[str, list[str]]:
    """The split huggingface_hub makes, in state-dict order: a new shard when the next tensor would
    overflow the current one; a tensor larger than the limit alone in its own."""
    shards: list[list[str]] = []
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if not shards or size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    if len(shards) <= 1:
        return {WEIGHTS_NAME: [k for shard in shards for k in shard]}
    count = len(shards)
    return {_WEIGHTS_PATTERN.format(suffix=f"-{i + 1:05d}-of-{count:05d}"): keys for i, keys in enumerate(shards)}


def _remove_stale_weights(directory: Path, keep: set[str]) -> None:
    """Delete weight files of ours that `keep` does not name: the other layout, and shards of an
    earlier export split differently. Other files in the directory are left alone."""
    stale = [WEIGHTS_NAME] if len(keep) > 1 else [WEIGHTS_INDEX_NAME]
    stale += [p.name for p in directory.iterdir() if _SHARD.fullmatch(p.name)]
    for name in stale:
        if name not in keep:
            (directory / name).unlink(missing_ok=True)


def model_card(model: TRM, training: dict | None = None) -> str:
    """The model card (README.md): Hub metadata, size, how to load it, and the training record if given."""
    lines = [
        "---",
        "library_name: sudoku-trm",
        "tags: [sudoku, tiny-recursive-model, cgar]",
        "---",
        "",
        "# sudoku-trm model",
        "",
        f"A Tiny Recursive Model with {model.count_parameters(trainable_only=False):,} parameters "
        f"({model.config.mixer} mixer, hidden {model.config.hidden_size}).",
        "",
        "Load it with `sudoku_trm.model.weights.load_weights(directory)` or "
        "`sudoku_trm.pretrained.load_model(directory or repo id)`.",
        "",
    ]
    if training:
        lines += ["## Training", "", "```json", json.dumps(training, indent=2, default=str), "```", ""]
    return "\n".join(lines)


def resolve_weights_dir(weights: Path | None) -> Path:
    """`--weights` when given, else $SUDOKU_TRM_WEIGHTS, else the shipped default."""
    if weights is not None:
        return Path(weights)
    directory = Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS_DIR)
    if not (directory / CONFIG_NAME).is_file():
        raise UserError(
            f"{directory}: no default model there; pass --weights DIR or set {WEIGHTS_ENV} "
            "(`sudoku-trm download weights` fetches one into weights/trm-cgar-sudoku)"
        )
    return directory


def load_weights(directory: Path, device: str | torch.device = "cpu") -> TRM:
    """A TRM from an exported directory (one weights file or shards and their index, as `export_weights`
    writes them); any missing, corrupt or mismatched file is a UserError naming it."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise UserError(f"{config_path}: missing (expected an exported model directory)")
    entry = weights_entry(directory)
    try:
        config = ModelConfig.from_dict(json.loads(config_path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise UserError(f"{config_path}: not a valid model config ({error})") from None
    tensors, origin = _read_tensors(entry)
    with weights_to_come():  # the strict load below sets every tensor the random init would fill
        model = TRM(config)
    problem = _misfit(model.state_dict(), tensors)
    if problem:
        key, text = problem
        # A tensor the model lacks or shapes differently is blamed on its shard; one the files lack, on
        # the file that lists them all.
        raise UserError(f"{origin.get(key, entry)}: weights do not fit the config ({text})")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0] if str(error) else "mismatch"
        raise UserError(f"{entry}: weights do not fit the config ({first})") from None
    return model.to(device).eval()


def weights_entry(directory: Path) -> Path:
    """The file a reader starts from: `model.safetensors`, or the index of a sharded export."""
    single, index = Path(directory) / WEIGHTS_NAME, Path(directory) / WEIGHTS_INDEX_NAME
    if single.is_file() and index.is_file():
        raise UserError(
            f"{directory}: holds both {WEIGHTS_NAME} and {WEIGHTS_INDEX_NAME} (two exports mixed); "
            "export the model again, or delete the stale one"
        )
    if index.is_file():
        return index
    if not single.is_file():
        raise UserError(f"{single}: missing (expected an exported model directory)")
    return single


def shard_names(index_path: Path) -> list[str]:
    """The shard files a safetensors index names, sorted; a corrupt index is a UserError naming it."""
    return sorted(set(_weight_map(Path(index_path)).values()))


def _weight_map(index_path: Path) -> dict[str, str]:
    """The index's tensor name -> shard file map, checked: every shard is a plain .safetensors name,
    because an index from a Hub repo must not reach outside its folder (huggingface_hub checks the same)."""
    try:
        index = json.loads(index_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{index_path}: not a readable safetensors index ({error})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise UserError(f"{index_path}: not a safetensors index (no weight_map of tensor names to shard files)")
    for key, name in weight_map.items():
        if not isinstance(name, str) or not _SHARD_FILE.fullmatch(name):
            raise UserError(f"{index_path}: {key} maps to {name!r}, not a .safetensors file beside the index")
    return weight_map


def _read_tensors(entry: Path) -> tuple[dict[str, torch.Tensor], dict[str, Path]]:
    """Every tensor of an export, and the file each came from; each shard must hold exactly the
    tensors its index places there."""
    if entry.name != WEIGHTS_INDEX_NAME:
        tensors = _read_safetensors(entry)
        return tensors, dict.fromkeys(tensors, entry)
    weight_map = _weight_map(entry)
    tensors: dict[str, torch.Tensor] = {}
    origin: dict[str, Path] = {}
    for name in sorted(set(weight_map.values())):
        path = entry.parent / name
        if not path.is_file():
            raise UserError(f"{path}: missing (a shard that {entry.name} names)")
        shard = _read_safetensors(path)
        placed = {k for k, v in weight_map.items() if v == name}
        stray, absent = sorted(set(shard) - placed), sorted(placed - set(shard))
        if stray or absent:
            what = f"holds {stray[0]}, which the index does not place there" if stray else f"lacks {absent[0]}"
            raise UserError(f"{path}: does not match {entry.name} ({what})")
        tensors.update(shard)
        origin.update(dict.fromkeys(shard, path))
    return tensors, origin


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except Exception as error:  # safetensors' error type differs between versions
        raise UserError(f"{path}: not a readable safetensors file ({error})") from None


def _misfit(expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]) -> tuple[str, str] | None:
    """The first way `tensors` fails to fill a model holding `expected`, as (the key at fault, what is
    wrong); None when they fit."""
    for kind, keys in (
        ("missing key", [k for k in expected if k not in tensors]),
        ("unexpected key", [k for k in tensors if k not in expected]),
    ):
        if keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            return keys[0], f"{kind} {keys[0]}{more}"
    for key, ours in expected.items():
        if tensors[key].shape != ours.shape:
            return key, (
                f"{key} has shape {list(tensors[key].shape)} in the file "
                f"but {list(ours.shape)} in a model built from the config"
            )
    return None
