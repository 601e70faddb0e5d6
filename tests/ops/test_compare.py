"""Tests of minigrad/ops/compare.py: comparisons, logical and bitwise ops, isnan/isinf/isfinite,
isclose/allclose/equal. All return bool tensors (or Python bools) and carry no gradient."""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, assert_tensor
from tests.strategies import arrays, as_tensor, broadcastable_shapes

COMPARISONS = {
    "eq": (operator.eq, np.equal), "ne": (operator.ne, np.not_equal),
    "lt": (operator.lt, np.less), "le": (operator.le, np.less_equal),
    "gt": (operator.gt, np.greater), "ge": (operator.ge, np.greater_equal),
}
GRID = st.integers(-2, 2).map(lambda k: 0.5 * k)  # a coarse grid: equal values are common


@pytest.mark.parametrize("name", COMPARISONS)
@FAST
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64, np.int64]))
def test_comparisons_broadcast(name, data, dtype):
    op, ufunc = COMPARISONS[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    elements = GRID if dtype != np.int64 else st.integers(-2, 2)
    a = data.draw(arrays(dtype=dtype, shape=shape_a, elements=elements))
    b = data.draw(arrays(dtype=np.float32, shape=shape_b, elements=GRID))
    x = as_tensor(a, requires_grad=dtype != np.int64)
    expected = ufunc(a, b)
    for out in (op(x, as_tensor(b)), getattr(mg, name)(x, as_tensor(b)), getattr(x, name)(
            as_tensor(b))):
        assert_tensor(out, expected)
        assert not out.requires_grad


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_with_python_numbers_on_either_side(name):
    op, ufunc = COMPARISONS[name]
    x = mg.tensor([1.0, 2.0, 3.0])
    assert_tensor(op(x, 2.0), ufunc(np.array([1.0, 2.0, 3.0]), 2.0))
    assert_tensor(op(2, x), ufunc(2, np.array([1.0, 2.0, 3.0])))
    assert_tensor(op(mg.tensor([1, 2, 3]), 2.5), ufunc(np.array([1, 2, 3]), 2.5))


def test_comparison_shape_mismatch_names_the_op():
    with pytest.raises(RuntimeError, match=r"lt: shapes \(2, 3\) and \(2,\) can't be broadcast"):
        mg.ones(2, 3) < mg.ones(2)


LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or,
           "logical_xor": np.logical_xor}


@pytest.mark.parametrize("name", LOGICAL)
@FAST
@given(data=st.data())
def test_logical_ops(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(dtype=np.bool_, shape=shape_a))
    b = data.draw(arrays(shape=shape_b, elements=GRID))  # nonzero floats count as True
    assert_tensor(getattr(mg, name)(as_tensor(a), as_tensor(b)), LOGICAL[name](a, b))
    assert_tensor(getattr(as_tensor(a), name)(as_tensor(b)), LOGICAL[name](a, b))
    assert_tensor(mg.logical_not(as_tensor(b)), np.logical_not(b))


BITWISE = {"&": (operator.and_, np.bitwise_and), "|": (operator.or_, np.bitwise_or),
           "^": (operator.xor, np.bitwise_xor)}


@pytest.mark.parametrize("name", BITWISE)
@FAST
@given(data=st.data(), dtype=st.sampled_from([np.bool_, np.int64, np.int32, np.uint8]))
def test_bitwise_ops(name, data, dtype):
    op, ufunc = BITWISE[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(dtype=dtype, shape=shape_a, low=0, high=100))
    b = data.draw(arrays(dtype=dtype, shape=shape_b, low=0, high=100))
    assert_tensor(op(as_tensor(a), as_tensor(b)), ufunc(a, b))
    assert_tensor(~as_tensor(a), np.invert(a))


def test_bitwise_ops_reject_floats_naming_the_dtype():
    with pytest.raises(TypeError, match="bitwise_and: only integer and bool tensors, got float32"):
        mg.ones(2) & mg.ones(2)
    with pytest.raises(TypeError, match="bitwise_not: only integer and bool tensors, got float64"):
        ~mg.ones(2, dtype=mg.float64)


def test_masks_combine_with_operators():
    x = mg.tensor([-2.0, -0.5, 0.5, 2.0])
    assert ((x > -1) & (x < 1)).tolist() == [False, True, True, False]
    assert ((x < -1) | (x > 1)).tolist() == [True, False, False, True]
    assert (~(x > 0)).tolist() == [True, True, False, False]


@FAST
@given(x=arrays(elements=st.sampled_from([0.0, -1.5, np.inf, -np.inf, np.nan])))
def test_isnan_isinf_isfinite(x):
    assert_tensor(mg.isnan(as_tensor(x)), np.isnan(x))
    assert_tensor(as_tensor(x).isinf(), np.isinf(x))
    assert_tensor(mg.isfinite(as_tensor(x)), np.isfinite(x))


def test_isclose_allclose_equal():
    a = mg.tensor([1.0, np.nan, np.inf, 1e-9])
    b = mg.tensor([1.0 + 1e-6, np.nan, np.inf, 0.0])
    assert mg.isclose(a, b).tolist() == [True, False, True, True]
    assert mg.isclose(a, b, equal_nan=True).tolist() == [True, True, True, True]
    assert mg.isclose(a, b, rtol=0.0, atol=0.0).tolist() == [False, False, True, False]
    assert mg.allclose(a, b, equal_nan=True) is True
    assert mg.allclose(a, b) is False
    assert mg.equal(mg.tensor([1, 2]), mg.tensor([1, 2])) is True
    assert mg.equal(mg.tensor([1, 2]), mg.tensor([1, 3])) is False
    assert mg.equal(mg.ones(2), mg.ones(1, 2)) is False  # same values, different shape
