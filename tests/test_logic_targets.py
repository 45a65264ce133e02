"""Rounds of logic (sudoku/logic.py) and the per-step targets made from them (training/targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sudoku_trm.model.tokens import to_tokens
from sudoku_trm.sudoku import solver
from sudoku_trm.sudoku.grid import CELLS
from sudoku_trm.sudoku.logic import logic_rounds
from sudoku_trm.sudoku.puzzle_sets import load_puzzle_set
from sudoku_trm.training.targets import cell_weights, rounds_of

SOLUTION = np.array(
    [int(c) for c in "534678912672195348198342567859761423426853791713924856961537284287419635345286179"],
    dtype=np.uint8,
)


def test_one_blank_is_placed_in_round_one():
    puzzle = SOLUTION.copy()
    puzzle[40] = 0
    rounds, solved, stall = logic_rounds(puzzle[None])
    assert solved[0] and stall[0] == 1
    assert rounds[0, 40] == 1 and (np.delete(rounds[0], 40) == 0).all()


def test_two_blanks_of_one_row_are_both_placed_in_round_one():
    puzzle = SOLUTION.copy()
    puzzle[[0, 1]] = 0
    rounds, solved, _ = logic_rounds(puzzle[None])
    assert solved[0] and rounds[0, 0] == 1 and rounds[0, 1] == 1


def test_a_round_later_is_a_round_later(shared_sample):
    """The puzzle after round 1 (its round-1 cells given) needs one round less for every other cell: rounds
    are waves of placements, each computed from the grid as the round starts."""
    puzzles = load_puzzle_set(str(shared_sample / "clue17.csv")).subset(np.arange(30))
    rounds, solved, stall = logic_rounds(puzzles.questions)
    assert stall.max() >= 4
    after_one = np.where(rounds <= 1, puzzles.answers, 0)
    again, _, stall_again = logic_rounds(after_one)
    placed = rounds <= stall[:, None]
    assert (again[placed] <= np.maximum(rounds[placed].astype(int) - 1, 0)).all()
    assert (stall_again <= np.maximum(stall - 1, 0)).all()


def test_rounds_agree_with_the_exact_solver_on_what_logic_reaches(shared_sample):
    puzzles = load_puzzle_set(str(shared_sample / "unbiased_1k.csv"))
    rounds, solved, stall = logic_rounds(puzzles.questions)
    _, _, guesses = solver.analyse_batch(puzzles.questions)
    # The solver counts no guess exactly when its logic (the same deductions) finishes the puzzle.
    assert (solved == (guesses == 0)).all()
    assert 0 < solved.mean() < 1  # the sample holds both kinds
    # A never-placed cell counts from the round after the stall; givens are round 0.
    assert ((rounds == 0) == (puzzles.questions > 0)).all()
    unsolved = ~solved
    assert (rounds[unsolved].max(1) == stall[unsolved] + 1).all()
    assert (rounds[solved].max(1) == stall[solved]).all()


def test_the_cells_placed_by_round_k_are_the_solutions_digits(shared_sample):
    """Logic never places a wrong digit: replaying the placements round by round stays consistent with the
    listed answer (checked through the solver: the grid after k rounds still has exactly one solution)."""
    puzzles = load_puzzle_set(str(shared_sample / "clue17.csv")).subset(np.arange(20))
    rounds, solved, stall = logic_rounds(puzzles.questions)
    for i in range(len(puzzles)):
        for k in range(1, int(stall[i]) + 1):
            grid = np.where(rounds[i] <= k, puzzles.answers[i], 0).astype(np.uint8)
            assert solver.count_solutions(grid) == 1
            placed_now = rounds[i] == k
            assert placed_now.any()


def test_contradictory_givens_are_flagged():
    puzzle = np.zeros(CELLS, dtype=np.uint8)
    puzzle[0] = puzzle[1] = 5  # the same digit twice in row 1
    _, solved, stall = logic_rounds(puzzle[None])
    assert stall[0] == -1 and not solved[0]


def test_step_weights_follow_the_rounds():
    rounds = torch.tensor([[0, 1, 2, 3, 4, 5] + [0] * 75])
    weights = cell_weights(rounds, torch.tensor([1]), rounds_per_step=2, pending_weight=0.25)
    assert weights[0, :6].tolist() == [1.0, 1.0, 1.0, 0.25, 0.25, 0.25]
    weights = cell_weights(rounds, torch.tensor([2]), rounds_per_step=2, pending_weight=0.0)
    assert weights[0, :6].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    weights = cell_weights(rounds, torch.tensor([3]), rounds_per_step=2, pending_weight=0.0)
    assert (weights == 1).all()


def test_rounds_of_token_rows_match_the_grids(shared_sample):
    puzzles = load_puzzle_set(str(shared_sample / "clue17.csv")).subset(np.arange(8))
    tokens = to_tokens(torch.from_numpy(puzzles.questions).long())
    got = rounds_of(tokens)
    want, _, _ = logic_rounds(puzzles.questions)
    assert got.dtype == torch.int64 and (got.numpy() == want).all()


@pytest.mark.parametrize("bad", [np.full((1, 80), 0), np.full((1, 81), 10)])
def test_bad_grids_are_refused(bad):
    with pytest.raises(ValueError):
        logic_rounds(bad)


def test_unknown_pending_cells_are_asked_for_an_even_spread(shared_sample):
    from sudoku_trm.training.losses import spread_cross_entropy, supervision_loss
    from sudoku_trm.training.targets import NEVER_REACHED, reached

    puzzles = load_puzzle_set(str(shared_sample / "hard_train.csv")).subset(np.arange(4))  # logic places none
    tokens = to_tokens(torch.from_numpy(puzzles.questions).long())
    rounds = rounds_of(tokens, never_reached=True)
    assert ((rounds == NEVER_REACHED) == (tokens == 1)).all()  # every blank stays unknown at every step
    unknown = ~reached(rounds, torch.full((4,), 16), rounds_per_step=2)
    assert (unknown == (tokens == 1)).all()
    # The spread's loss is least at 1/9 on each digit, whatever the label.
    even = torch.full((1, 1, 11), -30.0)
    even[..., 2:11] = 0.0
    sure = even.clone()
    sure[..., 5] = 8.0
    assert spread_cross_entropy(even).item() == pytest.approx(np.log(9), abs=1e-4)
    assert spread_cross_entropy(sure).item() > spread_cross_entropy(even).item() + 1
    labels = to_tokens(torch.from_numpy(puzzles.answers).long())
    logits = torch.randn(4, 81, 11)
    ones = torch.ones(4)
    loss = supervision_loss(logits, torch.zeros(4), labels, ones, 0.0, "softmax", unknown=unknown).total
    shuffled = labels.clone()
    shuffled[unknown] = 2 + (labels[unknown] - 1) % 9  # other digits where the target is the spread
    again = supervision_loss(logits, torch.zeros(4), shuffled, ones, 0.0, "softmax", unknown=unknown).total
    assert torch.allclose(loss, again)
