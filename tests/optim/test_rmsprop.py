"""RMSprop: hand-computed first steps, centered and momentum variants, errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import RMSprop


def param(values):
    return mg.tensor(values, dtype=mg.float64, requires_grad=True)


def run(values, grads, **kwargs):
    p = param(values)
    opt = RMSprop([p], **kwargs)
    history = []
    for g in grads:
        p.grad = mg.tensor(g, dtype=mg.float64)
        opt.step()
        history.append(p.numpy(force=True).copy())
    return history, opt.state[p]


def test_first_step_is_lr_over_sqrt_one_minus_alpha_times_the_sign():
    # v = (1 - alpha) g^2, so the step is lr g / (sqrt(1 - alpha) |g| + eps) ~ 0.1 sign(g)
    g = np.array([3.0, -0.2])
    (after,), state = run([0.0, 0.0], [g], lr=0.01, alpha=0.99)
    np.testing.assert_allclose(after, -0.01 * g / (0.1 * np.abs(g) + 1e-8), rtol=1e-13)
    np.testing.assert_allclose(after, [-0.1, 0.1], rtol=1e-6)
    assert set(state) == {"step", "square_avg"} and state["step"] == 1


def test_second_step_uses_the_running_mean_of_squares():
    g1, g2 = 2.0, 1.0
    history, _ = run([1.0], [[g1], [g2]], lr=0.1, alpha=0.9, eps=0.0)
    v1, v2 = 0.1 * g1**2, 0.9 * 0.1 * g1**2 + 0.1 * g2**2
    theta1 = 1.0 - 0.1 * g1 / np.sqrt(v1)
    np.testing.assert_allclose(history[1], [theta1 - 0.1 * g2 / np.sqrt(v2)], rtol=1e-14)


def test_centered_divides_by_the_running_standard_deviation():
    # v - a^2 = 0.01 g^2 - 0.0001 g^2 = 0.0099 g^2 at the first step
    (after,), state = run([0.0], [[2.0]], lr=0.01, centered=True)
    np.testing.assert_allclose(after, [-0.01 * 2.0 / (np.sqrt(0.0099) * 2.0 + 1e-8)],
                               rtol=1e-13)
    assert set(state) == {"step", "square_avg", "grad_avg"}
    np.testing.assert_allclose(state["grad_avg"].numpy(), [0.02], rtol=1e-15)


def test_momentum_accumulates_the_normalized_steps():
    history, state = run([0.0], [[1.0], [1.0]], lr=0.1, alpha=0.5, eps=0.0, momentum=0.9)
    b1 = 1.0 / np.sqrt(0.5)
    b2 = 0.9 * b1 + 1.0 / np.sqrt(0.75)
    np.testing.assert_allclose(np.ravel(history), [-0.1 * b1, -0.1 * b1 - 0.1 * b2], rtol=1e-14)
    assert set(state) == {"step", "square_avg", "momentum_buffer"}


def test_weight_decay_and_maximize_change_the_gradient_first():
    # maximize: g = -1 + 0.5 * 1 = -0.5, v = g^2 (alpha = 0): a step of +lr
    (after,), _ = run([1.0], [[1.0]], lr=0.1, alpha=0.0, eps=0.0, weight_decay=0.5,
                      maximize=True)
    np.testing.assert_allclose(after, [1.1], rtol=1e-15)
    # with eps the normalized step is g / (|g| + eps): g = 1 + 0.5 = 1.5
    (after,), _ = run([1.0], [[1.0]], lr=0.1, alpha=0.0, eps=0.5, weight_decay=0.5)
    np.testing.assert_allclose(after, [1.0 - 0.1 * 1.5 / 2.0], rtol=1e-15)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -0.1}, "Invalid learning rate: -0.1"),
    ({"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ({"momentum": -0.1}, "Invalid momentum value: -0.1"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"alpha": -0.1}, "Invalid alpha value: -0.1"),
])
def test_invalid_hyper_parameters_raise_pytorchs_messages(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        RMSprop([param([1.0])], **kwargs)
