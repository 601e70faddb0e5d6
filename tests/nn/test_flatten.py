"""Flatten (flatten.py)."""

import numpy as np

import minigrad as mg
from minigrad import nn


def test_flatten_keeps_the_batch_dimension_by_default():
    x = mg.tensor(np.arange(48, dtype=np.float32).reshape(2, 3, 4, 2))
    out = nn.Flatten()(x)
    assert out.shape == (2, 24)
    np.testing.assert_array_equal(out.data, x.data.reshape(2, 24))
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 2)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 2)


def test_gradient_and_repr():
    x = mg.ones(2, 3, 2, requires_grad=True)
    nn.Flatten()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3, 2)))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
