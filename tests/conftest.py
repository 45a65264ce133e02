"""Shared test fixtures: paths to the committed data samples."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SAMPLE = ROOT / "tests" / "fixtures" / "shared_sample"


@pytest.fixture
def shared_sample() -> Path:
    """A seeded sample of ../shared/data (100 puzzles per CSV): present on every clone, unlike ../shared."""
    return SHARED_SAMPLE
