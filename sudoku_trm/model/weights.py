"""The shipped inference layout: `model.safetensors` (EMA weights), `config.json`, a model card.

This is the layout huggingface_hub's PyTorchModelHubMixin writes, so the Hub integration can read
and push it unchanged. Training state never goes here; it stays in `runs/<name>/`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from sudoku_trm.errors import UserError
from sudoku_trm.files import atomic_write
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM

# The shipped default model: weights/ beside the package (an editable or source install), unless the
# environment names another directory.
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
WEIGHTS_ENV = "SUDOKU_TRM_WEIGHTS"
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"


def export_weights(model: TRM, directory: Path, training: dict | None = None, card: str | None = None) -> None:
    """Write the model's weights and config to `directory` (each file atomically)."""
    directory = Path(directory)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_NAME, lambda f: f.write(save(tensors)))
    config_text = json.dumps(model.config.to_dict(), indent=2) + "\n"
    atomic_write(directory / CONFIG_NAME, lambda f: f.write(config_text.encode()))
    card_text = card or model_card(model, training)
    atomic_write(directory / CARD_NAME, lambda f: f.write(card_text.encode()))


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
        "`sudoku_trm.model.trm.TRM.from_pretrained(directory or repo id)`.",
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


def load_weights(directory: Path, device: str | torch.device = "cpu", model_class: type[TRM] = TRM) -> TRM:
    """A TRM from an exported directory (or one `save_pretrained` wrote); any missing, corrupt or
    mismatched file is a UserError. `model_class` lets `TRM.from_pretrained` build a subclass."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.is_file():
            raise UserError(f"{path}: missing (expected an exported model directory)")
    try:
        config = ModelConfig.from_dict(json.loads(config_path.read_text()))
    except (json.JSONDecodeError, ValueError, TypeError) as error:
        raise UserError(f"{config_path}: not a valid model config ({error})") from None
    try:
        tensors = load_file(weights_path)
    except Exception as error:  # safetensors' error type differs between versions
        raise UserError(f"{weights_path}: not a readable safetensors file ({error})") from None
    model = model_class(config)
    problem = _misfit(model.state_dict(), tensors)
    if problem:
        raise UserError(f"{weights_path}: weights do not fit the config ({problem})")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0] if str(error) else "mismatch"
        raise UserError(f"{weights_path}: weights do not fit the config ({first})") from None
    return model.to(device).eval()


def _misfit(expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]) -> str | None:
    """The first way `tensors` fails to fill a model holding `expected`, named by key; None when they fit."""
    for kind, keys in (
        ("missing key", [k for k in expected if k not in tensors]),
        ("unexpected key", [k for k in tensors if k not in expected]),
    ):
        if keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            return f"{kind} {keys[0]}{more}"
    for key, ours in expected.items():
        if tensors[key].shape != ours.shape:
            return (
                f"{key} has shape {list(tensors[key].shape)} in the file "
                f"but {list(ours.shape)} in a model built from the config"
            )
    return None
