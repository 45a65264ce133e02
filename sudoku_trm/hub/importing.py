"""Import a published TRM/CGAR checkpoint (the reference code's own format) into our layout.

A reference run leaves two files: a plain `torch.save(state_dict)` (`step_N`, or `pytorch_model.bin`
on the Hub) and the run's YAML config (`all_config.yaml`, with the model under `arch:`, or just the
arch section, e.g. `config/arch/trm.yaml`). Their parameter names are ours once `REFERENCE_PREFIX`
is stripped (see model.py), so importing is: map the YAML to a `ModelConfig`, build a TRM, and load
the tensors strictly. Anything that does not fit (an unsupported setting, a missing, unexpected or
misshapen tensor, a file that is not a state dict) is a one-line `UserError`, never a partial load.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml

from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import VOCAB_SIZE
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights, model_card
from sudoku_trm.sudoku.grid import CELLS

# The reference saves the compiled module (`_orig_mod.` from torch.compile) wrapped in its loss head
# (`model.`) around the ACT wrapper (`inner.`). With DISABLE_COMPILE=1 the first part is missing.
REFERENCE_PREFIX = "_orig_mod.model.inner."
PREFIXES = (REFERENCE_PREFIX, REFERENCE_PREFIX.removeprefix("_orig_mod."))

# Tensors some versions of the reference keep in the state dict that carry nothing for inference.
SKIPPED_KEYS = {
    # The sparse puzzle embedding's per-batch scratch copy for its sign-SGD update (batch-sized).
    "puzzle_emb.local_weights": "training scratch",
    "puzzle_emb.local_ids": "training scratch",
    # RoPE tables: recomputed from the config (rope_theta, head size, sequence length).
    "rotary_emb.cos_cached": "recomputed",
    "rotary_emb.sin_cached": "recomputed",
}

# Reference arch key -> ModelConfig field, for the settings that map one to one.
_FIELDS = {
    "hidden_size": "hidden_size",
    "L_layers": "num_layers",
    "num_heads": "num_heads",
    "rope_theta": "rope_theta",
    "expansion": "expansion",
    "rms_norm_eps": "rms_norm_eps",
    "H_cycles": "H_cycles",
    "L_cycles": "L_cycles",
    "halt_max_steps": "halt_max_steps",
    "halt_exploration_prob": "halt_exploration_prob",
    "vocab_size": "vocab_size",
    "num_puzzle_identifiers": "num_puzzle_ids",
}
# Required by the reference's config class (no default there); the data-derived sizes are not in the
# YAML at all (the reference reads them from its dataset) and default to Sudoku-Extreme's below.
_REQUIRED = (
    "hidden_size",
    "L_layers",
    "H_cycles",
    "L_cycles",
    "expansion",
    "num_heads",
    "halt_max_steps",
    "halt_exploration_prob",
)
# Accepted and ignored, with the reason.
_IGNORED = {
    "name",  # checked separately: must be a TRM
    "loss",  # training loss (stable-max CE + halting BCE, as ours)
    "batch_size",  # sizes a training buffer only
    "forward_dtype",  # we keep fp32 parameters and use bf16 autocast on CUDA
    "H_layers",  # the reference ignores it (TRM has one network)
}
# Checked or translated one by one in reference_config_to_model_config.
_SPECIAL = {"seq_len", "puzzle_emb_ndim", "puzzle_emb_len", "mlp_t", "pos_encodings", "no_ACT_continue"}
_INTEGERS = {
    "hidden_size",
    "L_layers",
    "num_heads",
    "H_cycles",
    "L_cycles",
    "halt_max_steps",
    "vocab_size",
    "num_puzzle_identifiers",
    "seq_len",
    "puzzle_emb_ndim",
    "puzzle_emb_len",
}
_NUMBERS = {"rope_theta", "expansion", "rms_norm_eps", "halt_exploration_prob"}
# The reference's training settings (all_config.yaml's top level): tolerated in a file without `arch:`.
_TRAINING = {
    "data_path",
    "data_paths",
    "data_paths_test",
    "evaluators",
    "global_batch_size",
    "epochs",
    "lr",
    "lr_min_ratio",
    "lr_warmup_steps",
    "weight_decay",
    "beta1",
    "beta2",
    "puzzle_emb_lr",
    "puzzle_emb_weight_decay",
    "project_name",
    "run_name",
    "entity",
    "load_checkpoint",
    "checkpoint_path",
    "seed",
    "checkpoint_every_eval",
    "eval_interval",
    "min_eval_interval",
    "eval_save_outputs",
    "ema",
    "ema_rate",
    "freeze_weights",
}
_INTERPOLATION = re.compile(r"\$\{\.?(\w+)\}")  # Hydra's `${.hidden_size}`, as in config/arch/trm.yaml


def read_reference_config(path: Path) -> ModelConfig:
    """The ModelConfig of a reference YAML config (all_config.yaml or its arch section)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UserError(f"{where}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
    if not isinstance(data, Mapping):
        raise UserError(f"{path}: not a TRM config (expected a mapping of settings)")
    try:
        return reference_config_to_model_config(data)
    except UserError as error:
        raise UserError(f"{path}: {error}") from None


def reference_config_to_model_config(data: Mapping[str, Any]) -> ModelConfig:
    """Map the reference's settings to ours; an unsupported or unknown one is a UserError naming it."""
    # all_config.yaml: the reference builds the model from `arch:` alone, so what lies beside it (training
    # settings, which differ between forks) is not read. A bare arch section may carry training settings.
    nested = isinstance(data.get("arch"), Mapping)
    section = data["arch"] if nested else data
    known = set(_FIELDS) | _IGNORED | _SPECIAL | (set() if nested else _TRAINING)
    unknown = sorted(map(str, set(section) - known))
    name = str(section.get("name", "TinyRecursiveReasoningModel"))
    if "TinyRecursiveReasoningModel" not in name and "trm" not in name.split("@")[0].lower():
        raise UserError(f"name {name!r}: not a Tiny Recursive Model (only TRM checkpoints can be imported)")
    if unknown:
        raise UserError(f"unknown setting {unknown[0]!r}{_more(unknown)}: not part of the TRM architecture")
    arch = {key: _resolve(section, key) for key in section}
    missing = [key for key in _REQUIRED if key not in arch]
    if missing:
        raise UserError(f"missing setting {missing[0]!r}{_more(missing)}")
    for key, value in arch.items():
        integer, number = key in _INTEGERS, key in _NUMBERS
        if (integer or number) and (isinstance(value, bool) or not isinstance(value, int if integer else (int, float))):
            raise UserError(f"setting {key!r} must be {'an integer' if integer else 'a number'}, got {value!r}")

    values = {
        field: float(arch[key]) if key in _NUMBERS else arch[key] for key, field in _FIELDS.items() if key in arch
    }
    values.setdefault("vocab_size", VOCAB_SIZE)
    values.setdefault("num_puzzle_ids", 1)  # Sudoku-Extreme uses a single puzzle id
    values["mixer"] = _mixer(arch)
    if arch.get("seq_len", CELLS) != CELLS:
        raise UserError(f"seq_len {arch['seq_len']}: only 9x9 Sudoku ({CELLS} cells) is supported")
    if values["vocab_size"] != VOCAB_SIZE:
        raise UserError(f"vocab_size {values['vocab_size']}: Sudoku's tokens need {VOCAB_SIZE} (pad, blank, 1-9)")
    if not arch.get("no_ACT_continue", True):
        raise UserError(
            "no_ACT_continue: false (Q-learning halting with a continue logit) is not supported; "
            "this model halts on the halt logit alone"
        )
    ndim = arch.get("puzzle_emb_ndim", 0)  # the reference's default: no puzzle embedding
    if ndim <= 0:
        raise UserError(f"puzzle_emb_ndim {ndim!r}: a model without a puzzle embedding is not supported")
    values["puzzle_emb_ndim"] = ndim
    prefix = arch.get("puzzle_emb_len", 16)
    # 0 means "as many tokens as the embedding needs", as in the reference.
    values["puzzle_emb_len"] = prefix if prefix else math.ceil(ndim / values["hidden_size"])
    try:
        return ModelConfig(**values)
    except (TypeError, ValueError) as error:
        raise UserError(str(error)) from None


def _resolve(arch: Mapping[str, Any], key: str) -> Any:
    value = arch[key]
    if isinstance(value, str) and "${" in value:
        match = _INTERPOLATION.fullmatch(value.strip())
        if match is None or match.group(1) not in arch or match.group(1) == key:
            raise UserError(f"setting {key!r}: cannot resolve {value!r} (only ${{.other_setting}} is supported)")
        return arch[match.group(1)]
    return value


def _mixer(arch: Mapping[str, Any]) -> str:
    """mlp_t: the token-mixing SwiGLU (TRM-MLP); otherwise attention, which here always uses RoPE."""
    pos = str(arch.get("pos_encodings", "none")).lower()
    if arch.get("mlp_t", False):
        if pos not in ("none", "rope"):  # an mlp_t block never reads RoPE, but learned positions change the input
            raise UserError(f"pos_encodings {pos!r} with mlp_t is not supported (use none)")
        return "mlp"
    if pos != "rope":
        raise UserError(f"pos_encodings {pos!r}: the attention variant is supported with rope only")
    return "attention"


def _more(names: list[str]) -> str:
    return (
        f" (and {len(names) - 1} more: {', '.join(names[1:4])}{', ...' if len(names) > 4 else ''})"
        if len(names) > 1
        else ""
    )


def read_reference_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A reference checkpoint's tensors under our names (prefix stripped, SKIPPED_KEYS dropped)."""
    path = Path(path)
    try:
        # weights_only: a checkpoint from the internet must not run code while unpickling.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    except Exception as error:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a torch checkpoint that loads with weights_only=True ({first})") from None
    if not isinstance(state, Mapping) or not state:
        raise UserError(
            f"{path}: not a state dict (found {type(state).__name__}); expected the reference's "
            "torch.save(model.state_dict()) file"
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise UserError(f"{path}: not a flat state dict: entry {bad[0]!r} is not a tensor{_more(bad)}")
    prefix = next((p for p in PREFIXES if any(k.startswith(p) for k in state)), None)
    if prefix is None:
        raise UserError(
            f"{path}: no key starts with {REFERENCE_PREFIX!r} (first key {next(iter(state))!r}); "
            "not a TRM reference checkpoint"
        )
    outside = [k for k in state if not k.startswith(prefix)]
    if outside:
        raise UserError(f"{path}: unexpected key {outside[0]!r}{_more(outside)}: outside the model ({prefix}...)")
    stripped = from_reference_state_dict(state, prefix)
    return {k: v for k, v in stripped.items() if k not in SKIPPED_KEYS}


def load_reference(checkpoint: Path, config_path: Path) -> TRM:
    """A TRM holding a reference checkpoint's weights, strictly: every tensor present, known and in shape."""
    config = read_reference_config(config_path)
    tensors = read_reference_state_dict(checkpoint)
    model = TRM(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise UserError(
            f"{checkpoint}: missing key {REFERENCE_PREFIX}{missing[0]} "
            f"(shape {_shape(expected[missing[0]])}){_more(missing)}"
        )
    unexpected = [k for k in tensors if k not in expected]
    if unexpected:
        raise UserError(
            f"{checkpoint}: unexpected key {REFERENCE_PREFIX}{unexpected[0]} "
            f"(shape {_shape(tensors[unexpected[0]])}){_more(unexpected)}: "
            f"not in a TRM with {config_path.name}'s settings"
        )
    for key, ours in expected.items():
        theirs = tensors[key]
        if theirs.shape != ours.shape:
            raise UserError(
                f"{checkpoint}: {REFERENCE_PREFIX}{key} has shape {_shape(theirs)} in the checkpoint "
                f"but {_shape(ours)} in a model built from {config_path.name}"
            )
        if not theirs.is_floating_point():
            raise UserError(f"{checkpoint}: {REFERENCE_PREFIX}{key} holds {theirs.dtype}, not floating-point weights")
    # The reference keeps H_init / L_init in its forward dtype (bf16); parameters here are fp32.
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)
    return model.eval()


def convert_reference(checkpoint: Path, config_path: Path, directory: Path, source: str | None = None) -> TRM:
    """Import a reference checkpoint and write it to `directory` in our layout (export.load_weights reads it)."""
    model = load_reference(Path(checkpoint), Path(config_path))
    card = model_card(model) + (
        f"\n## Source\n\nConverted from {source or Path(checkpoint).name} (TRM reference format) "
        "by `sudoku-trm download weights`.\n"
    )
    export_weights(model, Path(directory), card=card)
    return model


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(str(d) for d in tensor.shape) + "]"


def from_reference_state_dict(
    state_dict: Mapping[str, torch.Tensor], prefix: str = REFERENCE_PREFIX
) -> dict[str, torch.Tensor]:
    """A reference checkpoint's keys in our naming: `prefix` stripped, keys outside the inner model dropped.

    Load the result with `load_state_dict(strict=True)`, so a shape or name mismatch is reported.
    """
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
