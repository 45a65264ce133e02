"""The frontier mix (training/frontier.py): buckets of (source, reveal), drawn most where the model solves
about half, with solve rates measured from the puzzles that leave their slots."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import SHARED_SAMPLE, tiny_train_config

from sudoku_trm.model.config import ModelConfig
from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.sudoku.grid import valid_solutions
from sudoku_trm.sudoku.puzzle_sets import PuzzleSet, load_puzzle_set
from sudoku_trm.training.frontier import DECAY, FLOOR, FrontierStream
from sudoku_trm.training.trainer import Trainer


def two_sources() -> PuzzleSet:
    """Source 0: the sample's answers with 10 blanks each; source 1: the same grids with 50 blanks each."""
    base = load_puzzle_set(SHARED_SAMPLE / "hard_train.csv")
    rng = np.random.default_rng(0)
    sets = []
    for name, blanks in (("ten", 10), ("fifty", 50)):
        questions = base.answers.copy()
        for row in questions:
            row[rng.choice(81, blanks, replace=False)] = 0
        sets.append(PuzzleSet(questions, base.answers.copy(), base.ratings.copy(), name))
    return PuzzleSet.concat(sets)


def blanks_of(inputs: torch.Tensor) -> torch.Tensor:
    return (inputs == to_tokens(torch.zeros(1, dtype=torch.long))).sum(1)  # the blank token


def test_a_bucket_draws_from_its_source_with_its_share_revealed():
    stream = FrontierStream(two_sources(), 400, seed=1, reveals=(0.0, 0.5))
    inputs, labels, buckets = stream.next_batch()
    source, reveal = buckets // 2, buckets % 2
    blanks = blanks_of(inputs)
    assert set(buckets.tolist()) == {0, 1, 2, 3}  # all four drawn at the start (equal weights)
    assert (blanks[(source == 0) & (reveal == 0)] == 10).all() and (blanks[(source == 1) & (reveal == 0)] == 50).all()
    half = blanks[(source == 1) & (reveal == 1)].float()
    assert 20 < half.mean() < 30 and (half < 50).all()  # about half of 50 filled in
    grids, answers = (inputs - 1).clamp(min=0).numpy(), (labels - 1).numpy()
    assert valid_solutions(grids, answers).all()  # every given, revealed or not, is the solution's digit


def test_weights_favour_the_half_solved_and_never_drop_a_bucket():
    stream = FrontierStream(two_sources(), 8, seed=0, reveals=(0.0, 0.5))
    stream.tries = torch.tensor([100.0, 100.0, 100.0, 100.0], dtype=torch.float64)
    stream.solved = torch.tensor([0.0, 50.0, 100.0, 20.0], dtype=torch.float64)
    weights = stream.weights()
    raw = torch.tensor([FLOOR, 0.25 + FLOOR, FLOOR, 0.16 + FLOOR], dtype=torch.float64)
    assert torch.allclose(weights, raw / raw.sum())
    assert weights[1] > weights[3] > weights[0] == weights[2] > 0
    draws = torch.cat([stream.next_batch()[2] for _ in range(200)])  # 1,600 draws
    share = torch.bincount(draws, minlength=4).double() / len(draws)
    assert torch.allclose(share, weights, atol=0.04)


def test_a_report_counts_only_the_puzzles_that_left_and_decays_the_past():
    stream = FrontierStream(two_sources(), 4, seed=0, reveals=(0.0, 0.5))
    buckets = torch.tensor([0, 0, 1, 3])
    left = torch.tensor([True, True, False, True])
    solved = torch.tensor([True, False, True, True])  # bucket 1's solve did not leave: not counted
    stream.report(buckets, left, solved)
    keep = DECAY**3
    assert torch.allclose(stream.tries, torch.tensor([2 * keep + 2, 2 * keep, 2 * keep, 2 * keep + 1]).double())
    assert torch.allclose(stream.solved, torch.tensor([keep + 1, keep, keep, keep + 1]).double())
    assert stream.solve_rates()[3] > stream.solve_rates()[1] == 0.5


def small_model() -> ModelConfig:
    return ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=3)


def frontier_config(tmp_path, name: str):
    model = small_model()
    files = (str(SHARED_SAMPLE / "hard_train.csv"), str(SHARED_SAMPLE / "unbiased_1k.csv"))
    return model, tiny_train_config(
        tmp_path, model, name=name, data=files, mix="frontier", steps=10, batch_size=6, log_every=5, checkpoint_every=4
    )


def test_a_frontier_run_logs_its_buckets_and_resumes_exactly(tmp_path):
    model, config = frontier_config(tmp_path, "straight")
    straight = Trainer(model, config, log=lambda line: None)
    straight.run()
    records = [json.loads(line) for line in (tmp_path / "runs" / "straight" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "frontier_share" in r]
    assert len(logged) == 2 and all(len(r["frontier_share"]) == 2 * 4 for r in logged)  # 2 sources x 4 reveals
    assert sum(logged[-1]["frontier_share"]) == pytest.approx(1.0, abs=1e-3)
    assert straight.stream.tries.sum() > 8 * 2  # puzzles left their slots (3 steps at most) and were counted

    _, stopped = frontier_config(tmp_path, "stopped")
    Trainer(model, stopped, log=lambda line: None).run(until=4)
    resumed = Trainer(model, dataclasses.replace(stopped, resume=True), log=lambda line: None)
    resumed.run()
    assert torch.equal(resumed.stream.tries, straight.stream.tries)
    assert torch.equal(resumed.model.lm_head.weight, straight.model.lm_head.weight)


def test_the_reveals_setting_makes_the_buckets_and_a_resume_with_others_restarts_the_frontier(tmp_path):
    model, config = frontier_config(tmp_path, "small reveals")
    config = dataclasses.replace(config, reveals=(0.0, 0.05, 0.1))
    trainer = Trainer(model, config, log=lambda line: None)
    assert trainer.stream.reveals.tolist() == [0.0, 0.05, 0.1]
    trainer.run(until=4)
    lines: list[str] = []
    resumed = Trainer(model, dataclasses.replace(config, resume=True, reveals=(0.0, 0.5)), log=lines.append)
    assert "resuming with other reveals than the checkpoint's ([0.0, 0.05, 0.1]): the frontier restarts" in lines
    assert resumed.stream.tries.tolist() == [2.0] * 4  # 2 sources x 2 reveals, fresh counts
    same: list[str] = []
    Trainer(model, dataclasses.replace(config, resume=True), log=same.append)
    assert not any("reveals" in line for line in same)


@pytest.mark.parametrize("reveals", [(), (0.0, 1.0), (-0.1,), (0.0, 0.2, 0.2)])
def test_reveals_outside_0_to_1_or_repeated_are_refused(tmp_path, reveals):
    with pytest.raises(ValueError, match="reveals must be distinct shares in \\[0, 1\\)"):
        frontier_config(tmp_path, "bad")[1].__class__(reveals=reveals)
