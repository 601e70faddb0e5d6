"""Activations with the functional API: values, `inplace=True` (result and gradient), and
softmax's implicit dim."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck

X = np.array([[-2.0, -0.5, 0.5], [1.0, 3.0, -1.5]])


@pytest.mark.parametrize("name,expected", [
    ("relu", np.maximum(X, 0)),
    ("leaky_relu", np.where(X > 0, X, 0.01 * X)),
    ("silu", X / (1 + np.exp(-X))),
    ("sigmoid", 1 / (1 + np.exp(-X))),
    ("tanh", np.tanh(X)),
])
def test_values(name, expected):
    np.testing.assert_allclose(getattr(F, name)(mg.tensor(X)).data, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "silu"])
def test_inplace_overwrites_the_input_and_keeps_the_gradient(name):
    fn = getattr(F, name)
    x = mg.tensor(X, requires_grad=True)
    assert gradcheck(lambda x: fn(x * 1.0, inplace=True), x)  # in place on a non-leaf
    h = x * 2.0
    out = fn(h, inplace=True)
    assert out is h and h._version == 1
    np.testing.assert_allclose(out.data, fn(mg.tensor(2.0 * X)).data, rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        fn(x, inplace=True)


def test_softmax_and_log_softmax():
    out = F.softmax(mg.tensor(X), dim=1)
    expected = np.exp(X) / np.exp(X).sum(1, keepdims=True)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(mg.tensor(X), 1).data, np.log(expected), rtol=1e-12)
    with pytest.warns(UserWarning, match="implicit dimension"):
        implicit = F.softmax(mg.tensor(X))  # 2-D: dim 1, as PyTorch's legacy rule
    np.testing.assert_allclose(implicit.data, expected, rtol=1e-12)
    with pytest.warns(UserWarning, match="implicit dimension"):
        log_p = F.log_softmax(mg.tensor(X[0]))  # 1-D: dim 0
    assert np.isclose(np.exp(log_p.data).sum(), 1.0, rtol=1e-12)
