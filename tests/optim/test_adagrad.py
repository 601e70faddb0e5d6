"""Adagrad: state from the constructor, the summed squares, lr decay, errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import Adagrad


def param(values):
    return mg.tensor(values, dtype=mg.float64, requires_grad=True)


def test_state_is_created_in_the_constructor_as_in_pytorch():
    p = param([1.0, 2.0])
    opt = Adagrad([p], initial_accumulator_value=0.5)
    assert opt.state[p]["step"] == 0
    np.testing.assert_array_equal(opt.state[p]["sum"].numpy(), [0.5, 0.5])
    assert opt.state[p]["sum"].dtype == mg.float64


def test_first_step_is_lr_times_the_sign():
    p = param([0.0, 0.0])
    opt = Adagrad([p], lr=0.1)
    p.grad = mg.tensor([2.0, -0.5], dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(p.numpy(force=True), [-0.1 * 2 / (2 + 1e-10), 0.1 * 0.5 / (0.5 + 1e-10)],
                               rtol=1e-15)


def test_second_step_with_lr_decay_and_accumulated_squares():
    p = param([0.0])
    opt = Adagrad([p], lr=0.1, lr_decay=0.5, eps=0.0, initial_accumulator_value=1.0)
    for g in (1.0, 2.0):
        p.grad = mg.tensor([g], dtype=mg.float64)
        opt.step()
    theta1 = -0.1 * 1.0 / np.sqrt(1.0 + 1.0)
    theta2 = theta1 - 0.1 / (1 + 0.5) * 2.0 / np.sqrt(1.0 + 1.0 + 4.0)
    np.testing.assert_allclose(p.numpy(force=True), [theta2], rtol=1e-15)
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["sum"].numpy(), [6.0])


def test_weight_decay_and_maximize():
    p = param([1.0])
    opt = Adagrad([p], lr=0.1, eps=0.0, weight_decay=0.5, maximize=True)
    p.grad = mg.tensor([2.0], dtype=mg.float64)
    opt.step()  # g = -2 + 0.5 * 1 = -1.5: a step of lr * sign = +0.1
    np.testing.assert_allclose(p.numpy(force=True), [1.1], rtol=1e-15)


def test_a_group_added_later_gets_its_state_at_its_first_step():
    p, q = param([1.0]), param([1.0])
    opt = Adagrad([p], lr=0.1, initial_accumulator_value=0.25)
    opt.add_param_group({"params": [q]})
    assert q not in opt.state
    q.grad = mg.tensor([1.0], dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(opt.state[q]["sum"].numpy(), [1.25])
    assert opt.state[p]["step"] == 0  # p had no gradient


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -0.1}, "Invalid learning rate: -0.1"),
    ({"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"initial_accumulator_value": -1.0}, "Invalid initial_accumulator_value value: -1.0"),
    ({"eps": -1e-10}, "Invalid epsilon value: -1e-10"),
])
def test_invalid_hyper_parameters_raise_pytorchs_messages(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        Adagrad([param([1.0])], **kwargs)
