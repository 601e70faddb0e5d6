"""Tests of `kernels/cpu/fused.py` (and its private modules): the Numba softmax,
log-softmax, cross-entropy, layer norm and GELU kernels against their specification,
`kernels.reference`, on generated shapes, values and memory layouts, plus the vectorised
math they share.

Tolerances (rtol = atol unless said): float32 1e-5, float64 1e-12. The kernels sum in
another order than NumPy (8 partial sums, see `_vector_math`) and evaluate exp with their
own polynomial (error below 1 ulp), so float32 results differ from the reference by a few
ulps of the largest term. GELU's float32 backward gets atol 2e-5: its tanh form differs from
the reference's 1 - tanh^2 by cancellation (up to 2e-6 at |x| = 5, against float64 truth
both are that far off).

Debug a failure as plain Python: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k
fused`.
"""

import math
import re

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import reference
from kernels.cpu import _fused_gelu, _fused_norm, _fused_softmax, fused
from kernels.cpu import _vector_math as vector_math
from kernels.cpu._fused_threads import SERIAL_BELOW
from tests.strategies import LAYOUTS, make_layout

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}
SETTINGS = settings(max_examples=25, deadline=None)
# sizes 1, primes, and sizes around the 8 lanes of a vector and its multiples
SIZES = st.sampled_from([1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 97, 101])


def assert_close(ours, theirs, dtype, atol=None):
    assert ours.dtype == theirs.dtype == dtype and ours.shape == theirs.shape
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol if atol is None else atol,
                               equal_nan=True)


@st.composite
def logits(draw, dtype, masked=True):
    """(M, C) logits in a drawn layout: normal values at a drawn scale (up to 1e4), some
    entries -inf and maybe whole rows -inf (masked), M and C from `SIZES`."""
    m, c = draw(SIZES), draw(SIZES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal((m, c)) * draw(st.sampled_from([1.0, 30.0, 1e4]))).astype(dtype)
    if masked and draw(st.booleans()):
        x[rng.random((m, c)) < 0.3] = -np.inf
        if draw(st.booleans()):
            x[rng.integers(0, m)] = -np.inf
    return make_layout(x, draw(st.sampled_from(LAYOUTS))), rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(data=st.data())
def test_softmax_and_log_softmax_match_reference(name, dtype, data):
    x, rng = data.draw(logits(dtype))
    forward, backward = f"{name}_forward", f"{name}_backward"
    with np.errstate(invalid="ignore"):
        y = getattr(reference, forward)(x)
        assert_close(getattr(fused, forward)(x), y, dtype)
        g = make_layout(rng.standard_normal(x.shape).astype(dtype),
                        data.draw(st.sampled_from(LAYOUTS)))
        assert_close(getattr(fused, backward)(g, y), getattr(reference, backward)(g, y), dtype)


@st.composite
def class_targets(draw, rng, n, c):
    """(target, ignore_index): classes in [0, C), some rows set to ignore_index, which is
    -100 or (a real class) 0."""
    ignore_index = draw(st.sampled_from([-100, 0]))
    target = rng.integers(0, c, n)
    target[rng.random(n) < 0.25] = ignore_index
    return target, ignore_index


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data(), smoothing=st.sampled_from([0.0, 0.1, 1.0]))
def test_cross_entropy_matches_reference(dtype, data, smoothing):
    x, rng = data.draw(logits(dtype))
    target, ignore_index = data.draw(class_targets(rng, *x.shape))
    with np.errstate(invalid="ignore"):
        losses, lse = reference.cross_entropy_forward(x, target, ignore_index, smoothing)
        ours_losses, ours_lse = fused.cross_entropy_forward(x, target, ignore_index, smoothing)
        assert_close(ours_losses, losses, dtype)
        np.testing.assert_allclose(ours_lse, lse, rtol=TOLERANCE[dtype], equal_nan=True)
        grad_losses = rng.standard_normal(x.shape[0])
        grad = fused.cross_entropy_backward(grad_losses, x, target, lse, ignore_index, smoothing)
        assert_close(grad, reference.cross_entropy_backward(grad_losses, x, target, lse,
                                                            ignore_index, smoothing), dtype)
    ignored = target == ignore_index
    assert (ours_losses[ignored] == 0).all() and (grad[ignored] == 0).all()


def test_cross_entropy_of_huge_logits_keeps_full_precision():
    """At 1e4 float32 spacing is 1e-3; the float64 lse keeps the probabilities exact."""
    x = np.array([[1e4, 1e4 - 1, 1e4 - 3, -1e4]], dtype=np.float32)
    target = np.array([1])
    losses, lse = fused.cross_entropy_forward(x, target, -100, 0.0)
    exact = np.log(1 + np.exp(1) + np.exp(-2))  # lse - x_1 in float64
    np.testing.assert_allclose(losses, [exact], rtol=1e-6)
    grad = fused.cross_entropy_backward(np.ones(1), x, target, lse, -100, 0.0)
    p = np.exp(np.array([1, 0, -2, -2e4]) - exact)
    np.testing.assert_allclose(grad[0], p - [0, 1, 0, 0], rtol=1e-6, atol=1e-7)


def test_fully_masked_rows_are_nan_as_in_the_reference():
    x = np.full((2, 5), -np.inf, dtype=np.float32)
    x[1] = [0, 1, 2, -np.inf, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("softmax_forward", "log_softmax_forward"):
            ours = getattr(fused, name)(x)
            assert np.isnan(ours[0]).all() and np.isfinite(ours[1, :3]).all()
        losses, lse = fused.cross_entropy_forward(x, np.array([0, 1]), -100, 0.0)
        assert np.isnan(losses[0]) and lse[0] == -np.inf and np.isfinite(losses[1])
    assert fused.softmax_forward(x)[1, 3] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data(), affine=st.booleans())
def test_layer_norm_matches_reference(dtype, data, affine):
    m, d = data.draw(SIZES), data.draw(SIZES)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    layout = st.sampled_from(LAYOUTS)
    x = make_layout((rng.standard_normal((m, d)) * 3 + rng.uniform(-5, 5)).astype(dtype),
                    data.draw(layout))
    g = make_layout(rng.standard_normal((m, d)).astype(dtype), data.draw(layout))
    w, b = (make_layout(rng.standard_normal(d).astype(dtype), data.draw(layout))
            if affine else None for _ in range(2))
    expected = reference.layer_norm_forward(x, w, b, 1e-5)
    for ours, theirs in zip(fused.layer_norm_forward(x, w, b, 1e-5), expected, strict=True):
        assert_close(ours, theirs, dtype)
    mean, rstd = expected[1:]
    for ours, theirs in zip(fused.layer_norm_backward(g, x, mean, rstd, w),
                            reference.layer_norm_backward(g, x, mean, rstd, w), strict=True):
        assert_close(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@SETTINGS
@given(data=st.data())
def test_gelu_matches_reference(dtype, approximate, data):
    shape = tuple(data.draw(st.lists(SIZES, min_size=0, max_size=3)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) * data.draw(st.sampled_from([1.0, 4.0, 30.0])))
    x = make_layout(np.asarray(x, dtype=dtype), data.draw(st.sampled_from(LAYOUTS)))
    g = make_layout(np.asarray(rng.standard_normal(shape), dtype=dtype),
                    data.draw(st.sampled_from(LAYOUTS)))
    assert_close(fused.gelu_forward(x, approximate), reference.gelu_forward(x, approximate),
                 dtype)
    assert_close(fused.gelu_backward(g, x, approximate),
                 reference.gelu_backward(g, x, approximate), dtype,
                 atol=2e-5 if dtype == np.float32 else None)


def test_large_inputs_take_the_parallel_path_and_match_reference():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((SERIAL_BELOW // 100 + 7, 101)).astype(np.float32)
    assert x.size >= SERIAL_BELOW
    g = rng.standard_normal(x.shape).astype(np.float32)
    target = rng.integers(0, 101, x.shape[0])
    assert_close(fused.softmax_forward(x), reference.softmax_forward(x), np.float32)
    losses, lse = reference.cross_entropy_forward(x, target, -100, 0.1)
    assert_close(fused.cross_entropy_forward(x, target, -100, 0.1)[0], losses, np.float32)
    assert_close(fused.cross_entropy_backward(g[:, 0], x, target, lse, -100, 0.1),
                 reference.cross_entropy_backward(g[:, 0], x, target, lse, -100, 0.1),
                 np.float32)
    _, mean, rstd = reference.layer_norm_forward(x, None, None, 1e-5)
    grad_x, grad_w, grad_b = fused.layer_norm_backward(g, x, mean, rstd, None)
    assert_close(grad_x, reference.layer_norm_backward(g, x, mean, rstd, None)[0], np.float32)
    # the weight and bias gradients sum 10^4 rows, where the reference's float32 einsum is off
    # by 7e-4 (ours, in 64 block partial sums, by 8e-5): hold both to float64
    exact = reference.layer_norm_backward(*(a.astype(np.float64) for a in (g, x, mean, rstd)),
                                          None)
    np.testing.assert_allclose(grad_w, exact[1], rtol=1e-6, atol=2e-4)
    np.testing.assert_allclose(grad_b, exact[2], rtol=1e-6, atol=2e-4)
    assert_close(fused.gelu_backward(g, x, "tanh"), reference.gelu_backward(g, x, "tanh"),
                 np.float32, atol=2e-5)


def test_layer_norm_gradients_do_not_depend_on_the_thread_count():
    """The weight/bias sums are split in fixed row blocks, not per thread."""
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((2, SERIAL_BELOW // 80 + 1, 80)).astype(np.float32)
    _, mean, rstd = fused.layer_norm_forward(x, None, None, 1e-5)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, previous}):
            numba.set_num_threads(threads)
            results.append(fused.layer_norm_backward(g, x, mean, rstd, None))
    finally:
        numba.set_num_threads(previous)
    for grads in results[1:]:
        for ours, first in zip(grads, results[0], strict=True):
            np.testing.assert_array_equal(ours, first)


def test_float16_is_computed_in_float32_and_rounded_once():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7)).astype(np.float16)
    single = x.astype(np.float32)
    for name in ("softmax_forward", "log_softmax_forward"):
        ours = getattr(fused, name)(x)
        assert ours.dtype == np.float16
        np.testing.assert_array_equal(ours, getattr(fused, name)(single).astype(np.float16))
    target = np.arange(6)
    losses, lse = fused.cross_entropy_forward(x, target, -100, 0.1)
    expected, expected_lse = fused.cross_entropy_forward(single, target, -100, 0.1)
    np.testing.assert_array_equal(losses, expected.astype(np.float16))
    np.testing.assert_array_equal(lse, expected_lse)
    y, mean, _ = fused.layer_norm_forward(x, None, None, 1e-5)
    y32, mean32, _ = fused.layer_norm_forward(single, None, None, 1e-5)
    np.testing.assert_array_equal(y, y32.astype(np.float16))
    np.testing.assert_array_equal(mean, mean32)
    np.testing.assert_array_equal(fused.gelu_forward(x, "tanh"),
                                  fused.gelu_forward(single, "tanh").astype(np.float16))


def test_bad_arguments_are_clear_errors():
    x = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        fused.cross_entropy_forward(x, np.array([0, 4, 1]), -100, 0.0)
    with pytest.raises(ValueError, match=r"expected logits \(N, C\) and target \(N,\)"):
        fused.cross_entropy_forward(x, np.array([0, 1]), -100, 0.0)
    with pytest.raises(ValueError, match="dtype int64 is not supported"):
        fused.softmax_forward(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        fused.gelu_forward(x, "erf")
    with pytest.raises(ValueError, match=r"grad_out and y must have one shape, got \(3, 4\)"):
        fused.softmax_backward(x, x[:2])
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\), got \(3,\)"):
        fused.layer_norm_forward(x, np.ones(3, dtype=np.float32), None, 1e-5)


# -- the vectorised math --------------------------------------------------------------------


@numba.njit(cache=True)
def _exp_all(t, out):
    for i in range(t.shape[0]):
        out[i] = vector_math.exp(t[i])


@numba.njit(cache=True)
def _normal_cdf_all(x, out):
    for i in range(x.shape[0]):
        out[i] = vector_math.normal_cdf(x[i])


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="runs NumPy's exp as plain Python")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_is_within_an_ulp_and_handles_the_edges(dtype):
    info = np.finfo(dtype)
    low, high = math.log(info.tiny), math.log(info.max)
    rng = np.random.default_rng(6)
    t = rng.uniform(low, high, 100_000).astype(dtype)
    out = np.empty_like(t)
    _exp_all(t, out)
    exact = np.exp(t.astype(np.longdouble))
    relative = np.abs(out - exact) / exact
    assert relative.max() <= 1.5 * info.eps
    edges = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, low * 1.01, high * 1.01,
                      np.nextafter(dtype(high), dtype(0))], dtype=dtype)
    out = np.empty_like(edges)
    _exp_all(edges, out)
    assert out[0] == 0 and out[1] == np.inf and np.isnan(out[2])
    assert out[3] == out[4] == 1 and out[5] == 0 and out[6] == np.inf
    assert np.isfinite(out[7]) and out[7] > info.max / 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_cdf_matches_erfc(dtype):
    """float64 is math.erfc (of x / sqrt 2 rounded another way: 3e-14 relative in the far
    tail); float32's relative error grows like x^2 eps in the tails, where float32 rounds
    -z^2 + P(t) before the exponential."""
    x = np.concatenate([np.linspace(-12, 12, 2001), [0.0, -np.inf, np.inf]]).astype(dtype)
    out = np.empty_like(x)
    _normal_cdf_all(x, out)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    if dtype == np.float64:
        np.testing.assert_allclose(out, exact, rtol=1e-13, atol=0)
        return
    assert out[-2] == 0 and out[-1] == 1
    finite = np.isfinite(x)
    assert np.abs(out - exact)[finite].max() <= 2e-7
    relative = np.abs(out - exact)[finite] / exact[finite]
    assert (relative <= 1e-6 * (1 + x[finite].astype(np.float64) ** 2 / 10)).all()


def _kernel_arguments():
    """Each njit kernel and helper with small float32 arguments to compile it for."""
    f32 = np.float32
    x, v, t = np.ones((4, 8), f32), np.ones(8, f32), np.zeros(4, np.int64)
    stats = np.ones((4, 1), f32)
    return {
        _fused_softmax._softmax_rows: (x, x.copy()),
        _fused_softmax._softmax_backward_rows: (x, x, x.copy()),
        _fused_softmax._log_softmax_rows: (x, x.copy()),
        _fused_softmax._log_softmax_backward_rows: (x, x, x.copy()),
        _fused_softmax._cross_entropy_rows: (x, t, -100, 0.1, np.zeros(4, f32), np.zeros(4)),
        _fused_softmax._cross_entropy_backward_rows: (np.ones(4), x, t, np.zeros(4), -100, 0.1,
                                                      x.copy()),
        _fused_norm._layer_norm_rows: (x, v, v, f32(1e-5), x.copy(), stats.copy(), stats.copy()),
        _fused_norm._layer_norm_backward_rows: (x, x, stats, stats, v, x.copy(),
                                                np.zeros((2, 8), f32), np.zeros((2, 8), f32)),
        _fused_gelu._gelu_forward_flat: (v, True, v.copy()),
        _fused_gelu._gelu_backward_flat: (v, v, False, v.copy()),
        vector_math.sum_exp: (v, f32(0)),
        vector_math.row_sum: (v, f32(0)),
        vector_math.row_dot: (v, v),
        vector_math.squared_deviation_sum: (v, f32(0)),
    }


@pytest.mark.slow
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled")
def test_kernels_inline_the_vector_math_and_vectorise():
    """LLVM must inline exp, normal_cdf and the max into the loops that call them (a call per
    element cannot be vectorised: GELU's backward once ran 7x slower when it did not) and
    emit 8-lane float vectors. Cached code cannot be inspected, so each kernel is compiled
    afresh, with its own options."""
    per_element = re.compile(
        r"call [^@]*@\S*(_exp_overload|_normal_cdf_overload|_row_max_overload)")
    for kernel, arguments in _kernel_arguments().items():
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        fresh = numba.njit(**options)(kernel.py_func)
        fresh(*arguments)
        llvm = fresh.inspect_llvm(fresh.signatures[0])
        assert not per_element.search(llvm), f"{kernel.__name__} calls its math per element"
        assert "<8 x float>" in llvm, f"{kernel.__name__} is not vectorised"
