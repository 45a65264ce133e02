"""Hub downloads, checkpoint import and the Hub mixin, all offline against a cache built in tmp_path.

The cache has the Hub's layout: <type>s--owner--name/refs/main holds a commit hash, snapshots/<hash>/
links to blobs/. HF_HUB_OFFLINE=1 and HF_HUB_CACHE are set per test; hub.py reads both per call.
"""

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from sudoku_trm.cli.download import download_app
from sudoku_trm.errors import UserError
from sudoku_trm.hub import client as hub
from sudoku_trm.hub import downloads
from sudoku_trm.hub.importing import REFERENCE_PREFIX, SKIPPED_KEYS, load_reference, read_reference_config
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.model.trm import TRM
from sudoku_trm.model.weights import export_weights, load_weights
from sudoku_trm.pretrained import load_model
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set

runner = CliRunner()
COMMIT = "0123456789abcdef0123456789abcdef01234567"

ALL_CONFIG = """\
arch:
  name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1
  loss:
    name: losses@ACTLossHead
    loss_type: stablemax_cross_entropy
  halt_exploration_prob: 0.1
  halt_max_steps: 4
  H_cycles: 2
  L_cycles: 2
  H_layers: 0
  L_layers: 2
  hidden_size: 32
  num_heads: 4
  expansion: 4
  puzzle_emb_ndim: 32
  pos_encodings: none
  forward_dtype: bfloat16
  mlp_t: true
  puzzle_emb_len: 16
  no_ACT_continue: true
data_paths: [data/sudoku-extreme-1k-aug-1000]
global_batch_size: 768
epochs: 50000
lr: 0.0001
lr_min_ratio: 1.0
lr_warmup_steps: 2000
weight_decay: 1.0
beta1: 0.9
beta2: 0.95
puzzle_emb_lr: 0.0001
puzzle_emb_weight_decay: 1.0
ema: true
seed: 0
"""

# The reference's config/arch/trm.yaml form: the arch section alone, with a Hydra interpolation.
ARCH_ONLY_ATTENTION = """\
name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1
loss:
  name: losses@ACTLossHead
halt_exploration_prob: 0.1
halt_max_steps: 4
H_cycles: 2
L_cycles: 2
H_layers: 0
L_layers: 2
hidden_size: 32
num_heads: 4
expansion: 4
puzzle_emb_ndim: ${.hidden_size}
pos_encodings: rope
mlp_t: False
puzzle_emb_len: 16
"""


# -- helpers -----------------------------------------------------------------------------------------


def cache_repo(cache: Path, repo_id: str, files: dict, repo_type: str = "model", commit: str = COMMIT) -> None:
    """Put files (bytes or a Path to read) into the cache as a download of `commit`, the repo's main."""
    repo = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for name, content in files.items():
        data = content.read_bytes() if isinstance(content, Path) else content
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))


@pytest.fixture
def offline(monkeypatch, tmp_path) -> Path:
    """Offline, with an empty Hub cache; the working directory is tmp_path (default targets land there)."""
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    return cache


def small_model(seed: int = 0, mixer: str = "mlp") -> TRM:
    torch.manual_seed(seed)
    model = TRM(ModelConfig(hidden_size=32, num_heads=4, mixer=mixer, H_cycles=2, L_cycles=2, halt_max_steps=4))
    with torch.no_grad():
        # Zero at init, so a tensor dropped on import would not show in the logits: fill them.
        model.puzzle_emb.weights.normal_()
        model.q_head.weight.normal_(0, 0.1)
        # The reference stores the initial states in bf16: start from values bf16 holds exactly.
        model.H_init.copy_(model.H_init.bfloat16().float())
        model.L_init.copy_(model.L_init.bfloat16().float())
    return model.eval()


def reference_state(model: TRM) -> dict:
    """The model's tensors as the reference saves them: prefixed keys, bf16 initial states."""
    state = {REFERENCE_PREFIX + k: v.clone() for k, v in model.state_dict().items()}
    for name in ("H_init", "L_init"):
        state[REFERENCE_PREFIX + name] = state[REFERENCE_PREFIX + name].bfloat16()
    return state


def write_reference(directory: Path, state: dict, config_text: str = ALL_CONFIG) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint, config = directory / "pytorch_model.bin", directory / "config.yaml"
    torch.save(state, checkpoint)
    config.write_text(config_text)
    return checkpoint, config


def trace(model: TRM, inputs: torch.Tensor, steps: int = 2) -> list[torch.Tensor]:
    """Logits and halting logits of `steps` supervision steps from the initial state."""
    outputs, carry = [], model.initial_carry(len(inputs))
    with torch.no_grad():
        for _ in range(steps):
            carry, logits, halt = model(carry, inputs)
            outputs += [logits, halt]
    return outputs


@pytest.fixture(scope="module")
def puzzles(shared_sample) -> torch.Tensor:
    questions = load_puzzle_set(shared_sample / "hard_dev.csv", cache_dir=None).questions[:8]
    return to_tokens(torch.from_numpy(questions).long())


def same_weights(a: TRM, b: TRM) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def one_line(message: str) -> str:
    assert "\n" not in message.strip() and "Traceback" not in message, message
    return message


# -- weights in our layout ---------------------------------------------------------------------------


def test_our_layout_is_downloaded_as_is_into_weights_repo_name(offline, tmp_path):
    model = small_model()
    export_weights(model, tmp_path / "published")
    files = {name: tmp_path / "published" / name for name in ("config.json", "model.safetensors", "README.md")}
    cache_repo(offline, "someone/sudoku-trm-small", files)

    result = runner.invoke(download_app, ["weights", "someone/sudoku-trm-small"])

    assert result.exit_code == 0, result.stderr
    target = Path("weights") / "sudoku-trm-small"
    for name, source in files.items():
        assert (target / name).read_bytes() == source.read_bytes()
    assert same_weights(load_weights(target), model)
    assert str(target) in result.stdout and COMMIT[:12] in result.stdout
    assert result.stderr == ""


def test_a_model_in_the_target_is_replaced_only_with_force_which_needs_the_hub(offline, tmp_path):
    export_weights(small_model(), tmp_path / "published")
    cache_repo(offline, "someone/m", {n: tmp_path / "published" / n for n in ("config.json", "model.safetensors")})
    assert runner.invoke(download_app, ["weights", "someone/m"]).exit_code == 0

    again = runner.invoke(download_app, ["weights", "someone/m"])
    assert again.exit_code == 1
    assert "already holds a model" in one_line(again.stderr) and "--force" in again.stderr

    forced = runner.invoke(download_app, ["weights", "someone/m", "--force"])
    assert forced.exit_code == 1
    assert "HF_HUB_OFFLINE" in one_line(forced.stderr) and "someone/m" in forced.stderr


# -- reference checkpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize("config_text, mixer", [(ALL_CONFIG, "mlp"), (ARCH_ONLY_ATTENTION, "attention")])
def test_reference_checkpoint_converts_to_a_model_with_identical_logits(offline, tmp_path, puzzles, config_text, mixer):
    original = small_model(seed=1, mixer=mixer)
    checkpoint, config = write_reference(tmp_path / "ref", reference_state(original), config_text)
    cache_repo(offline, "Kaleemullah/trm-cgar-sudoku", {"pytorch_model.bin": checkpoint, "config.yaml": config})

    result = runner.invoke(download_app, ["weights", "--dir", "converted"])

    assert result.exit_code == 0, result.stderr
    assert "converted from Kaleemullah/trm-cgar-sudoku" in result.stdout
    imported = load_weights(Path("converted"))
    assert imported.config.mixer == mixer and imported.config.hidden_size == 32
    for ours, theirs in zip(trace(imported, puzzles), trace(original, puzzles)):
        assert torch.equal(ours, theirs)
    assert "pytorch_model.bin + config.yaml" in (Path("converted") / "README.md").read_text()


def test_a_training_run_folder_converts_its_latest_step(offline, tmp_path):
    early, late = small_model(seed=2), small_model(seed=3)
    run = tmp_path / "run"
    write_reference(run, reference_state(early))
    torch.save(reference_state(early), run / "step_100")
    torch.save(reference_state(late), run / "step_250")
    cache_repo(
        offline,
        "someone/trm-run",
        {
            "ckpt/step_100": run / "step_100",
            "ckpt/step_250": run / "step_250",
            "ckpt/all_config.yaml": run / "config.yaml",
        },
    )

    result = downloads.download_weights("someone/trm-run", tmp_path / "out")

    assert result.sources == ("ckpt/step_250", "ckpt/all_config.yaml") and result.converted
    assert same_weights(load_weights(tmp_path / "out"), late)


def broken(kind: str, state: dict) -> object:
    model_key = REFERENCE_PREFIX + "L_level.layers.1.mlp.down_proj.weight"
    if kind == "missing key":
        del state[model_key]
    elif kind == "wrong shape":
        state[model_key] = torch.zeros(32, 64)
    elif kind == "unexpected key":
        state[REFERENCE_PREFIX + "L_level.layers.2.mlp.down_proj.weight"] = torch.zeros(32, 256)
    elif kind == "key outside the model":
        state["_orig_mod.model.step_counter"] = torch.zeros(1)
    elif kind == "not a state dict":
        return [t for t in state.values()]
    elif kind == "non-tensor entry":
        state["step"] = 1000
    elif kind == "no reference prefix":
        return {k.removeprefix(REFERENCE_PREFIX): v for k, v in state.items()}
    return state


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("missing key", ["missing key", "L_level.layers.1.mlp.down_proj.weight", "[32, 256]"]),
        ("wrong shape", ["L_level.layers.1.mlp.down_proj.weight", "[32, 64]", "[32, 256]"]),
        ("unexpected key", ["unexpected key", "L_level.layers.2.mlp.down_proj.weight"]),
        ("key outside the model", ["unexpected key", "_orig_mod.model.step_counter"]),
        ("not a state dict", ["not a state dict", "list"]),
        ("non-tensor entry", ["'step'", "not a tensor"]),
        ("no reference prefix", ["_orig_mod.model.inner.", "not a TRM reference checkpoint"]),
    ],
)
def test_a_checkpoint_that_does_not_fit_fails_with_one_line(tmp_path, kind, expected):
    checkpoint, config = write_reference(tmp_path, reference_state(small_model()))
    torch.save(broken(kind, torch.load(checkpoint, weights_only=True)), checkpoint)
    with pytest.raises(UserError) as caught:
        load_reference(checkpoint, config)
    message = one_line(str(caught.value))
    assert str(checkpoint) in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"this is not a torch file", "not a torch checkpoint"),
        (b"", "not a torch checkpoint"),
    ],
)
def test_an_unknown_file_format_fails_with_one_line(tmp_path, content, expected):
    _, config = write_reference(tmp_path, reference_state(small_model()))
    (tmp_path / "pytorch_model.bin").write_bytes(content)
    with pytest.raises(UserError, match=expected) as caught:
        load_reference(tmp_path / "pytorch_model.bin", config)
    one_line(str(caught.value))


def test_a_pickled_object_is_refused_not_executed(tmp_path):
    _, config = write_reference(tmp_path, reference_state(small_model()))
    torch.save({"weights": SimpleNamespace(a=1)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(UserError, match="weights_only"):
        load_reference(tmp_path / "pytorch_model.bin", config)


def test_training_scratch_buffers_are_skipped_and_nothing_else(tmp_path):
    model = small_model()
    state = reference_state(model)
    state.update({REFERENCE_PREFIX + key: torch.zeros(768, 32) for key in SKIPPED_KEYS})
    checkpoint, config = write_reference(tmp_path, state)
    assert same_weights(load_reference(checkpoint, config), model)


@pytest.mark.parametrize(
    "edit, named",
    [
        (("  pos_encodings: none", "  pos_encodings: learned"), "pos_encodings"),
        (("  no_ACT_continue: true", "  no_ACT_continue: false"), "no_ACT_continue"),
        (("  puzzle_emb_ndim: 32", "  puzzle_emb_ndim: 0"), "puzzle_emb_ndim"),
        (("  mlp_t: true", "  mlp_t: true\n  sparse_routing: 4"), "sparse_routing"),
        (
            (
                "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
                "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
            ),
            "not a Tiny Recursive Model",
        ),
        (("  hidden_size: 32\n", ""), "hidden_size"),
        (("  hidden_size: 32", "  hidden_size: big"), "hidden_size"),
    ],
)
def test_an_unsupported_setting_is_named_in_one_line(tmp_path, edit, named):
    path = tmp_path / "config.yaml"
    path.write_text(ALL_CONFIG.replace(*edit))
    with pytest.raises(UserError) as caught:
        read_reference_config(path)
    message = one_line(str(caught.value))
    assert named in message and str(path) in message


def test_the_reference_settings_map_to_our_config(tmp_path):
    path = tmp_path / "trm.yaml"
    path.write_text(ARCH_ONLY_ATTENTION.replace("hidden_size: 32", "hidden_size: 64"))
    config = read_reference_config(path)
    assert (config.hidden_size, config.puzzle_emb_dim, config.mixer, config.num_layers) == (64, 64, "attention", 2)
    assert (config.H_cycles, config.L_cycles, config.halt_max_steps, config.num_heads) == (2, 2, 4, 4)


# -- missing things, offline, through the CLI --------------------------------------------------------


def test_a_repo_missing_from_the_cache_fails_offline_with_exit_1(offline):
    result = runner.invoke(download_app, ["weights", "nobody/no-such-model"])
    assert result.exit_code == 1
    message = one_line(result.stderr)
    assert message.startswith("error: nobody/no-such-model") and "HF_HUB_OFFLINE" in message
    assert result.stdout == ""


def test_a_file_missing_from_the_cache_fails_offline_with_exit_1(offline, shared_sample):
    cache_repo(offline, "sapientinc/sudoku-extreme", {"train.csv": shared_sample / "hard_dev.csv"}, "dataset")
    result = runner.invoke(download_app, ["data"])
    assert result.exit_code == 1
    message = one_line(result.stderr)
    assert "dataset sapientinc/sudoku-extreme file test.csv" in message and "HF_HUB_OFFLINE" in message


def test_a_repo_in_neither_layout_is_refused(offline):
    cache_repo(offline, "someone/other", {"weights.npz": b"x", "notes.txt": b"y"})
    result = runner.invoke(download_app, ["weights", "someone/other"])
    assert result.exit_code == 1
    assert "neither our layout" in one_line(result.stderr) and "weights.npz" in result.stderr
    assert not Path("weights/other").exists()


# -- data ----------------------------------------------------------------------------------------------


def test_downloaded_csvs_load_through_the_data_pipeline(offline, shared_sample):
    lines = (shared_sample / "hard_dev.csv").read_text().splitlines()
    assert lines[0] == "source,question,answer,rating"  # Sudoku-Extreme's columns, '.' for blanks
    train, test = "\n".join(lines[:21]) + "\n", "\n".join(lines[:1] + lines[21:31]) + "\n"
    cache_repo(
        offline,
        "sapientinc/sudoku-extreme",
        {"train.csv": train.encode(), "test.csv": test.encode(), "README.md": b"card"},
        "dataset",
    )

    result = runner.invoke(download_app, ["data"])

    assert result.exit_code == 0, result.stderr
    reference = load_puzzle_set(shared_sample / "hard_dev.csv", cache_dir=None)
    for name, rows in (("train.csv", slice(0, 20)), ("test.csv", slice(20, 30))):
        path = Path("data") / "sudoku-extreme" / name
        assert str(path) in result.stdout
        loaded = load_puzzle_set(path, cache_dir=None)
        assert (loaded.questions == reference.questions[rows]).all()
        assert (loaded.answers == reference.answers[rows]).all()
    assert not (Path("data") / "sudoku-extreme" / "README.md").exists()  # only the files asked for


def test_a_file_that_is_not_a_puzzle_csv_is_refused(offline):
    cache_repo(offline, "someone/tables", {"train.csv": b"id,text\n1,hello\n"}, "dataset")
    result = runner.invoke(download_app, ["data", "someone/tables", "--file", "train.csv", "--dir", "d"])
    assert result.exit_code == 1
    assert "not a puzzle CSV" in one_line(result.stderr)


# -- the Hub mixin -------------------------------------------------------------------------------------


def test_export_and_load_model_share_the_hub_layout_strictly_and_silently(offline, tmp_path, capsys):
    model = small_model()
    export_weights(model, tmp_path / "exported")
    loaded = load_model(tmp_path / "exported")
    assert same_weights(loaded, model) and loaded.config == model.config

    export_weights(loaded, tmp_path / "saved")
    assert sorted(os.listdir(tmp_path / "saved")) == ["README.md", "config.json", "model.safetensors"]
    again = load_weights(tmp_path / "saved")
    assert same_weights(again, model) and again.config == model.config
    assert "library_name: sudoku-trm" in (tmp_path / "saved" / "README.md").read_text()

    cache_repo(offline, "someone/hub-model", {n: tmp_path / "saved" / n for n in os.listdir(tmp_path / "saved")})
    from_hub = load_model("someone/hub-model", cache_dir=offline)
    assert same_weights(from_hub, model) and from_hub.config == model.config
    assert capsys.readouterr().out == ""  # huggingface_hub's own from_pretrained prints here


def test_load_model_refuses_weights_that_do_not_fit_the_config(tmp_path):
    export_weights(small_model(), tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"hidden_size": 64}')
    with pytest.raises(UserError, match="do not fit"):
        load_model(tmp_path / "m")


# -- huggingface_hub's errors, one line each -----------------------------------------------------------


def http_error(cls, status: int):
    return cls(
        "raw huggingface_hub message\nwith a second line",
        response=SimpleNamespace(status_code=status, headers={}, request=None),
    )


@pytest.mark.parametrize(
    "error, expected",
    [
        (lambda: http_error(hub.GatedRepoError, 403), "accept its licence at https://huggingface.co/owner/name"),
        (lambda: http_error(hub.RepositoryNotFoundError, 404), "check the repo id"),
        (lambda: http_error(hub.RevisionNotFoundError, 404), "no revision 'v9'"),
        (lambda: hub.EntryNotFoundError("gone"), "no such file in the repo"),
        (lambda: hub.LocalEntryNotFoundError("not cached"), "cannot be reached and nothing is cached"),
        (lambda: http_error(hub.HfHubHTTPError, 401), "hf auth login"),
        (lambda: http_error(hub.HfHubHTTPError, 503), "HTTP 503; retry later"),
        (lambda: ConnectionError("connection refused"), "cannot reach the Hugging Face Hub"),
        (lambda: PermissionError(13, "Permission denied", "/cache/x"), "Permission denied (/cache/x)"),
    ],
)
def test_hub_failures_become_one_actionable_line(monkeypatch, tmp_path, error, expected):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)

    def fail(*args, **kwargs):
        raise error()

    monkeypatch.setattr(hub, "hf_hub_download", fail)  # nothing reaches the network
    with pytest.raises(UserError) as caught:
        hub.fetch_file("owner/name", "model.safetensors", revision="v9", cache_dir=tmp_path)
    message = one_line(str(caught.value))
    assert message.startswith("owner/name file model.safetensors (revision v9)") and expected in message
    assert "raw huggingface_hub message" not in message
