"""conv2d: forward against a loop-per-output-pixel convolution, gradients by finite differences,
im2col/col2im as adjoint maps, and the error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from kernels import reference
from minigrad.autograd import gradcheck

from tests.strategies import as_tensor, make_layout


def naive_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """The definition: one dot product of a (dilated) window with a filter per output pixel."""
    n, c, h, width = x.shape
    c_out, c_group, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c_out, oh, ow), dtype=np.float64)
    for b_ in range(n):
        for o in range(c_out):
            g = o // (c_out // groups)
            for y in range(oh):
                for x_ in range(ow):
                    window = xp[b_, g * c_group:(g + 1) * c_group,
                                y * sh:y * sh + dh * (kh - 1) + 1:dh,
                                x_ * sw:x_ * sw + dw * (kw - 1) + 1:dw]
                    out[b_, o, y, x_] = (window * w[o]).sum() + (0 if b is None else b[o])
    return out


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = [
    # x shape, w shape, stride, padding, dilation, groups
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 7, 7), (3, 2, 3, 2), 2, 1, 1, 1),
    ((1, 2, 7, 6), (2, 2, 2, 3), (2, 1), (2, 0), 1, 1),
    ((1, 4, 7, 7), (4, 2, 3, 3), 1, 2, 2, 2),
    ((2, 3, 5, 5), (6, 1, 3, 3), 2, 1, 1, 3),  # depthwise, channel multiplier 2
]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", CASES, ids=str)
def test_forward_matches_naive_loops(x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = rand(*x_shape), rand(*w_shape, seed=1), rand(w_shape[0], seed=2)
    out = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, dilation, groups)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    expected = naive_conv2d(x, w, b, pair(stride), pair(padding), pair(dilation), groups)
    assert out.dtype == mg.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


GRAD_CASES = [
    ((1, 2, 5, 5), (2, 2, 3, 3), 2, 0, 1, 1),
    ((1, 2, 5, 4), (2, 2, 2, 2), 1, 1, 1, 1),
    ((1, 2, 4, 4), (2, 2, 2, 2), 2, 2, 1, 1),
    ((1, 2, 6, 6), (2, 2, 2, 2), 1, 1, 2, 1),
    ((2, 4, 4, 4), (2, 2, 2, 2), 1, 0, 1, 2),
    ((1, 3, 5, 5), (3, 1, 3, 3), 2, 1, 2, 3),  # depthwise, stride 2, dilation 2
]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", GRAD_CASES, ids=str)
def test_gradcheck(x_shape, w_shape, stride, padding, dilation, groups):
    x = mg.tensor(rand(*x_shape), requires_grad=True)
    w = mg.tensor(rand(*w_shape, seed=1), requires_grad=True)
    b = mg.tensor(rand(w_shape[0], seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
                     (x, w, b))


def test_gradcheck_same_padding_with_even_kernel():
    x = mg.tensor(rand(1, 2, 4, 5), requires_grad=True)
    w = mg.tensor(rand(2, 2, 2, 3, seed=1), requires_grad=True)
    out = F.conv2d(x, w, padding="same")
    assert out.shape == (1, 2, 4, 5)
    # PyTorch puts the odd extra padding row/column at the bottom/right
    expected = naive_conv2d(np.pad(x.data, ((0, 0), (0, 0), (0, 1), (1, 1))), w.data)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x, w))


def test_only_requested_gradients_are_computed():
    x = mg.tensor(rand(1, 2, 5, 5))  # no grad: the first layer of a network
    w = mg.tensor(rand(3, 2, 3, 3, seed=1), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None
    # d(sum of outputs)/d w[o, c, i, j] = sum of the input pixels that tap (i, j) of channel c
    taps = np.array([[[x.data[0, c, i:i + 3, j:j + 3].sum() for j in range(3)]
                      for i in range(3)] for c in range(2)])
    np.testing.assert_allclose(w.grad.data, np.broadcast_to(taps, (3, 2, 3, 3)), rtol=1e-12)


def test_unbatched_input():
    x, w = rand(2, 5, 5), rand(3, 2, 3, 3, seed=1)
    out = F.conv2d(mg.tensor(x), mg.tensor(w), padding=1)
    assert out.shape == (3, 5, 5)
    np.testing.assert_allclose(out.data, naive_conv2d(x[None], w, padding=(1, 1))[0],
                               rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(layout=st.sampled_from(["transposed", "strided", "flipped"]),
       stride=st.integers(1, 2), padding=st.integers(0, 2))
def test_non_contiguous_input(layout, stride, padding):
    x = make_layout(rand(2, 2, 5, 4), layout)
    w = rand(2, 2, 3, 2, seed=1)
    out = F.conv2d(as_tensor(x), mg.tensor(w), stride=stride, padding=padding)
    expected = naive_conv2d(np.ascontiguousarray(x), w, stride=(stride, stride),
                            padding=(padding, padding))
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    x = mg.tensor(rand(1, 2, 4, 4).astype(np.float32), requires_grad=True)
    w = mg.tensor(rand(2, 2, 3, 3).astype(np.float32), requires_grad=True)
    out = F.conv2d(x, w)
    out.sum().backward()
    assert out.dtype == mg.float32 and x.grad.dtype == mg.float32 and w.grad.dtype == mg.float32


def test_im2col_and_col2im_are_adjoint():
    # <im2col(x), c> == <x, col2im(c)> for all x, c: col2im is the transpose of im2col,
    # which is exactly why it computes the gradient of im2col.
    # kernel (2, 3), stride (2, 2), dilation (2, 1), output (3, 2)
    x, cols = rand(2, 3, 7, 6), rand(2, 3, 2, 3, 3, 2, seed=1)
    lhs = (reference.im2col(x, (2, 3), (2, 2), (2, 1), (3, 2)) * cols).sum()
    rhs = (x * reference.col2im(cols, x.shape, (2, 2), (2, 1))).sum()
    assert np.isclose(lhs, rhs, rtol=1e-12)


def test_errors_name_shapes():
    x = mg.randn(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match=r"input with 3 channels.*\(1, 2, 5, 5\)"):
        F.conv2d(x, mg.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"groups=2.*\(3, 1, 3, 3\).*divisible"):
        F.conv2d(x, mg.randn(3, 1, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match=r"dtype.*float32 and float64"):
        F.conv2d(x, mg.randn(3, 2, 3, 3, dtype=mg.float64))
    with pytest.raises(RuntimeError, match=r"bias of shape \(3,\).*got \(4,\)"):
        F.conv2d(x, mg.randn(3, 2, 3, 3), mg.randn(4))
    with pytest.raises(RuntimeError, match=r"3-D \(C, H, W\) or 4-D.*\(2, 5\)"):
        F.conv2d(mg.randn(2, 5), mg.randn(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"padded input size \(2, 2\).*kernel size \(3, 3\)"):
        F.conv2d(mg.randn(1, 2, 2, 2), mg.randn(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"'same' is not supported for strided"):
        F.conv2d(x, mg.randn(3, 2, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"invalid padding string 'full'"):
        F.conv2d(x, mg.randn(3, 2, 3, 3), padding="full")
    with pytest.raises(RuntimeError, match=r"stride must be positive, got \(0, 0\)"):
        F.conv2d(x, mg.randn(3, 2, 3, 3), stride=0)
    with pytest.raises(RuntimeError, match=r"negative padding"):
        F.conv2d(x, mg.randn(3, 2, 3, 3), padding=-1)
