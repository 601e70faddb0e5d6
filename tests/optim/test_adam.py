"""Adam: the first step is ~lr * sign(g); bias correction, AMSGrad, L2, maximize, errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import Adam


def param(values, dtype=mg.float64):
    return mg.tensor(values, dtype=dtype, requires_grad=True)


def run(p, grads, **kwargs):
    opt = Adam([p], **kwargs)
    values = []
    for g in grads:
        p.grad = mg.tensor(g, dtype=p.dtype)
        opt.step()
        values.append(p.numpy(force=True).copy())
    return values, opt


def reference_adam(theta, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False):
    """Kingma & Ba (2015), Algorithm 1, written out in float64."""
    theta = np.array(theta, dtype=np.float64)
    m = v = v_max = np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=np.float64), start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def test_first_step_moves_each_coordinate_by_about_lr_against_the_gradient_sign():
    # m_hat = g and v_hat = g^2 at t = 1, so the step is lr * g / (|g| + eps)
    g = [0.5, -2.0, 1e-3, 30.0]
    (after,), _ = run(param([0.0, 0.0, 0.0, 0.0]), [g], lr=0.1)
    np.testing.assert_allclose(after, [-0.1, 0.1, -0.1, -0.1], rtol=1e-4)
    np.testing.assert_allclose(after, -0.1 * np.array(g) / (np.abs(g) + 1e-8), rtol=1e-13)


def test_later_steps_follow_algorithm_1_with_bias_correction():
    grads = [[1.0, -0.5], [0.2, -0.5], [-3.0, 0.1], [0.4, 0.0]]
    values, _ = run(param([1.0, 2.0]), grads, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for t in range(1, len(grads) + 1):
        expected = reference_adam([1.0, 2.0], grads[:t], 0.05, 0.8, 0.99, 1e-6)
        np.testing.assert_allclose(values[t - 1], expected, rtol=1e-13)


def test_amsgrad_normalizes_by_the_largest_second_moment():
    grads = [[10.0], [0.1], [0.1]]
    values, opt = run(param([0.0]), grads, lr=0.1, amsgrad=True)
    np.testing.assert_allclose(values[-1], reference_adam([0.0], grads, 0.1, amsgrad=True),
                               rtol=1e-13)
    assert not np.allclose(values[-1], reference_adam([0.0], grads, 0.1))
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["max_exp_avg_sq"].item() > state["exp_avg_sq"].item()


def test_weight_decay_is_an_l2_term_in_the_gradient():
    # g = 0 + 0.1 * 1: the L2 gradient then goes through the normalization, a ~lr step
    (after,), _ = run(param([1.0]), [[0.0]], lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(after, reference_adam([1.0], [[0.1]], 0.1), rtol=1e-13)
    np.testing.assert_allclose(after, [0.9], rtol=1e-6)


def test_maximize_moves_with_the_gradient():
    (after,), _ = run(param([0.0]), [[2.0]], lr=0.1, maximize=True)
    np.testing.assert_allclose(after, [0.1], rtol=1e-6)


def test_state_keys_and_the_int_step_counter():
    values, opt = run(param([1.0, 2.0], dtype=mg.float32), [[1.0, 1.0]] * 3)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert state["step"] == 3 and type(state["step"]) is int
    assert state["exp_avg"].dtype == mg.float32 and values[-1].dtype == np.float32


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -0.1}, "Invalid learning rate: -0.1"),
    ({"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
])
def test_invalid_hyper_parameters_raise_pytorchs_messages(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        Adam([param([1.0])], **kwargs)
