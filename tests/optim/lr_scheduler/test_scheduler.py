"""The `LRScheduler` protocol: initial step, get_last_lr, warnings, resume, state dicts."""

import copy
import warnings

import pytest

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import ExponentialLR, LRScheduler, StepLR


def sgd(*lrs):
    return SGD([{"params": [mg.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs])


def test_constructor_records_initial_lr_and_takes_the_initial_step():
    opt = sgd(0.1, 0.01)
    scheduler = ExponentialLR(opt, gamma=0.5)
    assert scheduler.base_lrs == [0.1, 0.01]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert scheduler.last_epoch == 0 and scheduler.get_last_lr() == [0.1, 0.01]
    opt.step()
    scheduler.step()
    assert scheduler.last_epoch == 1 and scheduler.get_last_lr() == [0.05, 0.005]
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.005]


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        StepLR([], step_size=1)


def test_base_get_lr_is_abstract():
    with pytest.raises(NotImplementedError, match="LRScheduler does not implement get_lr"):
        LRScheduler(sgd(0.1))


def test_warns_when_stepped_before_the_optimizer():
    opt = sgd(0.1)
    scheduler = StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        scheduler.step()
    opt2 = sgd(0.1)
    scheduler2 = StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler2.step()


def test_the_step_wrapper_is_installed_once_and_keeps_the_optimizer_working():
    p = mg.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.5)
    StepLR(opt, 1)
    StepLR(opt, 2)
    p.grad = mg.tensor([1.0])
    assert opt.step() is None
    assert p.item() == 0.5 and opt._opt_called is True


def test_a_deep_copied_optimizer_steps_itself_not_the_original():
    p = mg.tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.5)
    StepLR(opt, 1)
    clone = copy.deepcopy(opt)
    q = clone.param_groups[0]["params"][0]
    q.grad = mg.tensor([1.0])
    clone.step()
    assert q.item() == 0.5 and p.item() == 1.0


def test_resuming_needs_initial_lr_in_the_groups():
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"
                                       r" when resuming a scheduler with last_epoch=4"):
        StepLR(sgd(0.1), step_size=2, last_epoch=4)


def test_resume_from_last_epoch_keeps_the_loaded_lr():
    opt = sgd(0.1)
    for group in opt.param_groups:
        group["initial_lr"], group["lr"] = 0.1, 0.025
    scheduler = ExponentialLR(opt, gamma=0.5, last_epoch=2)
    assert scheduler.get_last_lr() == [0.025] and scheduler.last_epoch == 3


def test_step_with_an_epoch_warns_and_uses_the_closed_form():
    opt = sgd(1.0)
    scheduler = StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(5)
    assert scheduler.last_epoch == 5 and scheduler.get_last_lr() == [0.25]


def test_state_dict_has_everything_but_the_optimizer_and_round_trips():
    opt = sgd(1.0)
    scheduler = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        scheduler.step()
    state = scheduler.state_dict()
    assert "optimizer" not in state
    assert state["last_epoch"] == 3 and state["base_lrs"] == [1.0] and state["step_size"] == 2
    other = StepLR(sgd(1.0), step_size=7)
    other.load_state_dict(state)
    assert other.last_epoch == 3 and other.step_size == 2 and other.get_last_lr() == [0.5]
