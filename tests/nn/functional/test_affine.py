"""linear (affine.py): y = x W^T + b for batched and 1-D inputs, its gradients, and the
shape error."""

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
