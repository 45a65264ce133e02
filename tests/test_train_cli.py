"""`train` as a user meets it: an earlier run is never overwritten unasked, bad limits are refused, the end
says where things went, and a warm-up that outlasts the run is pointed out."""

import json

from conftest import SHARED_SAMPLE
from typer.testing import CliRunner

from sudoku_trm.cli.app import app

runner = CliRunner()


def train(tmp_path, *extra: str, steps: int = 4, warmup: int = 1):
    args = [
        "train", "--data", str(SHARED_SAMPLE / "unbiased_1k.csv"), "--dev", str(SHARED_SAMPLE / "hard_dev.csv"),
        "--dev-limit", "4", "--hidden-size", "16", "--h-cycles", "1", "--l-cycles", "1", "--max-steps", "2",
        "--steps", str(steps), "--batch-size", "4", "--warmup-steps", str(warmup), "--log-every", "2",
        "--eval-every", "0", "--device", "cpu", "--no-compile", "--runs-dir", str(tmp_path), "--name", "x", *extra,
    ]  # fmt: skip
    return runner.invoke(app, args)


def metrics_steps(tmp_path) -> list[int]:
    lines = (tmp_path / "x" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines if "loss" in json.loads(line)]


def test_a_second_run_of_the_same_name_is_refused_unless_resumed_or_overwritten(tmp_path):
    first = train(tmp_path)
    assert first.exit_code == 0, first.output
    assert (
        f"checkpoint: {tmp_path / 'x' / 'checkpoint.pt'}  metrics: {tmp_path / 'x' / 'metrics.jsonl'}" in first.stderr
    )
    before = (tmp_path / "x" / "checkpoint.pt").read_bytes()

    again = train(tmp_path)
    assert again.exit_code == 1
    assert again.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'x'}: holds an earlier run; continue it with --resume, replace it with --overwrite, "
        "or choose another --name"
    ]
    assert (tmp_path / "x" / "checkpoint.pt").read_bytes() == before  # untouched

    replaced = train(tmp_path, "--overwrite", steps=2)
    assert replaced.exit_code == 0, replaced.output
    assert metrics_steps(tmp_path) == [2]  # the old run's records are gone, not appended to

    resumed = train(tmp_path, "--resume", steps=4)
    assert resumed.exit_code == 0, resumed.output
    assert metrics_steps(tmp_path) == [2, 4]


def test_a_negative_dev_limit_is_bad_usage(tmp_path):
    result = train(tmp_path, "--dev-limit", "-5")
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_a_warm_up_as_long_as_the_run_is_pointed_out(tmp_path):
    result = train(tmp_path, steps=4, warmup=10)
    assert result.exit_code == 0, result.output
    assert "note: the warm-up (10 steps) is as long as the run (4 steps)" in result.stderr
    quiet = train(tmp_path, "--overwrite", steps=4, warmup=2)
    assert "note: the warm-up" not in quiet.stderr


def test_halting_figures_are_n_a_where_no_puzzle_finished():
    import torch

    from sudoku_trm.training.metrics import RunningMetrics, step_line

    metrics = RunningMetrics(torch.device("cpu"))
    metrics.sums["loss"] += 2.0
    metrics.updates = 1
    record = {**metrics.flush(), "step": 5, "progress": 0.5, "depth": [1, 2], "samples_per_s": 10.0}
    assert record["finished"] == 0 and record["halting_accuracy"] is None and record["mean_steps"] is None
    assert json.loads(json.dumps(record))["halting_accuracy"] is None  # null in metrics.jsonl, not 0.0
    assert "halt n/a  steps n/a" in step_line(record, 10)

    for name, value in (("finished", 4.0), ("halting_accuracy", 3.0), ("mean_steps", 10.0)):
        metrics.sums[name] += value
    metrics.updates = 2
    finished = metrics.flush()
    assert (finished["halting_accuracy"], finished["mean_steps"]) == (0.75, 2.5)
    assert "halt 0.750  steps 2.5" in step_line({**record, **finished}, 10)
