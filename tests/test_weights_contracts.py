"""The exported layout's exact text and the default-model lookup, which mutation testing found unpinned."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sudoku_trm.errors import UserError
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import (
    CARD_NAME,
    CONFIG_NAME,
    DEFAULT_WEIGHTS_DIR,
    WEIGHTS_ENV,
    WEIGHTS_NAME,
    export_weights,
    load_weights,
    model_card,
    resolve_weights_dir,
)


def small() -> TRM:
    torch.manual_seed(0)
    return TRM(ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=2))


def test_the_model_card_is_hub_metadata_then_size_usage_and_the_training_record():
    model = small()
    parameters = f"{model.count_parameters(trainable_only=False):,}"
    assert model_card(model) == (
        "---\nlibrary_name: sudoku-trm\ntags: [sudoku, tiny-recursive-model, cgar]\n---\n\n"
        "# sudoku-trm model\n\n"
        f"A Tiny Recursive Model with {parameters} parameters (mlp mixer, hidden 16).\n\n"
        "Load it with `sudoku_trm.model.weights.load_weights(directory)` or "
        "`sudoku_trm.model.trm.TRM.from_pretrained(directory or repo id)`.\n"
    )
    card = model_card(model, {"steps": 3, "data": Path("a.csv")})
    assert card.endswith('## Training\n\n```json\n{\n  "steps": 3,\n  "data": "a.csv"\n}\n```\n')


def test_an_export_writes_the_config_as_indented_json_the_card_and_cpu_tensors(tmp_path):
    model = small()
    export_weights(model, tmp_path, training={"steps": 7})
    config_text = (tmp_path / CONFIG_NAME).read_text()
    assert config_text == json.dumps(model.config.to_dict(), indent=2) + "\n"
    assert (tmp_path / CARD_NAME).read_text() == model_card(model, {"steps": 7})
    loaded = load_weights(tmp_path)
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert loaded.training is False  # ready for inference


def test_the_default_model_is_the_argument_then_the_environment_then_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert resolve_weights_dir(tmp_path / "given") == tmp_path / "given"  # taken as given, checked on load
    assert resolve_weights_dir(None) == DEFAULT_WEIGHTS_DIR
    export_weights(small(), tmp_path / "env")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "env"))
    assert resolve_weights_dir(None) == tmp_path / "env"
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "empty"))
    with pytest.raises(UserError, match=f"{tmp_path / 'empty'}: no default model there.*{WEIGHTS_ENV}"):
        resolve_weights_dir(None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop two", "missing key L_level.layers.0.mlp.gate_up_proj.weight and 1 more\\)"),
        ("add one", "unexpected key extra.weight\\)"),
        ("reshape", r"lm_head.weight has shape \[11, 8\] in the file but \[11, 16\] in a model built from the config"),
    ],
)
def test_a_misfit_names_the_first_key_and_how_many_more(tmp_path, change, message):
    export_weights(small(), tmp_path)
    tensors = dict(small().state_dict())
    if change == "drop two":
        tensors = {k: v for k, v in tensors.items() if not k.startswith("L_level.layers.0.mlp.down_proj")}
        tensors.pop("L_level.layers.0.mlp.gate_up_proj.weight")
    elif change == "add one":
        tensors["extra.weight"] = torch.zeros(2)
    else:
        tensors["lm_head.weight"] = torch.zeros(11, 8)
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp_path / WEIGHTS_NAME)
    with pytest.raises(UserError, match=message):
        load_weights(tmp_path)
