"""scripts/gpu/: the GPU session scripts run exactly as on a lent machine, here on CPU with a tiny model:
pack the data, start training detached, poll, then finish into a folder that must fit the return
channel (files below 16 MiB, at most 8). The end-to-end test takes about 45 s on 2 busy CPUs (a
30-second training budget, then one evaluation); its steps carry timeouts, so a hang cannot stall the suite."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT

from sudoku_trm.model.weights import load_weights

SCRIPTS = ROOT / "scripts" / "gpu"
# The GPU machine's Python is plain python3 with PYTHONPATH; here the test's own interpreter stands in.
ENV = {**os.environ, "PYTHON": sys.executable}
TINY = ["--hidden-size", "16", "--h-cycles", "1", "--l-cycles", "1", "--max-steps", "2", "--batch-size", "16"]
QUIET = ["--warmup-steps", "2", "--log-every", "5", "--eval-every", "0", "--dev-limit", "20"]
CPU = ["--device", "cpu", "--no-compile"]
# The run ends by its 30-second time budget (minutes), never by its step count.
BUDGET = ["--time-budget", "0.5", "--steps", "1000000"]


def script(name: str, *args, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *map(str, args)], env=ENV, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def run_dir(tmp_path):
    """The run folder; a run the test started and left going is stopped (its own process group)."""
    run = tmp_path / "run"
    yield run
    pid_file, done = run / "pid", run / "exit_code"
    if pid_file.is_file() and not done.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def test_a_session_goes_from_packed_data_to_a_folder_the_return_channel_takes(tmp_path, shared_sample, run_dir):
    data, out = tmp_path / "data", tmp_path / "out"
    packed = script("pack_data.sh", "--from", shared_sample, "--to", data)
    assert packed.returncode == 0, packed.stderr
    assert sorted(p.name for p in data.iterdir()) == sorted(
        ["hard_train.csv", "clue17.csv", "unbiased_1k.csv", "hard_dev.csv"]
    )

    # A path under ../shared/data/, as a local command line names it, is read from the packed copy.
    train = [*TINY, *QUIET, *CPU, *BUDGET, "--dev", "../shared/data/hard_dev.csv"]
    started = script("start.sh", "--run", run_dir, "--data-dir", data, *train)
    assert started.returncode == 0, started.stderr + started.stdout
    assert "started: pid" in started.stdout
    command = (run_dir / "train.log").read_text().splitlines()[0]
    assert f"--dev {data}/hard_dev.csv" in command and f"--data {data}/hard_train.csv" in command
    assert "unbiased_1k" not in command  # a dev set: never trained on

    polled = script("status.sh", "--run", run_dir)
    assert polled.returncode == 0, polled.stderr
    assert "running" in polled.stdout or "finished" in polled.stdout

    finished = script("finish.sh", out, "--run", run_dir, "--data-dir", data, "--wait", 120, timeout=180)
    assert finished.returncode == 0, finished.stderr + finished.stdout
    assert "eval: 100 puzzles" in finished.stdout
    assert "finished" in script("status.sh", "--run", run_dir).stdout

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "eval.json",
        "metrics.jsonl",
        "train.log",
        "weights/README.md",
        "weights/config.json",
        "weights/model.safetensors",
    ]
    assert all((out / name).stat().st_size < 16 * 2**20 for name in files)
    assert load_weights(out / "weights").config.hidden_size == 16
    report = json.loads((out / "eval.json").read_text())
    assert {"weights", "votes", "files", "total", "errors"} <= report.keys()
    assert report["total"]["puzzles"] == 100 and report["errors"] == []  # all of hard_dev.csv
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "loss" in r]
    assert steps and max(steps) < 1_000_000  # stopped by the time budget


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("start.sh", ["--runs-dir", "x"], "start.sh sets --runs-dir and --export itself"),
        ("start.sh", ["--steps", "1"], "hard_train.csv: missing; run scripts/gpu/pack_data.sh first"),
        ("status.sh", [], "no run there"),
        ("finish.sh", [], "usage: finish.sh OUTDIR"),
        ("finish.sh", ["out"], "no run there"),
        ("pack_data.sh", ["--from", "nowhere"], "nowhere/hard_train.csv: missing"),
    ],
)
def test_misuse_is_one_line_on_stderr(tmp_path, name, args, message):
    flags = ["--run", tmp_path / "run"] if name != "pack_data.sh" else ["--to", tmp_path / "data"]
    if name == "start.sh":
        flags += ["--data-dir", tmp_path / "empty"]
    result = script(name, *flags, *args) if name != "finish.sh" else script(name, *args, *flags)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "run" / "pid").exists()
