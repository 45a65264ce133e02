"""Sharded exports: a model past the shard limit is written the Hub's way (shards + index) and read back
bit for bit by every reader: load_weights, load_model (directory or Hub repo), --weights."""

import json
import re

import pytest
import torch
from conftest import ROOT
from test_hub import cache_repo, offline  # noqa: F401 (offline is a fixture)
from typer.testing import CliRunner

from sudoku_trm.cli.app import app
from sudoku_trm.errors import UserError
from sudoku_trm.model import weights
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import (
    CONFIG_NAME,
    SHARD_LIMIT,
    WEIGHTS_INDEX_NAME,
    WEIGHTS_NAME,
    export_weights,
    load_weights,
)
from sudoku_trm.pretrained import load_model

runner = CliRunner()
LIMIT = 450_000  # hidden 64 is 1.6 MB of tensors, the largest 0.4 MB: several shards
SHARD = re.compile(r"model-(\d{5})-of-(\d{5})\.safetensors")
EASY_FILE = str(ROOT / "puzzles" / "easy.txt")


def random_model(hidden: int = 64) -> TRM:
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden_size=hidden, H_cycles=1, L_cycles=1, halt_max_steps=3))
    with torch.no_grad():  # zero at init: fill them, so a tensor lost on the way would show
        model.puzzle_emb.weights.normal_()
        model.q_head.weight.normal_(0, 1.0)
    return model.eval()


def identical(a: TRM, b: TRM) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return (
        a.config == b.config and first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    )


def weight_files(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "README.md" and p.name != CONFIG_NAME)


@pytest.fixture
def sharded(tmp_path):
    model = random_model()
    export_weights(model, tmp_path / "sharded", max_shard_bytes=LIMIT)
    return model, tmp_path / "sharded"


def one_line(text: str) -> str:
    assert text.strip() and "\n" not in text.strip() and "Traceback" not in text, text
    return text


# -- writing -------------------------------------------------------------------------------------------


def test_a_model_past_the_limit_is_written_as_hub_style_shards_and_an_index(sharded):
    model, directory = sharded
    files = weight_files(directory)
    shards = [name for name in files if SHARD.fullmatch(name)]
    assert files == sorted(shards + [WEIGHTS_INDEX_NAME])  # no model.safetensors beside them
    count = len(shards)
    assert count > 2 and all(SHARD.fullmatch(name).group(2) == f"{count:05d}" for name in shards)
    index = json.loads((directory / WEIGHTS_INDEX_NAME).read_text())
    assert set(index["weight_map"]) == set(model.state_dict()) and set(index["weight_map"].values()) == set(shards)
    total = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert index["metadata"]["total_size"] == total
    # Tensor bytes stay under the limit (no tensor alone exceeds it here); headers add little.
    assert all((directory / name).stat().st_size <= LIMIT + 4096 for name in shards)


def test_a_model_under_the_limit_stays_one_file(tmp_path):
    export_weights(random_model(), tmp_path)
    assert weight_files(tmp_path) == [WEIGHTS_NAME]


def test_hidden_512_in_fp32_comes_out_in_files_under_16_mib_by_default(tmp_path):
    model = TRM(ModelConfig(hidden_size=512))  # the published size: 20 MB of fp32 weights
    export_weights(model, tmp_path)
    shards = [name for name in weight_files(tmp_path) if SHARD.fullmatch(name)]
    assert len(shards) == 2
    assert all((tmp_path / name).stat().st_size < 16 * 2**20 for name in shards)
    assert SHARD_LIMIT == 15 * 2**20


def test_huggingface_hub_reads_our_shards(sharded):
    hub = pytest.importorskip("huggingface_hub")
    if not hasattr(hub, "load_torch_model"):
        pytest.skip("huggingface_hub without load_torch_model")
    model, directory = sharded
    fresh = TRM(model.config)
    hub.load_torch_model(fresh, directory, strict=True)
    assert identical(fresh, model)


def test_without_huggingface_hubs_splitter_the_same_shards_are_written(sharded, tmp_path, monkeypatch):
    model, directory = sharded
    tensors = model.state_dict()
    assert weights._greedy_shards(tensors, LIMIT) == weights._plan_shards(tensors, LIMIT)
    import builtins

    real_import = builtins.__import__

    def no_splitter(name, *args, **kwargs):
        if name == "huggingface_hub":
            raise ImportError("an old huggingface_hub")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_splitter)
    export_weights(model, tmp_path / "fallback", max_shard_bytes=LIMIT)
    monkeypatch.undo()
    assert weight_files(tmp_path / "fallback") == weight_files(directory)
    assert identical(load_weights(tmp_path / "fallback"), model)


# -- one layout at a time --------------------------------------------------------------------------------


def test_exporting_replaces_the_other_layout_and_stale_shards_and_nothing_else(sharded):
    model, directory = sharded
    (directory / "notes.txt").write_text("mine")
    export_weights(model, directory)  # single file over shards
    assert weight_files(directory) == [WEIGHTS_NAME, "notes.txt"]
    assert identical(load_weights(directory), model)

    export_weights(model, directory, max_shard_bytes=LIMIT)  # shards over a single file
    many = weight_files(directory)
    assert WEIGHTS_NAME not in many and WEIGHTS_INDEX_NAME in many
    export_weights(model, directory, max_shard_bytes=2 * LIMIT)  # fewer shards: the old ones go
    fewer = [name for name in weight_files(directory) if SHARD.fullmatch(name)]
    assert 1 < len(fewer) < len(many) - 2 and all(name.endswith(f"-of-{len(fewer):05d}.safetensors") for name in fewer)
    assert identical(load_weights(directory), model)
    assert (directory / "notes.txt").read_text() == "mine"


def test_a_mixed_directory_is_refused_in_one_line(sharded, tmp_path):
    model, directory = sharded
    export_weights(model, tmp_path / "single")
    (directory / WEIGHTS_NAME).write_bytes((tmp_path / "single" / WEIGHTS_NAME).read_bytes())
    with pytest.raises(UserError, match="holds both model.safetensors and model.safetensors.index.json") as error:
        load_weights(directory)
    one_line(str(error.value))


# -- reading -----------------------------------------------------------------------------------------------


def test_load_weights_and_load_model_read_shards_bit_exactly(sharded):
    model, directory = sharded
    assert identical(load_weights(directory), model)
    assert identical(load_model(directory), model)


def test_load_model_fetches_the_index_and_its_shards_from_a_hub_repo(sharded, offline):  # noqa: F811
    model, directory = sharded
    cache_repo(offline, "someone/sharded", {p.name: p for p in directory.iterdir()})
    assert identical(load_model("someone/sharded", cache_dir=offline), model)


def test_a_hub_repo_holding_both_layouts_is_refused(sharded, offline, tmp_path):  # noqa: F811
    model, directory = sharded
    export_weights(model, tmp_path / "single")
    files = {p.name: p for p in directory.iterdir()} | {WEIGHTS_NAME: tmp_path / "single" / WEIGHTS_NAME}
    cache_repo(offline, "someone/mixed", files)
    with pytest.raises(UserError, match="holds both"):
        load_model("someone/mixed", cache_dir=offline)


def test_solve_and_eval_answer_the_same_from_shards_as_from_one_file(solver_weights, tmp_path):
    model = load_weights(solver_weights)
    export_weights(model, tmp_path / "sharded", max_shard_bytes=100_000)
    assert len(weight_files(tmp_path / "sharded")) > 3

    def records(command, directory):
        result = runner.invoke(app, [command, EASY_FILE, "--weights", str(directory), "--device", "cpu", "--json"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        for row in rows:  # timings and the path differ; everything the model decides must not
            for timed in [row, *row.get("files", []), row.get("total") or {}]:
                for key in ("seconds", "batch_seconds", "puzzles_per_second", "weights"):
                    timed.pop(key, None)
        return rows

    for command in ("solve", "eval"):
        assert records(command, tmp_path / "sharded") == records(command, solver_weights)


# -- damage: one line naming the file ------------------------------------------------------------------------


def _shards(directory):
    return sorted(p for p in directory.iterdir() if SHARD.fullmatch(p.name))


def _delete_a_shard(directory):
    victim = _shards(directory)[1]
    victim.unlink()
    return victim


def _garbage_index(directory):
    (directory / WEIGHTS_INDEX_NAME).write_text('{"weight_map": {"H_init": ')
    return directory / WEIGHTS_INDEX_NAME


def _index_without_a_map(directory):
    (directory / WEIGHTS_INDEX_NAME).write_text('{"metadata": {}}')
    return directory / WEIGHTS_INDEX_NAME


def _index_reaching_outside(directory):
    path = directory / WEIGHTS_INDEX_NAME
    index = json.loads(path.read_text())
    index["weight_map"]["H_init"] = "../elsewhere.safetensors"
    path.write_text(json.dumps(index))
    return path


def _index_missing_a_tensor(directory):
    path = directory / WEIGHTS_INDEX_NAME
    index = json.loads(path.read_text())
    shard = index["weight_map"].pop("lm_head.weight")
    path.write_text(json.dumps(index))
    return directory / shard  # the shard still holds it, unplaced


def _garbage_shard(directory):
    victim = _shards(directory)[0]
    victim.write_bytes(b"not safetensors")
    return victim


@pytest.mark.parametrize(
    "damage",
    [
        _delete_a_shard,
        _garbage_index,
        _index_without_a_map,
        _index_reaching_outside,
        _index_missing_a_tensor,
        _garbage_shard,
    ],
)
def test_a_damaged_sharded_export_is_a_one_line_error_naming_the_file(sharded, damage):
    _, directory = sharded
    blamed = damage(directory)
    with pytest.raises(UserError) as error:
        load_weights(directory)
    assert one_line(str(error.value)).startswith(f"{blamed}: ")
    result = runner.invoke(app, ["eval", EASY_FILE, "--weights", str(directory), "--device", "cpu", "--json"])
    assert result.exit_code == 1 and one_line(result.stderr).strip().endswith(str(error.value))


def test_a_misshapen_tensor_is_blamed_on_its_shard(sharded):
    _, directory = sharded
    config = json.loads((directory / CONFIG_NAME).read_text())
    (directory / CONFIG_NAME).write_text(json.dumps({**config, "hidden_size": 32}))
    with pytest.raises(UserError, match=r"weights do not fit the config \(H_init has shape \[64\]") as error:
        load_weights(directory)
    index = json.loads((directory / WEIGHTS_INDEX_NAME).read_text())
    assert str(error.value).startswith(f"{directory / index['weight_map']['H_init']}: ")
