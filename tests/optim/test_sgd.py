"""SGD: hand-computed steps for each option, errors, and what it leaves untouched."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import SGD


def param(values, dtype=mg.float64):
    return mg.tensor(values, dtype=dtype, requires_grad=True)


def run(p, grads, **kwargs):
    """One step per gradient in `grads`; the parameter's values after each."""
    opt = SGD([p], **kwargs)
    values = []
    for g in grads:
        p.grad = mg.tensor(g, dtype=p.dtype)
        opt.step()
        values.append(p.numpy(force=True).copy())
    return values


def test_plain_step_is_theta_minus_lr_grad():
    (after,) = run(param([1.0, 2.0]), [[0.5, -1.0]], lr=0.1)
    np.testing.assert_allclose(after, [0.95, 2.1], rtol=1e-15)


def test_default_lr_is_pytorch_2s_1e_3():
    (after,) = run(param([1.0]), [[1.0]])
    np.testing.assert_allclose(after, [0.999], rtol=1e-15)


def test_heavy_ball_momentum_two_steps():
    # b1 = g = 1 -> 1 - 0.1 = 0.9; b2 = 0.9 * 1 + 1 = 1.9 -> 0.9 - 0.19 = 0.71
    values = run(param([1.0]), [[1.0], [1.0]], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(np.ravel(values), [0.9, 0.71], rtol=1e-14)


def test_dampening_skips_the_first_step_as_in_pytorch():
    # b1 = g (undamped); b2 = 0.9 * 1 + (1 - 0.5) * 1 = 1.4 -> 0.9 - 0.14 = 0.76
    values = run(param([1.0]), [[1.0], [1.0]], lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_allclose(np.ravel(values), [0.9, 0.76], rtol=1e-14)


def test_nesterov_looks_ahead_along_the_buffer():
    # step 1: b = 1, d = 1 + 0.9 * 1 = 1.9 -> 0.81; step 2: b = 1.9, d = 1 + 0.9 * 1.9 = 2.71
    values = run(param([1.0]), [[1.0], [1.0]], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(np.ravel(values), [0.81, 0.81 - 0.271], rtol=1e-14)


def test_weight_decay_adds_lambda_theta_to_the_gradient():
    (after,) = run(param([2.0]), [[1.0]], lr=0.1, weight_decay=0.1)  # d = 1 + 0.2
    np.testing.assert_allclose(after, [2.0 - 0.12], rtol=1e-15)


def test_maximize_climbs():
    (after,) = run(param([1.0, 1.0]), [[1.0, -2.0]], lr=0.1, maximize=True)
    np.testing.assert_allclose(after, [1.1, 0.8], rtol=1e-15)


def test_the_gradient_and_dtype_are_left_untouched():
    p = param([1.0, 2.0], dtype=mg.float32)
    grad = mg.tensor([0.5, -1.0])
    p.grad = grad
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)
    opt.step()
    opt.step()
    assert p.grad is grad
    np.testing.assert_array_equal(grad.numpy(), [0.5, -1.0])
    assert p.data.dtype == np.float32
    assert opt.state[p]["momentum_buffer"].data.dtype == np.float32


def test_lr_is_read_from_the_group_at_every_step():
    p = param([1.0])
    opt = SGD([p], lr=0.1)
    p.grad = mg.tensor([1.0], dtype=mg.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.numpy(force=True), [1.0 - 0.1 - 0.5], rtol=1e-15)


def test_state_holds_a_momentum_buffer_only_with_momentum():
    p, q = param([1.0]), param([1.0])
    plain, heavy = SGD([p], lr=0.1), SGD([q], lr=0.1, momentum=0.5)
    p.grad, q.grad = mg.tensor([2.0]), mg.tensor([2.0])
    plain.step()
    heavy.step()
    assert dict(plain.state) == {}
    buf = heavy.state[q]["momentum_buffer"]
    assert isinstance(buf, mg.Tensor) and buf.data is not q.grad.data
    np.testing.assert_array_equal(buf.numpy(), [2.0])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -0.1}, "Invalid learning rate: -0.1"),
    ({"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ({"weight_decay": -1e-4}, "Invalid weight_decay value: -0.0001"),
    ({"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "Nesterov momentum requires a momentum and zero dampening"),
])
def test_invalid_hyper_parameters_raise_pytorchs_messages(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        SGD([param([1.0])], **kwargs)
