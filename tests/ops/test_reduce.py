"""Tests of minigrad/ops/reduce.py: sum, mean, var/std, max/min, amax/amin, logsumexp, prod,
norm, argmax/argmin, any/all; dims as int, tuple or None, keepdim, ties, empty tensors."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import (arrays, as_tensor, float_dtypes, invalid_dim, nonempty_shapes,
                              reduce_dims, shapes, valid_dim)


def _axes(dim, ndim):
    """NumPy's `axis` for a minigrad `dim` (None and () mean all; a 0-d tensor has no axes)."""
    if dim is None or dim == () or ndim == 0:
        return None
    return dim


def _count(shape, axes):
    if axes is None:
        return math.prod(shape)
    axes = (axes,) if isinstance(axes, int) else axes
    return math.prod(shape[a] for a in axes)


def _logsumexp(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _norm(a, p, axis, keepdims):
    if p == math.inf:
        return np.max(np.abs(a), axis=axis, keepdims=keepdims)
    return np.sum(np.abs(a) ** p, axis=axis, keepdims=keepdims) ** (1 / p)


# distinct values whose absolute values are distinct and >= 0.003 from 0: no ties, no kinks
NO_TIES = st.integers(-40, 40).map(lambda k: 0.05 * k + 0.003)


# -- sum, mean, var, std --------------------------------------------------------------------

REFERENCES = {
    "sum": lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
    "mean": lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims),
    "var": lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1),
    "std": lambda a, axis, keepdims: np.std(a, axis=axis, keepdims=keepdims, ddof=1),
}


@pytest.mark.parametrize("op", REFERENCES)
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_forward_matches_numpy(op, data, dtype):
    x = data.draw(arrays(dtype=dtype))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    axis = _axes(dim, x.ndim)
    if op in ("var", "std"):
        assume(_count(x.shape, axis) > 1)  # N - 1 = 0 degrees of freedom gives NaN
    elif op == "mean":
        assume(_count(x.shape, axis) > 0)
    out = getattr(mg, op)(as_tensor(x), dim, keepdim=keepdim)
    expected = REFERENCES[op](x, axis, keepdim)
    assert_tensor(out, np.asarray(expected, dtype=dtype), atol=1e-5 if dtype == np.float32
                  else 1e-12)


@pytest.mark.parametrize("op", REFERENCES)
@GRAD
@given(data=st.data())
def test_gradcheck(op, data):
    x = data.draw(arrays())
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    count = _count(x.shape, _axes(dim, x.ndim))
    if op in ("var", "std"):
        assume(count > 1)
    if op == "std":  # sqrt has an infinite slope at variance 0
        assume(count == 0 or np.all(np.var(x, axis=_axes(dim, x.ndim)) > 1e-3))
    if op == "mean":
        assume(count > 0)
    check_grad(lambda t: getattr(t, op)(dim, keepdim=keepdim), x)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("correction", [0, 1, 2])
@GRAD
@given(x=arrays(shape=nonempty_shapes(min_dims=2, max_dims=2).filter(lambda s: s[1] >= 3)))
def test_var_std_correction(op, correction, x):
    assume(np.all(np.var(x, axis=1) > 1e-3))
    out = getattr(mg, op)(as_tensor(x), 1, correction=correction)
    assert_tensor(out, getattr(np, op)(x, axis=1, ddof=correction))
    check_grad(lambda t: getattr(t, op)(1, correction=correction), x)
    biased = getattr(mg, op)(as_tensor(x), 1, unbiased=False)
    assert_tensor(biased, getattr(np, op)(x, axis=1, ddof=0))


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
def test_var_default_is_unbiased_and_one_sample_is_nan():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(5 / 3)
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(1.25))
    assert math.isnan(mg.tensor([2.0]).var().item())


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
def test_var_gradient_without_degrees_of_freedom_is_nan_or_inf_not_an_error():
    """N - correction <= 0: PyTorch's gradient is 2 / 0 times (x - mean), NaN or inf."""
    x = mg.tensor([1.0], requires_grad=True)
    x.var().backward()
    assert np.isnan(x.grad.data).all()
    x = mg.tensor([1.0], requires_grad=True)
    x.var(correction=2).backward()  # N - correction < 0 counts as 0, as in PyTorch
    assert np.isnan(x.grad.data).all()
    x = mg.tensor([1.0, 3.0], requires_grad=True)
    x.var(correction=2).backward()
    assert np.isinf(x.grad.data).all()


HALF_OVERFLOW = {  # each float16 result is in range, but a float16 accumulation overflows
    "sum": (np.array([[6e4, 1.0], [6e4, 1.0], [-6e4, 1.0], [-6e4, 1.0]]), lambda x: x.sum(0)),
    "mean": (np.array([6e4, 6e4, -6e4, -6e4]), lambda x: x.mean()),
    "var": (np.array([200.0, -200.0] * 500), lambda x: x.var()),  # squares of 200: 4e4 each
    "std": (np.array([300.0, -300.0] * 500), lambda x: x.std()),
    "norm": (np.full(1000, 300.0), lambda x: x.norm()),
    "logsumexp": (np.zeros(100_000), lambda x: x.logsumexp(0)),  # a sum of 1e5 ones
}


@pytest.mark.parametrize("op", HALF_OVERFLOW)
def test_float16_reductions_accumulate_in_float32(op):
    """As in PyTorch: accumulate in float32, round the result to float16 once."""
    values, fn = HALF_OVERFLOW[op]
    expected = fn(mg.tensor(values, dtype=mg.float64)).data.astype(np.float16)
    assert_tensor(fn(mg.tensor(values, dtype=mg.float16)), expected, atol=0, rtol=1e-3)


@pytest.mark.parametrize("op", ["sum", "var", "std", "norm", "logsumexp"])
def test_float16_reduction_gradients_are_float16_and_finite(op):
    values, fn = HALF_OVERFLOW[op]
    x = mg.tensor(values[:1000], dtype=mg.float16, requires_grad=True)
    fn(x).sum().backward()
    expected = mg.tensor(values[:1000], dtype=mg.float64, requires_grad=True)
    fn(expected).sum().backward()
    assert_tensor(x.grad, expected.grad.data.astype(np.float16), atol=1e-6, rtol=1e-2)


def test_sum_dtypes():
    ints = mg.tensor([[1, 2], [3, 4]], dtype=mg.int32)
    assert_tensor(ints.sum(), np.array(10, np.int64))
    assert_tensor(ints.sum(0), np.array([4, 6], np.int64))
    assert_tensor(mg.tensor([True, True, False]).sum(), np.array(2, np.int64))
    assert_tensor(ints.sum(dtype=mg.float64), np.array(10.0))
    assert mg.ones(3, dtype=mg.float16).sum().dtype == mg.float16


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_sum_over_empty_dims_and_empty_tuple():
    x = mg.ones(2, 0, 3)
    assert_tensor(x.sum(1), np.zeros((2, 3), np.float32))
    assert_tensor(x.sum(), np.array(0.0, np.float32))
    y = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert_tensor(y.sum(()), np.array(10.0, np.float32))  # () means every dim, as PyTorch
    assert_tensor(y.mean(()), np.array(2.5, np.float32))
    assert_tensor(y.sum(dim=[0, 1], keepdim=True), np.array([[10.0]], np.float32))
    assert math.isnan(mg.ones(0).mean().item())


def test_mean_of_integers_names_the_dtype():
    with pytest.raises(RuntimeError, match="mean.*int64"):
        mg.tensor([1, 2, 3]).mean()


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp",
                                "norm", "any", "all"])
@FAST
@given(data=st.data())
def test_dim_out_of_range_names_the_dim(op, data):
    x = mg.ones(*data.draw(shapes(max_dims=3)))
    dim = data.draw(invalid_dim(x.ndim))
    with pytest.raises(IndexError, match=rf"{op}: dimension out of range .*but got {dim}\)"):
        getattr(mg, op)(x, dim=dim)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "logsumexp"])
def test_repeated_dim_is_an_error(op):
    with pytest.raises(RuntimeError, match=r"dim \(1, -1\) appears multiple times"):
        getattr(mg, op)(mg.ones(2, 3), (1, -1))


# -- max, min, amax, amin -------------------------------------------------------------------


@pytest.mark.parametrize("op", ["amax", "amin"])
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_amax_amin_forward(op, data, dtype):
    x = data.draw(arrays(dtype=dtype, shape=nonempty_shapes(min_dims=0)))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    out = getattr(mg, op)(as_tensor(x), () if dim is None else dim, keepdim=keepdim)
    assert_tensor(out, getattr(np, op)(x, axis=_axes(dim, x.ndim), keepdims=keepdim))


@pytest.mark.parametrize("op", ["amax", "amin", "max", "min"])
@GRAD
@given(data=st.data())
def test_extrema_gradcheck_without_ties(op, data):
    x = data.draw(arrays(shape=nonempty_shapes(min_dims=0), elements=NO_TIES, unique=True))
    if op in ("amax", "amin"):
        dim, keepdim = data.draw(reduce_dims(x.ndim))
        check_grad(lambda t: getattr(t, op)(() if dim is None else dim, keepdim=keepdim), x)
    else:
        check_grad(lambda t: getattr(t, op)(), x)
        dim, keepdim = data.draw(reduce_dims(x.ndim, allow_none=False, allow_tuple=False))
        check_grad(lambda t: getattr(t, op)(dim, keepdim=keepdim).values, x)


@pytest.mark.parametrize("op", ["max", "min"])
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_max_min_with_dim_return_values_and_first_indices(op, data, dtype):
    # values on a coarse grid, so that ties are common
    x = data.draw(arrays(dtype=dtype, shape=nonempty_shapes(min_dims=1),
                         elements=st.integers(-2, 2).map(float)))
    dim, keepdim = data.draw(reduce_dims(x.ndim, allow_none=False, allow_tuple=False))
    values, indices = getattr(mg, op)(as_tensor(x), dim, keepdim)
    assert_tensor(values, getattr(np, f"a{op}")(x, axis=dim, keepdims=keepdim))
    assert_tensor(indices, getattr(np, f"arg{op}")(x, axis=dim, keepdims=keepdim).astype(np.int64))
    named = getattr(mg, op)(as_tensor(x), dim=dim, keepdim=keepdim)
    assert named.values.tolist() == values.tolist() and named.indices.tolist() == indices.tolist()


def test_max_with_dim_sends_the_gradient_to_the_first_tie_only():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0]
    values.backward(mg.tensor([10.0, 20.0]))
    assert x.grad.tolist() == [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]]


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_full_reductions_share_the_gradient_among_ties(op):
    x = mg.tensor([[5.0, -1.0, 5.0], [-1.0, 0.0, 5.0]], requires_grad=True)
    getattr(x, op)().backward()
    hit = 5.0 if op in ("max", "amax") else -1.0
    expected = np.where(x.data == hit, 1 / 3 if hit == 5.0 else 1 / 2, 0.0)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)


def test_amax_over_one_dim_shares_ties_per_slice():
    x = mg.tensor([[2.0, 2.0, 1.0], [0.0, 4.0, 4.0]], requires_grad=True)
    x.amax(1).backward(mg.tensor([1.0, 3.0]))
    assert x.grad.tolist() == [[0.5, 0.5, 0.0], [0.0, 1.5, 1.5]]


def test_max_of_two_tensors_is_elementwise():
    a, b = mg.tensor([1.0, 5.0]), mg.tensor([3.0, 2.0])
    assert mg.max(a, b).tolist() == [3.0, 5.0] and mg.min(a, b).tolist() == [1.0, 2.0]


def test_max_of_0d_tensor_with_dim():
    values, indices = mg.tensor(3.0).max(0)
    assert values.item() == 3.0 and indices.item() == 0 and indices.dtype == mg.int64


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_extrema_of_empty_tensors_raise(op):
    with pytest.raises(RuntimeError, match=rf"{op}\(\): expected a non-empty .*\(2, 0\)"):
        getattr(mg, op)(mg.ones(2, 0))
    with pytest.raises(RuntimeError, match=rf"{op}\(\): expected a non-empty .*\(2, 0\)"):
        getattr(mg, op)(mg.ones(2, 0), 1)
    out = getattr(mg, op)(mg.ones(2, 0), 0)  # reducing the non-empty dim is fine
    assert (out if op.startswith("a") else out.values).shape == (0,)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@FAST
@given(data=st.data())
def test_argmax_argmin(op, data):
    x = data.draw(arrays(shape=nonempty_shapes(min_dims=0),
                         elements=st.integers(-2, 2).map(float)))
    keepdim = data.draw(st.booleans())
    whole = getattr(mg, op)(as_tensor(x), keepdim=keepdim)
    flat = getattr(np, op)(x)
    assert_tensor(whole, np.reshape(flat, (1,) * x.ndim) if keepdim else np.array(flat))
    if x.ndim:
        dim = data.draw(valid_dim(x.ndim))
        assert_tensor(getattr(mg, op)(as_tensor(x), dim, keepdim),
                      getattr(np, op)(x, axis=dim, keepdims=keepdim).astype(np.int64))


# -- logsumexp ------------------------------------------------------------------------------


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_logsumexp_forward(data, dtype):
    x = data.draw(arrays(dtype=dtype, shape=nonempty_shapes(min_dims=0), low=-50, high=50))
    dim, keepdim = data.draw(reduce_dims(x.ndim, allow_none=False))
    axis = _axes(dim, x.ndim)
    out = mg.logsumexp(as_tensor(x), dim, keepdim)
    assert_tensor(out, _logsumexp(x.astype(np.float64), axis, keepdim).astype(dtype),
                  atol=1e-4 if dtype == np.float32 else 1e-10)


@GRAD
@given(data=st.data())
def test_logsumexp_gradcheck(data):
    x = data.draw(arrays(low=-5, high=5))
    dim, keepdim = data.draw(reduce_dims(x.ndim, allow_none=False))
    check_grad(lambda t: t.logsumexp(dim, keepdim), x)


def test_logsumexp_at_large_magnitude_and_minus_infinity():
    values = [[1e4, 1e4], [-1e4, -1e4 + math.log(3)], [-math.inf, 0.0]]
    x = mg.tensor(values, dtype=mg.float64, requires_grad=True)
    out = x.logsumexp(1)
    np.testing.assert_allclose(out.data, [1e4 + math.log(2), -1e4 + math.log(4), 0.0], rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.5], [0.25, 0.75], [0.0, 1.0]], rtol=1e-9)
    single = mg.tensor(values).logsumexp(1)  # float32: finite, to float32 precision
    np.testing.assert_allclose(single.data, out.data, rtol=1e-6)
    all_inf = mg.tensor([-math.inf, -math.inf]).logsumexp(0)
    assert all_inf.item() == -math.inf


# -- prod -----------------------------------------------------------------------------------

WITH_ZEROS = st.sampled_from([0.0, 0.0, 0.5, -1.5, 2.0, 1.25, -0.75])


@FAST
@given(data=st.data())
def test_prod_forward(data):
    x = data.draw(arrays(elements=WITH_ZEROS))
    dim = data.draw(st.one_of(st.none(), valid_dim(x.ndim)))
    keepdim = data.draw(st.booleans())
    out = mg.prod(as_tensor(x), dim, keepdim)
    expected = np.prod(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
    assert_tensor(out, expected)


@GRAD
@given(data=st.data())
def test_prod_gradcheck_with_zeros(data):
    """The gradient is the product of the *other* elements: exact with one or more zeros."""
    x = data.draw(arrays(elements=WITH_ZEROS))
    dim = data.draw(st.one_of(st.none(), valid_dim(x.ndim)))
    keepdim = data.draw(st.booleans())
    check_grad(lambda t: t.prod(dim, keepdim) if dim is not None else t.prod(), x)


def test_prod_gradient_with_one_and_two_zeros():
    x = mg.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0]], requires_grad=True)
    x.prod(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]]


def test_prod_of_integers_and_empty():
    assert_tensor(mg.tensor([1, 2, 3], dtype=mg.int32).prod(), np.array(6, np.int64))
    assert_tensor(mg.ones(0).prod(), np.array(1.0, np.float32))


# -- norm -----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, math.inf, "fro"])
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_norm_forward(p, data, dtype):
    x = data.draw(arrays(dtype=dtype))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    axis = _axes(dim, x.ndim)
    if p == math.inf:
        assume(_count(x.shape, axis) > 0)
    out = mg.norm(as_tensor(x), p, dim, keepdim)
    expected = _norm(x.astype(np.float64), 2 if p == "fro" else p, axis, keepdim)
    assert_tensor(out, np.asarray(expected).astype(dtype),
                  atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("p", [1, 2, 3, math.inf])
@GRAD
@given(data=st.data())
def test_norm_gradcheck(p, data):
    x = data.draw(arrays(elements=NO_TIES, unique=True))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    if p == math.inf:
        assume(_count(x.shape, _axes(dim, x.ndim)) > 0)
    check_grad(lambda t: t.norm(p, dim, keepdim), x)


@pytest.mark.parametrize("p", [1, 2, 0.5, math.inf])
def test_norm_gradient_is_zero_at_zero(p):
    x = mg.tensor([[0.0, 0.0], [0.0, 3.0]], requires_grad=True)
    x.norm(p, dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_norm_rejects_invalid_p():
    with pytest.raises(ValueError, match="p must be a positive number, inf or 'fro', got -1"):
        mg.ones(3).norm(-1)
    with pytest.raises(ValueError, match="got 'nuc'"):
        mg.ones(3).norm("nuc")


# -- any, all -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["any", "all"])
@FAST
@given(data=st.data())
def test_any_all(op, data):
    x = data.draw(arrays(dtype=np.bool_))
    dim, keepdim = data.draw(reduce_dims(x.ndim))
    out = getattr(mg, op)(as_tensor(x), dim, keepdim)
    assert_tensor(out, getattr(np, op)(x, axis=_axes(dim, x.ndim), keepdims=keepdim))


def test_std_gradient_is_zero_where_all_values_are_equal():
    x = mg.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], requires_grad=True)
    x.std(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], [0.0, 0.0, 0.0])
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()[1]).sum() > 0
