"""Tests of minigrad/ops/softmax_ops.py: softmax and log_softmax along one dim, stable at any
magnitude."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import arrays, as_tensor, float_dtypes, invalid_dim, shapes, valid_dim


def _log_softmax(a, axis):
    a = a.astype(np.float64)
    m = np.max(a, axis=axis, keepdims=True) if a.size else 0.0
    z = a - m
    with np.errstate(divide="ignore"):  # log(0) of an empty row: -inf, never used
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_forward_matches_numpy(op, data, dtype):
    x = data.draw(arrays(dtype=dtype, low=-30, high=30))
    dim = data.draw(valid_dim(x.ndim))
    axis = dim if x.ndim else None
    expected = _log_softmax(x, axis)
    if op == "softmax":
        expected = np.exp(expected)
    out = getattr(mg, op)(as_tensor(x), dim)
    assert_tensor(out, expected.astype(dtype), atol=1e-6 if dtype == np.float32 else 1e-12)
    assert_tensor(getattr(as_tensor(x), op)(dim), expected.astype(dtype),
                  atol=1e-6 if dtype == np.float32 else 1e-12)


@FAST
@given(data=st.data())
def test_softmax_rows_sum_to_one(data):
    x = data.draw(arrays(shape=shapes(min_dims=1, min_side=1), low=-1e4, high=1e4))
    dim = data.draw(valid_dim(x.ndim))
    y = mg.softmax(as_tensor(x), dim)
    assert np.isfinite(y.data).all() and (y.data >= 0).all()
    np.testing.assert_allclose(y.data.sum(axis=dim), 1.0, rtol=1e-12)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@GRAD
@given(data=st.data())
def test_gradcheck(op, data):
    x = data.draw(arrays(low=-3, high=3))
    dim = data.draw(valid_dim(x.ndim))
    check_grad(lambda t: getattr(t, op)(dim), x)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_large_magnitude_logits(dtype):
    x = mg.tensor([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4 + 2.0, -1e4 - 5.0]], dtype=dtype,
                  requires_grad=True)
    y = mg.softmax(x, 1)
    e1, e2 = np.exp(-1.0), np.exp(-2.0)
    np.testing.assert_allclose(y.data, [[1 / (1 + e1), e1 / (1 + e1), 0.0],
                                        [e2 / (1 + e2 + np.exp(-7.0)), 1 / (1 + e2 + np.exp(-7.0)),
                                         np.exp(-7.0) / (1 + e2 + np.exp(-7.0))]], rtol=1e-5)
    z = mg.log_softmax(x, 1)
    assert np.isfinite(z.data).all()
    np.testing.assert_allclose(z.data[0, :2], [-np.log1p(e1), -1 - np.log1p(e1)], rtol=1e-5)
    (z * mg.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)).sum().backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data.sum(axis=1), 0.0, atol=1e-5)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_float16_computes_in_float32(op):
    """A row of 100,000 logits: its sum of exponentials overflows float16 (65504), not the
    float32 that PyTorch and minigrad compute half-precision softmax in."""
    x = mg.zeros(2, 100_000, dtype=mg.float16, requires_grad=True)
    y = getattr(mg, op)(x, 1)
    expected = _log_softmax(np.zeros((2, 100_000)), 1)
    assert_tensor(y, (np.exp(expected) if op == "softmax" else expected).astype(np.float16),
                  atol=0, rtol=1e-3)
    y[:, 0].sum().backward()
    exact = mg.zeros(2, 100_000, dtype=mg.float64, requires_grad=True)
    getattr(mg, op)(exact, 1)[:, 0].sum().backward()
    assert_tensor(x.grad, exact.grad.data.astype(np.float16), atol=1e-7, rtol=1e-3)


def test_minus_infinity_entries_get_zero_probability():
    x = mg.tensor([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, 1.0]])
    assert mg.softmax(x, 1).tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]]
    assert mg.log_softmax(x, 1).data[1, 2] == 0.0
    with np.errstate(invalid="ignore"):
        all_masked = mg.softmax(mg.tensor([[-np.inf, -np.inf]]), 1)
    assert np.isnan(all_masked.data).all()  # 0/0, as PyTorch


def test_dtype_argument_and_integer_input():
    x = mg.tensor([[1, 2, 3]])
    y = mg.softmax(x, -1, dtype=mg.float64)
    assert y.dtype == mg.float64
    assert mg.log_softmax(mg.ones(2, 3), 1, dtype=mg.float64).dtype == mg.float64
    with pytest.raises(RuntimeError, match="softmax: expected a floating point tensor, got "
                                           "minigrad.int64"):
        mg.softmax(x, 1)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(data=st.data())
def test_dim_out_of_range(op, data):
    x = mg.ones(*data.draw(shapes(max_dims=3)))
    dim = data.draw(invalid_dim(x.ndim))
    with pytest.raises(IndexError, match=rf"{op}: dimension out of range .*but got {dim}\)"):
        getattr(mg, op)(x, dim)
