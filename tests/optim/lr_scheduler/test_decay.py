"""StepLR, MultiStepLR, ExponentialLR: hand-computed lr sequences."""

import pytest

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import ExponentialLR, MultiStepLR, StepLR


def lrs(make, steps, lr=1.0):
    """The lr at epoch 0 (after the constructor) and after each of `steps` steps."""
    opt = SGD([mg.tensor([1.0], requires_grad=True)], lr=lr)
    scheduler = make(opt)
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def test_step_lr_decays_every_step_size_epochs():
    assert lrs(lambda o: StepLR(o, step_size=3, gamma=0.5), 7) == pytest.approx(
        [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_multistep_lr_decays_at_milestones_and_twice_at_a_repeated_one():
    values = lrs(lambda o: MultiStepLR(o, milestones=[2, 4, 4], gamma=0.1), 5)
    assert values == pytest.approx([1, 1, 0.1, 0.1, 0.001, 0.001])


def test_exponential_lr_decays_every_epoch():
    assert lrs(lambda o: ExponentialLR(o, gamma=0.9), 3, lr=2.0) == pytest.approx(
        [2.0, 1.8, 1.62, 1.458])


@pytest.mark.parametrize("make", [lambda o: StepLR(o, 3, 0.5),
                                  lambda o: MultiStepLR(o, [1, 4, 4], 0.5),
                                  lambda o: ExponentialLR(o, 0.8)])
def test_recursive_steps_agree_with_the_closed_form(make):
    opt = SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    scheduler = make(opt)
    for _ in range(9):
        opt.step()
        scheduler.step()
        assert scheduler.get_last_lr() == pytest.approx(scheduler._get_closed_form_lr(),
                                                        rel=1e-12)
