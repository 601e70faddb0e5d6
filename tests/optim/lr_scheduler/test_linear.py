"""LinearLR: linear warm-up and linear decay, then constant."""

import pytest

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import LinearLR


def lrs(steps, **kwargs):
    opt = SGD([mg.tensor([1.0], requires_grad=True)], lr=0.1)
    scheduler = LinearLR(opt, **kwargs)
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def test_warm_up_from_a_quarter_to_the_full_lr_in_four_steps():
    assert lrs(6, start_factor=0.25, total_iters=4) == pytest.approx(
        [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1], rel=1e-12)


def test_decay_to_end_factor():
    assert lrs(3, start_factor=1.0, end_factor=0.5, total_iters=2) == pytest.approx(
        [0.1, 0.075, 0.05, 0.05], rel=1e-12)


def test_factor_ranges_are_checked():
    opt = SGD([mg.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="greater than 0 and less or equal to 1, got "
                                         "start_factor=0"):
        LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="between 0 and 1, got end_factor=1.5"):
        LinearLR(opt, end_factor=1.5)
