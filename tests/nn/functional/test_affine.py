"""linear (affine.py): y = x W^T + b for batched and 1-D inputs, its gradients, what it
saves for backward, and the shape and dtype errors."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 5, 3), (3,)], ids=str)
def test_forward(x_shape):
    x, w, b = rand(*x_shape), rand(6, 3, seed=1), rand(6, seed=2)
    out = F.linear(mg.tensor(x), mg.tensor(w), mg.tensor(b))
    assert out.shape == x_shape[:-1] + (6,)
    np.testing.assert_allclose(out.data, x @ w.T + b, rtol=1e-12)
    np.testing.assert_allclose(F.linear(mg.tensor(x), mg.tensor(w)).data, x @ w.T, rtol=1e-12)


def test_gradients():
    x = mg.tensor(rand(2, 3, 4), requires_grad=True)
    w = mg.tensor(rand(5, 4, seed=1), requires_grad=True)
    b = mg.tensor(rand(5, seed=2), requires_grad=True)
    assert gradcheck(F.linear, (x, w, b))
    F.linear(x, w, b).sum().backward()
    np.testing.assert_allclose(b.grad.data, np.full(5, 6.0))  # summed over the 2 x 3 rows
    np.testing.assert_allclose(w.grad.data, np.broadcast_to(x.data.sum(axis=(0, 1)), (5, 4)),
                               rtol=1e-12)


def test_shape_error():
    with pytest.raises(RuntimeError, match=r"input of shape \(3, 4\) does not match weight of "
                                           r"shape \(5, 2\).*in_features = 2"):
        F.linear(mg.randn(3, 4), mg.randn(5, 2))


def test_dtype_mismatch_names_both_dtypes():
    """PyTorch raises instead of promoting ("expected m1 and m2 to have the same dtype")."""
    with pytest.raises(RuntimeError, match="linear: expected input and weight to have the same "
                                           "dtype, got float32 and float64"):
        F.linear(mg.randn(3, 4), mg.randn(5, 4, dtype=mg.float64))
    with pytest.raises(RuntimeError, match="linear: expected input and bias to have the same "
                                           "dtype, got float32 and float64"):
        F.linear(mg.randn(3, 4), mg.randn(5, 4), mg.randn(5, dtype=mg.float64))


def test_frozen_weight_lets_the_input_change_in_place():
    """With the weight frozen only the weight is saved (dL/dx = G W), as in PyTorch."""
    w = mg.tensor(rand(5, 4))
    x = mg.tensor(rand(3, 4), requires_grad=True)
    h = x * 1
    y = F.linear(h, w, mg.zeros(5, dtype=mg.float64))
    h.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.broadcast_to(w.data.sum(axis=0), (3, 4)),
                               rtol=1e-12)
    w.requires_grad_(True)
    h = x * 1
    y = F.linear(h, w)  # dL/dW = G^T x reads the input now
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
