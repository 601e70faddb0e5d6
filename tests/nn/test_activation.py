"""Activation modules (activation.py): values, options and reprs."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

X = np.array([-2.0, -0.5, 0.0, 1.5], dtype=np.float32)


def test_values():
    x = mg.tensor(X)
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(X, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x).data, np.where(X > 0, X, 0.2 * X))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(X), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-X)), rtol=1e-6)
    np.testing.assert_allclose(nn.SiLU()(x).data, X / (1 + np.exp(-X)), rtol=1e-6, atol=1e-7)
    exact = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in X]
    np.testing.assert_allclose(nn.GELU()(x).data, exact, rtol=1e-6, atol=1e-7)
    tanh_form = 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(nn.GELU("tanh")(x).data, tanh_form, rtol=1e-6, atol=1e-7)


def test_inplace_overwrites_the_input():
    x = mg.tensor(X)
    assert nn.ReLU(inplace=True)(x) is x
    np.testing.assert_array_equal(x.data, np.maximum(X, 0))


def test_softmax_with_dim_and_the_implicit_rule():
    x = mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).data.sum(0), [1, 1, 1], rtol=1e-6)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        implicit = nn.Softmax()(x)
    np.testing.assert_allclose(implicit.data.sum(1), [1, 1], rtol=1e-6)  # 2-D: dim 1


def test_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.LeakyReLU(0.1, True)) == "LeakyReLU(negative_slope=0.1, inplace=True)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.SiLU()) == "SiLU()"
    assert repr(nn.Tanh()) == "Tanh()" and repr(nn.Sigmoid()) == "Sigmoid()"
    assert repr(nn.Softmax(dim=-1)) == "Softmax(dim=-1)"


def test_activations_have_no_parameters():
    for m in (nn.ReLU(), nn.GELU(), nn.Softmax(1)):
        assert list(m.parameters()) == [] and m.state_dict() == {}
