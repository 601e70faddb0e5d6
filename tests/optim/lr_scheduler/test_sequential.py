"""SequentialLR: warm-up then cosine, hand-off at milestones, validation, state dicts."""

import math

import pytest

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    SequentialLR,
    StepLR,
)


def sgd(lr=0.1):
    return SGD([mg.tensor([1.0], requires_grad=True)], lr=lr)


def test_linear_warm_up_then_cosine():
    opt = sgd()
    warmup = LinearLR(opt, start_factor=0.1, total_iters=4)
    cosine = CosineAnnealingLR(opt, T_max=6)
    schedule = SequentialLR(opt, [warmup, cosine], milestones=[4])
    lrs = [schedule.get_last_lr()[0]]
    for _ in range(10):
        opt.step()
        schedule.step()
        lrs.append(schedule.get_last_lr()[0])
    assert lrs[:5] == pytest.approx([0.01, 0.0325, 0.055, 0.0775, 0.1])
    expected_cosine = [0.1 * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(7)]
    assert lrs[4:] == pytest.approx(expected_cosine, abs=1e-15)


def test_each_scheduler_restarts_from_the_base_lr_at_its_milestone():
    opt = sgd(1.0)
    schedule = SequentialLR(opt, [ExponentialLR(opt, 0.5), StepLR(opt, 2, 0.1)],
                            milestones=[3])
    lrs = [schedule.get_last_lr()[0]]
    for _ in range(5):
        opt.step()
        schedule.step()
        lrs.append(schedule.get_last_lr()[0])
    assert lrs == pytest.approx([1.0, 0.5, 0.25, 1.0, 1.0, 0.1])


def test_validation():
    opt, other = sgd(), sgd()
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="same optimizer.*StepLR at index 1"):
        SequentialLR(opt, [StepLR(opt, 1), StepLR(other, 1)], milestones=[2])
    with pytest.raises(ValueError, match="number of schedulers 2 and the number of milestones "
                                         "to be equal to 2"):
        SequentialLR(opt, [StepLR(opt, 1), StepLR(opt, 1)], milestones=[2, 3])


def test_state_dict_nests_the_inner_schedulers():
    opt = sgd()
    schedule = SequentialLR(opt, [LinearLR(opt, 0.5, total_iters=2), ExponentialLR(opt, 0.9)],
                            milestones=[2])
    for _ in range(3):
        opt.step()
        schedule.step()
    state = schedule.state_dict()
    assert "optimizer" not in state and len(state["_schedulers"]) == 2
    assert state["_schedulers"][1]["gamma"] == 0.9 and state["last_epoch"] == 3
    opt2 = sgd()
    fresh = SequentialLR(opt2, [LinearLR(opt2, 0.5, total_iters=2), ExponentialLR(opt2, 0.9)],
                         milestones=[2])
    fresh.load_state_dict(state)
    assert fresh.last_epoch == 3 and fresh._schedulers[1].last_epoch == 1
