"""The loss of one supervision step (training/losses.py) on hand-computed values: label smoothing under
stable-max, the even spread asked of unknown cells under either readout, per-cell weights and the halt term."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sudoku_trm.model.readout import log_stablemax
from sudoku_trm.model.tokens import DIGIT_TOKENS
from sudoku_trm.training.losses import cell_cross_entropy, spread_cross_entropy, supervision_loss


def test_label_smoothing_under_stable_max_mixes_in_the_mean_over_the_vocabulary():
    logits = torch.tensor([[2.0, 0.0, -1.0]])  # s = (3, 1, 0.5), sum 4.5
    log_p = torch.log(torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64) / 4.5)
    plain = cell_cross_entropy(logits, torch.tensor([1]), "stablemax")
    smoothed = cell_cross_entropy(logits, torch.tensor([1]), "stablemax", 0.3)
    torch.testing.assert_close(plain, -log_p[1:2])
    torch.testing.assert_close(smoothed, 0.7 * -log_p[1:2] - 0.3 * log_p.mean().reshape(1))
    with pytest.raises(ValueError, match="loss must be stablemax or softmax, got 'hinge'"):
        cell_cross_entropy(logits, torch.tensor([1]), "hinge")


@pytest.mark.parametrize("loss", ["softmax", "stablemax"])
def test_the_even_spread_is_scored_over_the_nine_digits_by_the_readout_trained(loss):
    logits = torch.randn(2, 81, 11) * 3
    read = log_stablemax(logits.double()) if loss == "stablemax" else F.log_softmax(logits, -1)
    want = -read[..., DIGIT_TOKENS].mean(-1)
    torch.testing.assert_close(spread_cross_entropy(logits, loss).double(), want.double())
    default = -F.log_softmax(logits, -1)[..., DIGIT_TOKENS].mean(-1)  # softmax unless told
    assert spread_cross_entropy(logits).double().allclose(default.double())


def test_cell_weights_unknown_cells_and_the_halt_term_add_up_as_documented():
    torch.manual_seed(0)
    logits = torch.randn(2, 81, 11)
    labels = torch.randint(2, 11, (2, 81))
    halt = torch.tensor([1.5, -0.5])
    weights = torch.rand(2, 81)
    unknown = torch.zeros(2, 81, dtype=torch.bool)
    unknown[0, :10] = True
    samples = torch.tensor([1.0, 3.0])
    got = supervision_loss(logits, halt, labels, samples, 0.25, "softmax", 0.0, weights, unknown)
    cells = F.cross_entropy(logits.view(-1, 11), labels.view(-1), reduction="none").view(2, 81)
    spread = -F.log_softmax(logits, -1)[..., DIGIT_TOKENS].mean(-1)
    cells = torch.where(unknown, spread, cells)
    correct = (logits.argmax(-1) == labels).all(-1).float()
    bce = F.binary_cross_entropy_with_logits(halt, correct, reduction="none")
    want = (samples * ((cells * weights).mean(-1) + 0.25 * bce)).mean()
    torch.testing.assert_close(got.total, want)
    assert math.isfinite(got.total.item())


@pytest.mark.parametrize("loss", ["softmax", "stablemax"])
def test_the_step_loss_smooths_labels_and_spreads_unknown_cells_with_the_loss_asked(loss):
    torch.manual_seed(1)
    logits = torch.randn(2, 81, 11) * 2
    labels = torch.randint(2, 11, (2, 81))
    unknown = torch.zeros(2, 81, dtype=torch.bool)
    unknown[1, 40:] = True
    got = supervision_loss(logits, torch.zeros(2), labels, torch.ones(2), 0.0, loss, 0.2, None, unknown).total
    cells = cell_cross_entropy(logits, labels, loss, 0.2)
    cells = torch.where(unknown, spread_cross_entropy(logits, loss).to(cells.dtype), cells)
    torch.testing.assert_close(got, cells.mean(-1).float().mean())
