"""What `download` fetches by default. Plain values, importable without huggingface_hub or torch, so the
command line can show them in `--help` cheaply."""

from pathlib import Path

DEFAULT_WEIGHTS_REPO = "Kaleemullah/trm-cgar-sudoku"  # the CGAR Sudoku model (a TRM reference checkpoint)
DEFAULT_DATA_REPO = "sapientinc/sudoku-extreme"
DEFAULT_DATA_DIR = Path("data") / "sudoku-extreme"
DATA_FILES = ("train.csv", "test.csv")
