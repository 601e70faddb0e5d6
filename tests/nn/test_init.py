"""minigrad.nn.init (init.py): gains and fans as PyTorch's formulas, the bounds and standard
deviations of each scheme (statistically, on seeded large tensors), trunc_normal_, generators,
no_grad and errors."""

import math
import statistics

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter, init


def param(*shape, dtype=mg.float32):
    return Parameter(mg.zeros(*shape, dtype=dtype))


def test_calculate_gain():
    assert init.calculate_gain("linear") == init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity softsign"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(param(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(param(8, 4, 3, 2)) == (24, 48)
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(got shape \(4,\)\)"):
        init._calculate_fan_in_and_fan_out(param(4))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(param(2, 2), mode="fan_avg")


def test_uniform_and_normal():
    mg.manual_seed(0)
    t = init.uniform_(param(200_000), -2.0, 3.0)
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    np.testing.assert_allclose(t.data.mean(), 0.5, atol=0.02)
    n = init.normal_(param(200_000), 1.0, 0.5)
    np.testing.assert_allclose([n.data.mean(), n.data.std()], [1.0, 0.5], atol=0.005)


def test_constant_ones_zeros_return_the_tensor():
    p = param(2, 3)
    assert init.constant_(p, 0.25) is p
    np.testing.assert_array_equal(p.data, np.full((2, 3), 0.25))
    np.testing.assert_array_equal(init.ones_(p).data, np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(p).data, np.zeros((2, 3)))


def test_xavier():
    mg.manual_seed(0)
    fan_in, fan_out = 300, 500
    bound = math.sqrt(6 / (fan_in + fan_out))
    u = init.xavier_uniform_(param(fan_out, fan_in), gain=2.0)
    assert np.abs(u.data).max() <= 2 * bound and np.abs(u.data).max() > 1.99 * bound
    n = init.xavier_normal_(param(fan_out, fan_in))
    np.testing.assert_allclose(n.data.std(), math.sqrt(2 / (fan_in + fan_out)), rtol=0.01)


def test_kaiming():
    mg.manual_seed(0)
    w = init.kaiming_uniform_(param(256, 128, 3, 3), nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / (128 * 9))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.999 * bound
    n = init.kaiming_normal_(param(512, 256), mode="fan_out", nonlinearity="relu")
    np.testing.assert_allclose(n.data.std(), math.sqrt(2 / 512), rtol=0.01)
    linear_default = init.kaiming_uniform_(param(300, 400), a=math.sqrt(5))
    np.testing.assert_allclose(np.abs(linear_default.data).max(), 1 / math.sqrt(400), rtol=1e-3)


def test_kaiming_on_an_empty_tensor_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(param(0, 3))


def test_trunc_normal_bounds_and_moments():
    mg.manual_seed(0)
    t = init.trunc_normal_(param(400_000), mean=0.5, std=2.0, a=-1.0, b=3.0)
    assert t.data.min() >= -1.0 and t.data.max() <= 3.0
    # The truncated normal's mean: mu + sigma (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha))
    dist = statistics.NormalDist()
    alpha, beta = (-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0
    z = dist.cdf(beta) - dist.cdf(alpha)
    mean = 0.5 + 2.0 * (dist.pdf(alpha) - dist.pdf(beta)) / z
    np.testing.assert_allclose(t.data.mean(), mean, atol=0.01)
    default = init.trunc_normal_(param(100_000), std=0.02)  # a=-2, b=2 are absolute bounds
    np.testing.assert_allclose(default.data.std(), 0.02, rtol=0.01)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(param(10), mean=10.0)


def test_normal_ppf_against_the_standard_library():
    p = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 2001), [0.02425, 0.97575, 0.5, 1e-300]])
    expected = [statistics.NormalDist().inv_cdf(v) for v in p]
    np.testing.assert_allclose(init._normal_ppf(p), expected, rtol=2e-9)


def test_generator_argument_and_global_seed():
    g = mg.Generator(7)
    a = init.normal_(param(10), generator=g).data.copy()
    b = init.normal_(param(10), generator=mg.Generator(7)).data
    np.testing.assert_array_equal(a, b)
    mg.manual_seed(1)
    c = init.xavier_uniform_(param(4, 4)).data.copy()
    mg.manual_seed(1)
    np.testing.assert_array_equal(init.xavier_uniform_(param(4, 4)).data, c)


def test_runs_under_no_grad_on_parameters_that_require_grad():
    p = param(3, 3)
    init.kaiming_normal_(p)
    init.trunc_normal_(p)
    assert p.grad_fn is None and p.is_leaf and p.requires_grad
    assert mg.is_grad_enabled()
    d = init.uniform_(param(3, dtype=mg.float64))
    assert d.dtype == mg.float64
