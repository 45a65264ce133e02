"""Shared test fixtures: paths to the committed data samples."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SAMPLE = ROOT / "tests" / "fixtures" / "shared_sample"


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
