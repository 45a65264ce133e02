"""What would fail or crawl in a short GPU run, checked on a CPU (see ../shared/gpu-readiness.md):
a checkpoint written on CUDA resumes on a CPU, a parameter cut off from the loss stops the run in one
line, checkpoint gathering moves device tensors to the CPU, --compile compiles the shared network once
for every depth with the state_dict unchanged, and a sharded export on the Hub downloads."""

import dataclasses
import functools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_hub import cache_repo, offline  # noqa: F401 (offline is a fixture)
from test_train import quiet, tiny_model, tiny_train

from sudoku_trm.errors import UserError
from sudoku_trm.hub import client as hub
from sudoku_trm.hub.downloads import download_weights
from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.devices import autocast_for
from sudoku_trm.model.trm import TRM, Carry
from sudoku_trm.model.weights import CONFIG_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME, export_weights, load_weights
from sudoku_trm.training import distributed
from sudoku_trm.training.checkpoint import CHECKPOINT_NAME
from sudoku_trm.training.rng import restore_generator
from sudoku_trm.training.trainer import RunningMetrics, Trainer

# What torch.cuda.get_rng_state() returns: seed and offset, 16 bytes (a CPU generator's state is 5056).
CUDA_STATE = torch.tensor([7, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0], dtype=torch.uint8)


def pdc_config(tmp_path: Path, name: str = "run", **overrides):
    """Depth (1, 1), then (1, 2), then (2, 2): every kind of step, no-grad passes at the last."""
    model = tiny_model(H_cycles=2, L_cycles=2, halt_max_steps=3)
    values = dict(name=name, curriculum="cgar", pdc_boundaries=(0.3, 0.6), pdc_depths=((1, 1), (1, 2), (2, 2)))
    values.update(steps=9, batch_size=6)
    values.update(overrides)
    return model, tiny_train(tmp_path, model, **values)


# -- 1. a checkpoint written on CUDA resumes on the CPU ----------------------------------------------------


def test_a_generator_state_from_another_device_reseeds_deterministically():
    cpu = torch.Generator().manual_seed(3)
    state, expected = cpu.get_state(), torch.rand(4, generator=cpu)
    restored = torch.Generator()
    assert restore_generator(restored, state, "cpu") and torch.equal(torch.rand(4, generator=restored), expected)

    draws = []
    for saved_device in ("cuda", None):  # tagged, and as checkpoints from before tags (the size tells)
        generator = torch.Generator()
        assert not restore_generator(generator, CUDA_STATE, saved_device)
        draws.append(torch.rand(4, generator=generator))
    assert torch.equal(draws[0], draws[1])  # the same saved state, the same seed
    other = torch.Generator()
    restore_generator(other, CUDA_STATE.flip(0), "cuda")
    assert not torch.equal(torch.rand(4, generator=other), draws[0])  # another state, another seed


def as_if_written_on_cuda(path: Path, tagged: bool) -> None:
    """Make a CPU checkpoint look like one from a CUDA run: the augmentation generator and the device
    RNG hold CUDA states (tagged as such, or untagged as checkpoints written before the tags)."""
    state = torch.load(path, weights_only=True)
    rank = state["ranks"][0]
    rank["stream"]["augment_generator"] = CUDA_STATE.clone()
    rank["cuda_rng"] = CUDA_STATE.clone()
    if tagged:
        rank["stream"]["augment_generator_device"] = rank["device"] = "cuda"
    else:
        del rank["stream"]["augment_generator_device"], rank["device"]
    torch.save(state, path)


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_a_checkpoint_written_on_cuda_resumes_on_the_cpu_reseeded(tmp_path, tagged):
    model, config = pdc_config(tmp_path)
    Trainer(model, config, log=quiet).run(until=3)
    path = Path(config.runs_dir) / config.name / CHECKPOINT_NAME
    as_if_written_on_cuda(path, tagged)
    written = path.read_bytes()

    runs = []
    for _ in range(2):
        path.write_bytes(written)  # each resume from the same checkpoint (a run overwrites it)
        lines = []
        resumed = Trainer(model, dataclasses.replace(config, resume=True), log=lines.append)
        resumed.run()
        runs.append(resumed)
        reseeded = [line for line in lines if "reseeded" in line]
        assert len(reseeded) == 1 and "cuda" in reseeded[0] and "augmentation" in reseeded[0], lines
        assert resumed.step == 9
    # Deterministic: the same checkpoint continues the same way.
    first, second = (run.model.state_dict() for run in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_a_cpu_checkpoint_resumes_on_the_cpu_without_a_reseed_line(tmp_path):
    model, config = pdc_config(tmp_path)
    Trainer(model, config, log=quiet).run(until=3)
    lines = []
    Trainer(model, dataclasses.replace(config, resume=True), log=lines.append)
    assert not [line for line in lines if "reseeded" in line], lines


# -- 2. a parameter that receives no gradient stops the run --------------------------------------------


def detach_lm_head(trainer: Trainer, when) -> None:
    """The readout uses its weight detached while `when(h_cycles)` holds: no gradient reaches it then."""
    head, forward = trainer.model.lm_head, trainer.forward
    depth = {}

    def call(carry, inputs, h_cycles, l_cycles):
        depth["h"] = h_cycles
        return forward(carry, inputs, h_cycles, l_cycles)

    def readout(y):
        weight = head.weight.detach() if when(depth["h"]) else head.weight
        return F.linear(y, weight, head.bias)

    trainer.forward, head.forward = call, readout


def test_a_parameter_without_a_gradient_at_the_first_step_is_named_in_one_line(tmp_path):
    model, config = pdc_config(tmp_path)
    trainer = Trainer(model, config, log=quiet)
    before = trainer.model.lm_head.weight.detach().clone()
    detach_lm_head(trainer, lambda h: True)
    with pytest.raises(UserError) as error:
        trainer.train_step(RunningMetrics(trainer.device))
    message = str(error.value)
    assert "\n" not in message and "lm_head.weight" in message and "step 1 at depth (1, 1)" in message
    assert "q_head" not in message  # only the parameters cut off
    assert torch.equal(trainer.model.lm_head.weight, before)  # refused before the update


def test_a_parameter_that_loses_its_gradient_once_passes_run_without_gradients_is_named(tmp_path):
    model, config = pdc_config(tmp_path)
    trainer = Trainer(model, config, log=quiet)
    detach_lm_head(trainer, lambda h: h >= 2)
    metrics = RunningMetrics(trainer.device)
    for _ in range(6):  # depths (1, 1) and (1, 2): the weight still has its gradient
        trainer.train_step(metrics)
    with pytest.raises(UserError, match=r"step 7 at depth \(2, 2\).*lm_head\.weight"):
        trainer.train_step(metrics)


def test_the_gradient_check_runs_twice_and_a_sound_run_passes_it(tmp_path, monkeypatch):
    model, config = pdc_config(tmp_path)
    trainer = Trainer(model, config, log=quiet)
    checked = []
    original = trainer.check_gradients
    monkeypatch.setattr(trainer, "check_gradients", lambda h, l: (checked.append(trainer.step), original(h, l)))
    trainer.run()
    assert trainer.step == 9 and not trainer.gradient_checks
    assert checked[0] == 0 and checked[-1] == 6  # the first step, and the first at (2, 2)


# -- 3. checkpoint gathering moves tensors to the CPU ---------------------------------------------------


class OnDevice(torch.Tensor):
    """Stands for a CUDA tensor on a CPU-only machine: `.cpu()` gives a plain tensor."""

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor)


def on_device(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.as_subclass(OnDevice)


def device_tensors(obj) -> list:
    if isinstance(obj, OnDevice):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for value in obj for t in device_tensors(value)]
    return []


def test_to_cpu_maps_every_tensor_in_nested_containers_and_keeps_the_rest():
    y, z, steps = torch.randn(2, 3), torch.randn(2, 3), torch.tensor([1, 2])
    state = {
        "slots": {"carry": Carry(on_device(y), on_device(z)), "steps": on_device(steps)},
        "history": [on_device(steps), (on_device(y), "label")],
        "torch_rng": torch.get_rng_state(),
        "device": "cuda",
        "position": 5,
    }
    moved = distributed.to_cpu(state)
    assert device_tensors(state) and not device_tensors(moved)
    assert isinstance(moved["slots"]["carry"], Carry) and torch.equal(moved["slots"]["carry"].z, z)
    assert torch.equal(moved["slots"]["steps"], steps) and torch.equal(moved["history"][1][0], y)
    assert moved["history"][1][1] == "label" and moved["device"] == "cuda" and moved["position"] == 5
    assert moved["torch_rng"] is state["torch_rng"]  # a CPU tensor is not copied


def test_gather_to_rank0_hands_gather_object_cpu_tensors_only(monkeypatch):
    sent = []

    def gather_object(obj, gathered, dst):
        sent.append(obj)
        gathered[:] = [obj, obj]

    monkeypatch.setattr(distributed.dist, "gather_object", gather_object)
    state = {"slots": {"y": on_device(torch.randn(2, 3))}, "torch_rng": torch.get_rng_state()}
    gathered = distributed.gather_to_rank0(state, rank=0, world=2)
    assert len(gathered) == 2 and sent and not device_tensors(sent)
    assert not device_tensors(distributed.gather_to_rank0(state, rank=0, world=1))


# -- 4. --compile compiles the shared network, once for every depth -----------------------------------


def test_compile_compiles_the_network_in_place_and_keeps_the_state_dict_keys(tmp_path):
    model, config = pdc_config(tmp_path, compile=True)
    trainer = Trainer(model, config, log=quiet)
    assert trainer.forward is trainer.model  # no wrapper: the model is called as it is
    assert trainer.model.L_level._compiled_call_impl is not None
    assert trainer.ema.L_level._compiled_call_impl is None  # evaluated and exported eagerly
    keys = list(TRM(model).state_dict())
    assert list(trainer.model.state_dict()) == keys and list(trainer.ema.state_dict()) == keys
    export_weights(trainer.ema, tmp_path / "export")
    assert list(load_weights(tmp_path / "export").state_dict()) == keys


def test_compiled_training_compiles_three_graphs_for_every_depth(tmp_path, monkeypatch):
    from torch._dynamo.utils import counters

    # Dynamo's tracing and guards are what is tested; the eager backend skips inductor's code generation.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    torch._dynamo.reset()
    counters.clear()
    model = tiny_model(H_cycles=3, L_cycles=3, halt_max_steps=3)
    depths = ((1, 1), (1, 2), (2, 2), (3, 3))
    config = tiny_train(
        tmp_path, model, curriculum="pdc", pdc_boundaries=(0.25, 0.5, 0.75), pdc_depths=depths, steps=8, compile=True
    )
    trainer = Trainer(model, config, log=quiet)
    metrics = RunningMetrics(trainer.device)
    graphs = {}
    for _ in range(config.steps):
        trainer.train_step(metrics)
        graphs[trainer.step_settings[1]] = counters["stats"]["unique_graphs"]
    torch._dynamo.reset()
    assert tuple(graphs) == depths
    # (1, 1): the first update with gradients; (1, 2) adds the later ones; (2, 2) the no-grad passes.
    # A deeper stage needs no graph of its own (a compiled model would compile its unrolled loops again).
    assert list(graphs.values()) == [1, 2, 3, 3]


def test_cpu_bf16_autocast_is_opt_in():
    cpu = torch.device("cpu")
    with autocast_for(cpu):
        assert not torch.is_autocast_enabled("cpu")
    with autocast_for(cpu, cpu=True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with autocast_for(cpu, bf16=False, cpu=True):
        assert not torch.is_autocast_enabled("cpu")


# -- 5. a sharded export on the Hub downloads ----------------------------------------------------------


def sharded_export(directory: Path, hidden: int = 64) -> TRM:
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden_size=hidden, H_cycles=1, L_cycles=1, halt_max_steps=3))
    with torch.no_grad():
        model.q_head.weight.normal_()
    export_weights(model, directory, max_shard_bytes=450_000)
    assert (directory / WEIGHTS_INDEX_NAME).is_file()
    return model


def same_model(a: TRM, b: TRM) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return (
        a.config == b.config and first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    )


def test_a_sharded_export_downloads_into_our_layout(offline, tmp_path):  # noqa: F811
    model = sharded_export(tmp_path / "published")
    files = {path.name: path for path in (tmp_path / "published").iterdir()}
    cache_repo(offline, "someone/sharded", files)

    result = download_weights("someone/sharded")

    target = Path("weights") / "sharded"
    assert sorted(p.name for p in target.iterdir()) == sorted(files)
    assert all((target / name).read_bytes() == path.read_bytes() for name, path in files.items())
    assert set(result.sources) == set(files) and not result.converted
    assert result.parameters == model.count_parameters()
    assert same_model(load_weights(target), model)


def test_forced_downloads_switch_layouts_without_leaving_the_other_one(offline, tmp_path, monkeypatch):  # noqa: F811
    # --force downloads again, which needs the Hub: here the cache stands in for it.
    fetch_model, fetch_files = hub.fetch_model, hub.fetch_files
    monkeypatch.setattr(hub, "fetch_model", lambda *args, force_download, **options: fetch_model(*args, **options))
    monkeypatch.setattr(hub, "fetch_files", lambda *args, force, **options: fetch_files(*args, **options))
    sharded = sharded_export(tmp_path / "sharded")
    cache_repo(offline, "someone/sharded", {p.name: p for p in (tmp_path / "sharded").iterdir()})
    torch.manual_seed(1)
    single = TRM(ModelConfig(hidden_size=32, H_cycles=1, L_cycles=1, halt_max_steps=3))
    export_weights(single, tmp_path / "single")
    cache_repo(offline, "someone/single", {p.name: p for p in (tmp_path / "single").iterdir()})
    target = tmp_path / "target"

    download_weights("someone/single", target)
    with pytest.raises(UserError, match="already holds a model"):
        download_weights("someone/sharded", target)
    download_weights("someone/sharded", target, force=True)
    assert WEIGHTS_NAME not in {p.name for p in target.iterdir()}
    assert same_model(load_weights(target), sharded)

    (target / CONFIG_NAME).unlink()
    with pytest.raises(UserError, match="already holds a model"):  # an index alone marks a model too
        download_weights("someone/single", target)
    download_weights("someone/single", target, force=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(["README.md", CONFIG_NAME, WEIGHTS_NAME])
    assert same_model(load_weights(target), single)
