"""Shared test fixtures: paths to the committed data samples."""

from pathlib import Path

import numpy as np
import pytest

from sudoku_trm.sudoku.grid import CELLS

ROOT = Path(__file__).resolve().parent.parent
PUZZLES = ROOT / "puzzles"  # the committed sample puzzles: tests name them from here, never from the working directory
SHARED_SAMPLE = ROOT / "tests" / "fixtures" / "shared_sample"
TRAIN_FILES = tuple(str(SHARED_SAMPLE / name) for name in ("unbiased_1k.csv", "clue17.csv", "hard_train.csv"))


# Hand-made grids, for tests that place a few digits by cell name.


def at(row: int, col: int) -> int:
    """The cell r<row>c<col> (1-based), as an index 0..80."""
    return 9 * (row - 1) + col - 1


def grid_with(**cells: int) -> np.ndarray:
    """An (81,) grid holding digits at cells named like r1c9=5."""
    grid = np.zeros(CELLS, dtype=np.uint8)
    for name, digit in cells.items():
        grid[at(int(name[1]), int(name[3]))] = digit
    return grid


def tiny_train_config(tmp_path: Path, model, **overrides):
    """A small CPU training run on the fixture sample: no dev set, no curriculum (one stage at the model's
    full depth), no periodic evaluation or checkpoint. Each test file passes the settings it varies."""
    from sudoku_trm.training.config import TrainConfig

    values: dict = dict(
        name="run",
        runs_dir=str(tmp_path / "runs"),
        data=TRAIN_FILES,
        dev=None,
        dev_limit=None,
        curriculum="none",
        pdc_boundaries=(),
        pdc_depths=((model.H_cycles, model.L_cycles),),
        steps=10,
        batch_size=4,
        lr=1e-3,
        warmup_steps=2,
        weight_decay=0.1,
        ema_decay=0.9,
        device="cpu",
        compile=False,
        log_every=10**6,
        eval_every=0,
        checkpoint_every=10**6,
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(autouse=True)
def away_from_the_repository(tmp_path_factory, monkeypatch) -> None:
    """Every test runs in an empty directory of its own, so a path taken relative to the working
    directory fails here, at once, as it would for `python -m pytest <repo>/tests` run from elsewhere."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def shared_sample() -> Path:
    """A seeded sample of ../shared/data (100 puzzles per CSV): present on every clone, unlike ../shared."""
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """An exported, untrained TRM small enough to solve a file in a second: for the CLI's mechanics."""
    import torch

    from sudoku_trm.model.config import ModelConfig
    from sudoku_trm.model.trm import TRM
    from sudoku_trm.model.weights import export_weights

    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden_size=16, H_cycles=1, L_cycles=1, halt_max_steps=3))
    with torch.no_grad():  # a halting head that varies with the puzzle, so some halt before the limit
        model.q_head.weight.normal_(0, 2.0)
        model.q_head.bias.zero_()
    directory = tmp_path_factory.mktemp("tiny-weights")
    export_weights(model, directory)
    return directory


@pytest.fixture(scope="session")
def solver_weights() -> Path:
    """The committed tiny model that really solves easy puzzles (tests/fixtures/solver_model, made by
    tests/fixtures/make_solver_model.py): for correct answers, halting and voting."""
    return ROOT / "tests" / "fixtures" / "solver_model"
