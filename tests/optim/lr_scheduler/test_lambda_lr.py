"""LambdaLR: base_lr times your function; state dicts leave functions out."""

import pytest

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import LambdaLR


def two_groups():
    return SGD([{"params": [mg.tensor([1.0], requires_grad=True)], "lr": 1.0},
                {"params": [mg.tensor([1.0], requires_grad=True)], "lr": 0.5}])


def test_one_lambda_for_all_groups_or_one_per_group():
    opt = two_groups()
    scheduler = LambdaLR(opt, [lambda e: 0.5**e, lambda e: e + 1])
    assert scheduler.get_last_lr() == [1.0, 0.5]
    opt.step()
    scheduler.step()
    opt.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [0.25, 1.5]
    assert LambdaLR(two_groups(), lambda e: 2.0).get_last_lr() == [2.0, 1.0]


def test_wrong_number_of_lambdas():
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        LambdaLR(two_groups(), [lambda e: 1.0])


class Warmup:
    """A callable object: its attributes are state, saved by state_dict."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


def test_state_dict_leaves_functions_out_and_keeps_callable_objects_state():
    opt = two_groups()
    scheduler = LambdaLR(opt, [lambda e: 1.0, Warmup(4)])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 4}] and "optimizer" not in state
    other = LambdaLR(two_groups(), [lambda e: 1.0, Warmup(10)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].steps == 4
    assert state["lr_lambdas"] == [None, {"steps": 4}]  # the dict given is left as it was
