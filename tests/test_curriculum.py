"""CGAR curricula: the depth schedule (PDC) and the supervision-step weights (HSW)."""

from __future__ import annotations

import pytest
import torch

from sudoku_trm.training.curriculum import (
    Curriculum,
    CurriculumPlan,
    DepthSchedule,
    batch_step_weight,
    block_applications,
    step_weights,
)


@pytest.mark.parametrize(
    "progress, depth",
    [
        (0.0, (1, 2)),
        (0.29, (1, 2)),
        (0.3, (2, 4)),
        (0.59, (2, 4)),
        (0.6, (3, 6)),
        (1.0, (3, 6)),
        (-0.5, (1, 2)),
        (1.5, (3, 6)),
    ],
)
def test_default_depth_schedule(progress, depth):
    assert DepthSchedule().depth_at(progress) == depth


def test_custom_boundaries_and_validation():
    schedule = DepthSchedule(boundaries=[0.5], depths=[[2, 3], [3, 6]])
    assert schedule.depth_at(0.49) == (2, 3) and schedule.depth_at(0.5) == (3, 6)
    assert schedule.full_depth == (3, 6)
    with pytest.raises(ValueError, match="depths"):
        DepthSchedule(boundaries=(0.5,), depths=((1, 2),))
    with pytest.raises(ValueError, match="increase"):
        DepthSchedule(boundaries=(0.6, 0.3))
    with pytest.raises(ValueError):
        DepthSchedule().depth_at(float("nan"))


def test_block_applications_and_pdc_saving():
    assert [block_applications(h, l) for h, l in DepthSchedule().depths] == [6, 20, 42]
    schedule = DepthSchedule()
    assert schedule.mean_block_applications() == pytest.approx(0.3 * 6 + 0.3 * 20 + 0.4 * 42)
    assert round(100 * schedule.saving(), 1) == 41.4  # design.md's figure


def test_hsw_weights_decay_and_sum_to_one():
    steps = torch.arange(1, 17)
    weights = step_weights(steps)
    norm = (1 - 0.7**16) / 0.3
    assert weights[0].item() == pytest.approx(0.3 / (1 - 0.7**16))
    assert weights[1].item() == pytest.approx(0.7 / norm)
    assert weights[15].item() == pytest.approx(0.7**15 / norm)
    assert weights.sum().item() == pytest.approx(1.0)
    assert torch.all(weights[1:] < weights[:-1])
    assert step_weights(steps, decay=1.0).tolist() == pytest.approx([1 / 16] * 16)


def test_hsw_weights_each_sample_at_its_own_step():
    steps = torch.tensor([1, 5, 1, 16])
    weights = step_weights(steps)
    table = step_weights(torch.arange(1, 17))
    assert torch.equal(weights, table[steps - 1])
    assert weights.shape == (4,) and weights.dtype == torch.float32


def test_batch_variant_is_one_scalar_for_the_batch():
    steps = torch.tensor([1, 3])
    assert batch_step_weight(steps).item() == pytest.approx(0.7**2)
    plan = CurriculumPlan(Curriculum.HSW, hsw_variant="batch")
    assert plan.weights(steps).tolist() == pytest.approx([0.49, 0.49])


def test_curriculum_switches():
    steps = torch.tensor([1, 2, 16])
    none = CurriculumPlan("none")
    assert none.curriculum is Curriculum.NONE
    assert none.depth_at(0.0) == none.depth_at(0.5) == (3, 6)
    assert torch.equal(none.weights(steps), torch.ones(3))

    pdc = CurriculumPlan(Curriculum.PDC)
    assert pdc.depth_at(0.1) == (1, 2) and torch.equal(pdc.weights(steps), torch.ones(3))

    hsw = CurriculumPlan(Curriculum.HSW)
    assert hsw.depth_at(0.1) == (3, 6) and torch.equal(hsw.weights(steps), step_weights(steps))

    cgar = CurriculumPlan()
    assert cgar.curriculum is Curriculum.CGAR
    assert cgar.depth_at(0.1) == (1, 2) and torch.equal(cgar.weights(steps), step_weights(steps))
    assert all(plan.eval_depth == (3, 6) for plan in (none, pdc, hsw, cgar))

    with pytest.raises(ValueError):
        CurriculumPlan("fast")
