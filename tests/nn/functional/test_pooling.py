"""max_pool2d, avg_pool2d, adaptive_avg_pool2d: forward against per-window loops, gradients
(argmax routing, ties, finite differences), ceil_mode geometry and the error messages."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck


def output_size(size, k, s, p, d, ceil_mode):
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((size + 2 * p - d * (k - 1) - 1) / s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must not start in the padding
        out -= 1
    return out


def naive_max_pool2d(x, k, s, p, d, ceil_mode):
    """Per window: the valid taps in row-major order, the first maximum and its flat index."""
    n, c, h, w = x.shape
    oh, ow = (output_size(h, k, s, p, d, ceil_mode), output_size(w, k, s, p, d, ceil_mode))
    out, idx = np.empty((n, c, oh, ow)), np.empty((n, c, oh, ow), dtype=np.int64)
    for y in range(oh):
        for x_ in range(ow):
            taps = [(y * s - p + i * d, x_ * s - p + j * d) for i in range(k) for j in range(k)]
            taps = [(r, q) for r, q in taps if 0 <= r < h and 0 <= q < w]
            values = np.stack([x[:, :, r, q] for r, q in taps], axis=-1)
            best = values.argmax(axis=-1)
            out[:, :, y, x_] = values.max(axis=-1)
            idx[:, :, y, x_] = np.array([r * w + q for r, q in taps])[best]
    return out, idx


def naive_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad):
    n, c, h, w = x.shape
    oh, ow = (output_size(h, k, s, p, 1, ceil_mode), output_size(w, k, s, p, 1, ceil_mode))
    out = np.empty((n, c, oh, ow))
    for y in range(oh):
        for x_ in range(ow):
            h0, w0 = y * s - p, x_ * s - p
            h1, w1 = min(h0 + k, h + p), min(w0 + k, w + p)  # a window ends at the padding
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
            out[:, :, y, x_] = total / (size if count_include_pad else (h1 - h0) * (w1 - w0))
    return out


def distinct(*shape, seed=0):
    """Values 0.1 apart in random order: no ties, and finite differences never swap a max."""
    return np.random.default_rng(seed).permutation(math.prod(shape)).reshape(shape) * 0.1


geometry = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
                     st.integers(1, 2), st.booleans())  # kernel, stride, padding, dilation, ceil


@settings(max_examples=40, deadline=None)
@given(geometry=geometry, h=st.integers(3, 7), w=st.integers(3, 7))
def test_max_pool2d_matches_naive(geometry, h, w):
    k, s, p, d, ceil_mode = geometry
    assume(2 * p <= d * (k - 1) + 1 and output_size(min(h, w), k, s, p, d, ceil_mode) >= 1)
    x = distinct(2, 2, h, w)
    out, idx = F.max_pool2d(mg.tensor(x), k, s, p, d, ceil_mode, return_indices=True)
    expected, expected_idx = naive_max_pool2d(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(idx.data, expected_idx)
    assert idx.dtype == mg.int64


@settings(max_examples=40, deadline=None)
@given(geometry=geometry, h=st.integers(3, 7), w=st.integers(3, 7),
       count_include_pad=st.booleans())
def test_avg_pool2d_matches_naive(geometry, h, w, count_include_pad):
    k, s, p, _, ceil_mode = geometry
    assume(2 * p <= k and output_size(min(h, w), k, s, p, 1, ceil_mode) >= 1)
    x = np.random.default_rng(0).standard_normal((2, 2, h, w))
    out = F.avg_pool2d(mg.tensor(x), k, s, p, ceil_mode, count_include_pad)
    np.testing.assert_allclose(out.data, naive_avg_pool2d(x, k, s, p, ceil_mode,
                                                          count_include_pad), rtol=1e-12)


def test_ceil_mode_keeps_the_partial_window():
    x = mg.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    out = F.max_pool2d(x, 2, ceil_mode=True)
    np.testing.assert_array_equal(out.data[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    # the partial windows average only what they cover
    avg = F.avg_pool2d(x, 2, ceil_mode=True)
    assert avg.data[0, 0, 2, 2] == 24.0 and avg.data[0, 0, 0, 2] == (4 + 9) / 2


@pytest.mark.parametrize("k,s,p,d,ceil_mode", [(2, 2, 0, 1, False), (3, 2, 1, 1, True),
                                               (2, 1, 1, 2, False), (3, 2, 0, 1, True)])
def test_max_pool2d_gradcheck(k, s, p, d, ceil_mode):
    x = mg.tensor(distinct(1, 2, 5, 6), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, k, s, p, d, ceil_mode), x)


def test_max_pool2d_gradient_goes_to_the_first_maximum_and_accumulates():
    x = mg.tensor([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]], requires_grad=True)
    out = F.max_pool2d(x, 2, stride=1)  # every 2x2 window's maximum is 3, with ties
    out.backward(mg.tensor([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    # windows 0 and 1 pick (0, 1); window 2 picks (1, 0); window 3 picks (1, 2)
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 11, 0], [100, 0, 1000], [0, 0, 0]])


@pytest.mark.parametrize("k,s,p,ceil_mode,count_include_pad",
                         [(2, 2, 0, False, True), (3, 2, 1, True, True),
                          (3, 2, 1, True, False), (2, 1, 1, False, False)])
def test_avg_pool2d_gradcheck(k, s, p, ceil_mode, count_include_pad):
    x = mg.tensor(np.random.default_rng(0).standard_normal((1, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad), x)


def test_avg_pool2d_divisor_override():
    x = mg.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    out = F.avg_pool2d(x, 2, divisor_override=3)
    np.testing.assert_allclose(out.data, np.full((1, 1, 2, 2), 4 / 3))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((1, 1, 4, 4), 1 / 3))


def naive_adaptive(x, oh, ow):
    h, w = x.shape[2:]
    out = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = slice(math.floor(i * h / oh), math.ceil((i + 1) * h / oh))
            cols = slice(math.floor(j * w / ow), math.ceil((j + 1) * w / ow))
            out[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("size", [(3, 4), (1, 1), (5, 6), (4, 4), (7, 2)], ids=str)
def test_adaptive_avg_pool2d(size):
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 6)), requires_grad=True)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, size).data, naive_adaptive(x.data, *size),
                               rtol=1e-12)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), x)


def test_adaptive_output_size_forms():
    x = mg.randn(2, 3, 5, 6)
    assert F.adaptive_avg_pool2d(x, 2).shape == (2, 3, 2, 2)
    assert F.adaptive_avg_pool2d(x, (None, 3)).shape == (2, 3, 5, 3)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).data[..., 0, 0],
                               x.data.mean(axis=(2, 3)), rtol=1e-6)


def test_unbatched_inputs():
    x = distinct(2, 5, 5)
    out, idx = F.max_pool2d(mg.tensor(x), 2, return_indices=True)
    expected, expected_idx = naive_max_pool2d(x[None], 2, 2, 0, 1, False)
    assert out.shape == idx.shape == (2, 2, 2)
    np.testing.assert_array_equal(out.data, expected[0])
    np.testing.assert_array_equal(idx.data, expected_idx[0])
    assert F.avg_pool2d(mg.tensor(x), 2).shape == (2, 2, 2)
    assert F.adaptive_avg_pool2d(mg.tensor(x), 3).shape == (2, 3, 3)


def test_errors_name_shapes():
    x = mg.randn(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match=r"at most half.*padding=\(2, 2\), kernel_size=\(3, 3\)"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"\(1, 2, 2, 2\) gives output size \(0, 0\)"):
        F.max_pool2d(mg.randn(1, 2, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"3-D \(C, H, W\) or 4-D.*\(2, 2\)"):
        F.max_pool2d(mg.randn(2, 2), 1)
    with pytest.raises(RuntimeError, match=r"stride must be positive"):
        F.avg_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match=r"floating point.*int64"):
        F.max_pool2d(mg.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)
    with pytest.raises(RuntimeError, match=r"output_size must be non-negative"):
        F.adaptive_avg_pool2d(x, (-1, 2))
