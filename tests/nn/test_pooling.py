"""Pooling modules (pooling.py): stride defaults, forward against the functional, reprs."""

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


def test_max_pool():
    x = mg.tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    pool = nn.MaxPool2d(2)
    assert pool.stride == 2
    out = pool(x)
    np.testing.assert_array_equal(out.data[0, 0], [[5, 7], [13, 15]])
    values, indices = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(indices.data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(values.data, out.data)
    padded = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)(x)
    np.testing.assert_array_equal(padded.data, F.max_pool2d(x, 3, 1, 1, ceil_mode=True).data)


def test_avg_pool_and_adaptive():
    x = mg.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    with_pad = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)(x)
    np.testing.assert_array_equal(
        with_pad.data, F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).data)
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d(1)(x).data, [[[[7.5]]]])
    assert nn.AdaptiveAvgPool2d((2, None))(x).shape == (1, 1, 2, 4)


def test_reprs():
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, "
                                     "dilation=1, ceil_mode=False)")
    assert repr(nn.AvgPool2d(3, 2)) == "AvgPool2d(kernel_size=3, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
