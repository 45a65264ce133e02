"""The model shipped in weights/ is the one its card describes, and it is trained, not random."""

import json
from pathlib import Path

import numpy as np

from sudoku_trm.inference.engine import solve
from sudoku_trm.model.weights import DEFAULT_WEIGHTS_DIR, load_weights
from sudoku_trm.sudoku.puzzles import read_puzzles

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_weights_load_strictly_and_match_their_card():
    model = load_weights(DEFAULT_WEIGHTS_DIR)
    config = json.loads((DEFAULT_WEIGHTS_DIR / "config.json").read_text())
    assert model.config.to_dict() == config
    card = (DEFAULT_WEIGHTS_DIR / "README.md").read_text()
    assert f"{model.count_parameters():,} parameters" in card
    assert card.startswith("---\n")  # Hub metadata block


def test_shipped_model_fills_blank_cells_far_better_than_chance():
    """An untrained model gets ~1 blank cell in 9 right; the shipped one must have learned the rules' basics."""
    puzzles = read_puzzles(ROOT / "puzzles" / "easy.txt").puzzles
    grids = np.stack([p.grid for p in puzzles])
    answers = np.stack([p.answer for p in puzzles]) if all(p.answer is not None for p in puzzles) else None
    if answers is None:
        from sudoku_trm.sudoku.solver import solve as exact

        answers = np.stack([exact(g) for g in grids])
    result = solve(load_weights(DEFAULT_WEIGHTS_DIR), grids)
    blanks = grids == 0
    accuracy = float((result.answers == answers)[blanks].mean())
    assert accuracy > 0.35, accuracy


def test_shipped_model_solves_easy_puzzles_by_commit_decoding_as_its_card_says():
    """The card: all 6 easy sample puzzles by commit decoding, with no guess and no exact solver."""
    from sudoku_trm.inference.commit import solve_committed
    from sudoku_trm.sudoku.grid import valid_solutions

    grids = np.stack([p.grid for p in read_puzzles(ROOT / "puzzles" / "easy.txt").puzzles])
    result = solve_committed(load_weights(DEFAULT_WEIGHTS_DIR), grids)
    assert valid_solutions(grids, result.solutions.answers).sum() == 6
    assert "6 of 6" in (DEFAULT_WEIGHTS_DIR / "README.md").read_text()
