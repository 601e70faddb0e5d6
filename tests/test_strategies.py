"""Tests of tests/strategies.py: the shared strategies generate what they promise."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import (LAYOUTS, arrays, as_tensor, basic_indices, broadcastable_shapes,
                              floats, gather_indices, index_arrays, make_layout, matmul_shapes,
                              non_contiguous_arrays, reduce_dims, shapes)

FAST = settings(max_examples=40, deadline=None)


def test_make_layout_keeps_values_and_changes_strides():
    values = np.arange(12.0).reshape(3, 4)
    for layout in LAYOUTS:
        a = make_layout(values, layout)
        np.testing.assert_array_equal(a, values)
        assert a.flags.c_contiguous == (layout == "contiguous"), layout
        assert as_tensor(a).data is a  # the tensor keeps the layout under test
    assert make_layout(np.array(2.0), "strided").shape == ()


@FAST
@given(shape=shapes(), pair=broadcastable_shapes(), mm=matmul_shapes(min_side=0))
def test_shapes_respect_the_budget_and_broadcast(shape, pair, mm):
    assert math.prod(shape) <= 24
    np.broadcast_shapes(*pair)
    np.matmul(np.zeros(mm[0]), np.zeros(mm[1]))


@FAST
@given(x=non_contiguous_arrays(), y=arrays(dtype=np.float32, low=0.1, high=0.3))
def test_arrays(x, y):
    assert not x.flags.c_contiguous and np.isfinite(x).all()
    assert y.dtype == np.float32 and ((y >= np.float32(0.1)) & (y <= np.float32(0.3))).all()


@FAST
@given(x=floats(-1.0, 1.0, away_from=(0.0, 0.5), min_distance=0.1))
def test_floats_keep_away_from_kinks(x):
    assert abs(x) >= 0.1 - 1e-12 and abs(x - 0.5) >= 0.1 - 1e-12


@FAST
@given(data=st.data())
def test_dims_and_indices_are_valid(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, min_side=1)))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    np.sum(x, axis=dim, keepdims=keepdim)
    x[data.draw(basic_indices(x.shape))]
    x[data.draw(index_arrays(x.shape[0]))]
    d = data.draw(st.integers(0, x.ndim - 1))
    index = data.draw(gather_indices(x.shape, d))
    assert index.ndim == x.ndim and (index < x.shape[d]).all()
