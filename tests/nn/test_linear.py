"""Linear and Identity (linear.py): shapes, default initialisation bounds, forward and
gradients, dtype and bias options, repr."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_parameter_shapes_and_forward():
    mg.manual_seed(0)
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert (lin.in_features, lin.out_features) == (4, 3)
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    out = lin(mg.tensor(x))
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out.data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-5,
                               atol=1e-6)


def test_default_init_is_uniform_within_one_over_sqrt_fan_in():
    mg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight.data, lin.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound  # spread over the whole range
    # U(-b, b) has std b / sqrt(3)
    np.testing.assert_allclose(lin.weight.data.std(), bound / math.sqrt(3), rtol=0.02)


def test_init_is_reproducible_with_manual_seed():
    mg.manual_seed(3)
    a = nn.Linear(5, 5)
    mg.manual_seed(3)
    b = nn.Linear(5, 5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


def test_gradients_reach_weight_and_bias():
    lin = nn.Linear(3, 2)
    x = mg.ones(4, 3)
    lin(x).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad.data, np.full((2, 3), 4.0))
    np.testing.assert_array_equal(lin.bias.grad.data, np.full(2, 4.0))


def test_no_bias_dtype_and_repr():
    lin = nn.Linear(3, 2, bias=False, dtype=mg.float64)
    assert lin.bias is None and "bias" in lin._parameters
    assert lin.weight.dtype == mg.float64
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert repr(lin) == "Linear(in_features=3, out_features=2, bias=False)"
    assert lin(mg.ones(1, 3, dtype=mg.float64)).dtype == mg.float64


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"input of shape \(2, 5\) does not match weight of "
                                           r"shape \(2, 3\)"):
        nn.Linear(3, 2)(mg.ones(2, 5))


def test_reset_parameters_redraws():
    lin = nn.Linear(3, 3)
    before = lin.weight.data.copy()
    lin.reset_parameters()
    assert not np.array_equal(before, lin.weight.data)


def test_identity_ignores_arguments_and_returns_its_input():
    x = mg.ones(2)
    assert nn.Identity(54, unused="yes")(x) is x
    assert repr(nn.Identity()) == "Identity()"
