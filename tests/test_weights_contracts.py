"""The exported layout's exact text and the default-model lookup, which mutation testing found unpinned."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sudoku_trm.errors import UserError
from sudoku_trm.model import trm, weights
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import (
    CARD_NAME,
    CONFIG_NAME,
    DEFAULT_WEIGHTS_DIR,
    WEIGHTS_ENV,
    WEIGHTS_INDEX_NAME,
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
        "`sudoku_trm.pretrained.load_model(directory or repo id)`.\n"
    )
    card = model_card(model, {"steps": 3, "data": Path("a.csv")})
    # The training record follows the whole card, which it does not replace.
    assert card == model_card(model) + '\n## Training\n\n```json\n{\n  "steps": 3,\n  "data": "a.csv"\n}\n```\n'


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
    with pytest.raises(UserError, match=message) as error:
        load_weights(tmp_path)
    # One file holds them all: every misfit (missing, unexpected or misshapen) is blamed on it.
    assert str(error.value).startswith(f"{tmp_path / WEIGHTS_NAME}: weights do not fit the config (")


# -- the shard plan and the sharded layout ---------------------------------------------------------------------


def floats(*counts: int) -> dict[str, torch.Tensor]:
    """Tensors named a, b, c, ... of 4 bytes per element."""
    return {chr(ord("a") + i): torch.zeros(n) for i, n in enumerate(counts)}


@pytest.mark.parametrize(
    ("counts", "plan"),
    [
        ((1, 1), {WEIGHTS_NAME: ["a", "b"]}),  # exactly the limit: still one file
        ((1, 1, 1), {"model-00001-of-00002.safetensors": ["a", "b"], "model-00002-of-00002.safetensors": ["c"]}),
        ((3, 1, 1), {"model-00001-of-00002.safetensors": ["a"], "model-00002-of-00002.safetensors": ["b", "c"]}),
        ((1, 1, 1, 1, 1), {f"model-0000{i}-of-00003.safetensors": k for i, k in ((1, "ab"), (2, "cd"), (3, "e"))}),
    ],
)
def test_the_fallback_splitter_fills_each_shard_up_to_the_limit_as_huggingface_hub_does(counts, plan):
    """Without huggingface_hub's splitter the export must name and fill shards exactly as it would: a shard
    may reach the limit (not only approach it), and one shard is the single-file name."""
    tensors = floats(*counts)
    plan = {name: list(keys) for name, keys in plan.items()}
    assert weights._greedy_shards(tensors, 8) == plan
    assert weights._plan_shards(tensors, 8) == plan


def two_shard_export(directory: Path) -> tuple[TRM, dict[str, torch.Tensor]]:
    """A small model exported with a limit one byte under its size: all tensors but the last, then the last."""
    model = small()
    tensors = model.state_dict()
    export_weights(model, directory, max_shard_bytes=sum(t.numel() * t.element_size() for t in tensors.values()) - 1)
    return model, tensors


def test_a_two_shard_export_has_its_index_in_the_hubs_exact_text_and_loads_bit_exactly(tmp_path):
    """Two shards is the smallest sharded export (hidden 512 by default makes two): it needs its index too."""
    model, tensors = two_shard_export(tmp_path)
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CARD_NAME, CONFIG_NAME, WEIGHTS_INDEX_NAME, first, second]
    )
    *head, last = tensors
    index = {
        "metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())},
        "weight_map": {**dict.fromkeys(head, first), last: second},
    }
    assert (tmp_path / WEIGHTS_INDEX_NAME).read_text() == json.dumps(index, indent=2) + "\n"
    loaded = load_weights(tmp_path).state_dict()
    assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)


def test_every_weight_file_carries_the_hubs_format_marker(tmp_path):
    """transformers refuses a safetensors file whose metadata lacks format=pt; single files and shards alike."""
    export_weights(small(), tmp_path / "single")
    two_shard_export(tmp_path / "sharded")
    files = [tmp_path / "single" / WEIGHTS_NAME, *sorted((tmp_path / "sharded").glob("model-*.safetensors"))]
    assert len(files) == 3
    for path in files:
        with safe_open(path, framework="pt") as handle:
            assert handle.metadata() == {"format": "pt"}


def test_an_export_writes_shards_before_the_index_and_a_single_file_without_one(tmp_path, monkeypatch):
    """The index goes last so that a crash mid-export never leaves an index naming unwritten shards, and a
    single-file export never writes an index at all (a reader would see both layouts)."""
    written = []
    real = weights.atomic_write

    def recording(path, write):
        written.append(path.name)
        real(path, write)

    monkeypatch.setattr(weights, "atomic_write", recording)
    export_weights(small(), tmp_path / "single")
    assert written == [WEIGHTS_NAME, CONFIG_NAME, CARD_NAME]
    written.clear()
    two_shard_export(tmp_path / "sharded")
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert written == [*shards, WEIGHTS_INDEX_NAME, CONFIG_NAME, CARD_NAME]


# -- the card --------------------------------------------------------------------------------------------------


def test_a_card_given_to_export_is_written_verbatim(tmp_path):
    export_weights(small(), tmp_path, training={"steps": 1}, card="# mine\n")
    assert (tmp_path / CARD_NAME).read_text() == "# mine\n"


def test_the_card_counts_every_parameter_the_file_holds_frozen_ones_too(tmp_path):
    model = small()
    model.lm_head.weight.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    assert f"with {total:,} parameters" in model_card(model)


# -- the default model and loading errors: one line naming the file ----------------------------------------------


def test_no_default_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(UserError) as error:
        resolve_weights_dir(None)
    assert str(error.value) == (
        f"{tmp_path}: no default model there; pass --weights DIR or set {WEIGHTS_ENV} "
        "(`sudoku-trm download weights` fetches one into weights/trm-cgar-sudoku)"
    )


def test_a_directory_without_a_config_is_refused_naming_the_config(tmp_path):
    export_weights(small(), tmp_path)
    (tmp_path / CONFIG_NAME).unlink()
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == f"{tmp_path / CONFIG_NAME}: missing (expected an exported model directory)"


def test_a_directory_without_weights_is_refused_naming_the_weights_file(tmp_path):
    export_weights(small(), tmp_path)
    (tmp_path / WEIGHTS_NAME).unlink()
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == f"{tmp_path / WEIGHTS_NAME}: missing (expected an exported model directory)"


@pytest.mark.parametrize("text", ["{not json", '{"hidden_size": "wide"}', "[1, 2]"])
def test_an_invalid_config_is_refused_naming_it(tmp_path, text):
    export_weights(small(), tmp_path)
    (tmp_path / CONFIG_NAME).write_text(text)
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / CONFIG_NAME}: not a valid model config (")


def test_both_layouts_in_one_directory_say_how_to_recover(tmp_path):
    two_shard_export(tmp_path)
    export_weights(small(), tmp_path / "single")
    (tmp_path / WEIGHTS_NAME).write_bytes((tmp_path / "single" / WEIGHTS_NAME).read_bytes())
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}: holds both {WEIGHTS_NAME} and {WEIGHTS_INDEX_NAME} (two exports mixed); "
        "export the model again, or delete the stale one"
    )


def test_load_weights_skips_the_random_fill_the_file_overwrites_and_gives_it_back(tmp_path, monkeypatch):
    """The fill costs a one-puzzle start-up up to 0.4 s; every tensor it would make comes from the file."""
    model = small()
    export_weights(model, tmp_path)
    fills = []
    real = torch.nn.init.trunc_normal_
    monkeypatch.setattr(
        torch.nn.init, "trunc_normal_", lambda tensor, *a, **k: fills.append(1) or real(tensor, *a, **k)
    )
    loaded = load_weights(tmp_path)
    assert fills == []
    expected = model.state_dict()
    assert all(torch.equal(loaded.state_dict()[k], expected[k]) for k in expected)
    with pytest.raises(RuntimeError), trm.weights_to_come():  # an error inside still gives the fill back
        raise RuntimeError
    small()
    assert len(fills) > 0


def test_load_weights_puts_the_model_on_the_device_asked_for(tmp_path):
    export_weights(small(), tmp_path)
    model = load_weights(tmp_path, device="meta")  # a device every machine has
    assert {p.device.type for p in model.parameters()} == {"meta"} and model.training is False


@pytest.mark.parametrize(("message", "shown"), [("first line\nsecond line", "first line"), ("", "mismatch")])
def test_a_refusal_by_load_state_dict_is_one_line_naming_the_weights_file(tmp_path, monkeypatch, message, shown):
    """What _misfit does not foresee still comes out as the first line of torch's complaint, never a traceback."""
    export_weights(small(), tmp_path)

    def refusing(self, state_dict, strict=True, assign=False):
        raise RuntimeError(message)

    monkeypatch.setattr(TRM, "load_state_dict", refusing)
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == f"{tmp_path / WEIGHTS_NAME}: weights do not fit the config ({shown})"


# -- a damaged index or shard --------------------------------------------------------------------------------------


def rewrite_index(directory: Path, change) -> Path:
    path = directory / WEIGHTS_INDEX_NAME
    index = json.loads(path.read_text())
    path.write_text(json.dumps(change(index)))
    return path


@pytest.mark.parametrize(
    "change",
    [
        lambda index: [index],  # JSON, but a list
        lambda index: {**index, "weight_map": {}},
        lambda index: {**index, "weight_map": ["H_init"]},
    ],
    ids=["a list", "an empty map", "a map that is a list"],
)
def test_an_index_without_a_usable_weight_map_is_refused_naming_it(tmp_path, change):
    two_shard_export(tmp_path)
    path = rewrite_index(tmp_path, change)
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == f"{path}: not a safetensors index (no weight_map of tensor names to shard files)"


@pytest.mark.parametrize("moved", ["first", "last"])
def test_an_index_placing_a_tensor_in_the_wrong_shard_is_refused_naming_the_first_shard_at_odds(tmp_path, moved):
    """Each shard must hold exactly what the index places there, even when every tensor is present somewhere:
    a shard holding a tensor the index places elsewhere, or lacking one placed in it, is named with the tensor."""
    _, tensors = two_shard_export(tmp_path)
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    *head, last = tensors
    if moved == "first":  # the index places the first tensor in the second shard: the first shard holds a stray
        weight_map = {**dict.fromkeys(head, first), last: second, head[0]: second}
        what = f"holds {head[0]}, which the index does not place there"
    else:  # the index places the last tensor in the first shard, which lacks it
        weight_map, what = dict.fromkeys(tensors, first), f"lacks {last}"
    rewrite_index(tmp_path, lambda index: {**index, "weight_map": weight_map})
    with pytest.raises(UserError) as error:
        load_weights(tmp_path)
    assert str(error.value) == f"{tmp_path / first}: does not match {WEIGHTS_INDEX_NAME} ({what})"
