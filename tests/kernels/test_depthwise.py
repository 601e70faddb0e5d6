"""Tests of `kernels/cpu/depthwise.py`: the Numba depthwise convolution against its
specification, `kernels.reference`, on generated shapes, strides, dilations, paddings, memory
layouts and gradient flags; on MobileNet's narrow planes (the rounded-up row runs, the fused
3x3 gradient loop, stride 2 on odd sizes, every padding 0..2); with one and two threads; and
finite differences of the kernel pair.

Tolerances: rtol = atol = 1e-5 in float32 and 1e-12 in float64 on values in [-1, 1] (the
kernels fuse multiply-adds and reorder the weight gradient's sums, see the module docstring).

Debug a failure as plain Python: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k
depthwise`.
"""

import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels import reference
from kernels.cpu import depthwise
from tests.strategies import LAYOUTS, make_layout

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}  # rtol = atol
FLAGS = [(True, True), (True, False), (False, True), (False, False)]


def output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    return (size - dilation * (kernel - 1) - 1) // stride + 1


@st.composite
def depthwise_cases(draw, dtype):
    """(xp, weight, grad_out, stride, dilation, out_size): a padded input, a weight and an
    output gradient in memory layouts drawn from `LAYOUTS`; the output is never empty."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    kernel = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    padded = (h + sum(padding[0]), w + sum(padding[1]))
    out_size = tuple(map(output_size, padded, kernel, stride, dilation))
    assume(min(out_size) >= 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
    xp = np.pad(x, ((0, 0), (0, 0)) + padding)
    weight = rng.uniform(-1, 1, (c, 1, *kernel)).astype(dtype)
    grad_out = rng.uniform(-1, 1, (n, c, *out_size)).astype(dtype)
    xp, weight, grad_out = (make_layout(a, draw(st.sampled_from(LAYOUTS)))
                            for a in (xp, weight, grad_out))
    return xp, weight, grad_out, stride, dilation, out_size


def assert_close(ours, theirs, dtype):
    assert ours.dtype == theirs.dtype == dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_forward_matches_reference(dtype, data):
    xp, weight, _, stride, dilation, out_size = data.draw(depthwise_cases(dtype))
    assert_close(depthwise.depthwise_conv2d_forward(xp, weight, stride, dilation, out_size),
                 reference.depthwise_conv2d_forward(xp, weight, stride, dilation, out_size),
                 dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_backward_matches_reference(dtype, data):
    xp, weight, grad_out, stride, dilation, _ = data.draw(depthwise_cases(dtype))
    flags = data.draw(st.sampled_from(FLAGS))
    ours = depthwise.depthwise_conv2d_backward(grad_out, xp, weight, stride, dilation, flags)
    theirs = reference.depthwise_conv2d_backward(grad_out, xp, weight, stride, dilation, flags)
    for wanted, grad, expected in zip(flags, ours, theirs, strict=True):
        if wanted:
            assert_close(grad, expected, dtype)
        else:
            assert grad is None


def mobilenet_case(size: int, stride: int, padding: int, dtype=np.float32, seed: int = 0):
    """(xp, weight, grad_out, out_size) for a 3x3 depthwise layer on size x size planes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (2, 3, size, size)).astype(dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = output_size(size + 2 * padding, 3, stride, 1)
    weight = rng.uniform(-1, 1, (3, 1, 3, 3)).astype(dtype)
    grad_out = rng.uniform(-1, 1, (2, 3, out, out)).astype(dtype)
    return xp, weight, grad_out, (out, out)


@pytest.mark.parametrize("size", [14, 15, 16, 17, 28, 29])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_narrow_planes_match_reference(size, stride, padding):
    """MobileNet's 3x3 layers on narrow planes: rows of 14 (a rounded-up run spills into the
    next row), of 16 (no spill), odd sizes with stride 2, and every padding."""
    xp, weight, grad_out, out_size = mobilenet_case(size, stride, padding)
    strides = (stride, stride)
    assert_close(depthwise.depthwise_conv2d_forward(xp, weight, strides, (1, 1), out_size),
                 reference.depthwise_conv2d_forward(xp, weight, strides, (1, 1), out_size),
                 np.float32)
    ours = depthwise.depthwise_conv2d_backward(grad_out, xp, weight, strides, (1, 1))
    theirs = reference.depthwise_conv2d_backward(grad_out, xp, weight, strides, (1, 1))
    for grad, expected in zip(ours, theirs, strict=True):
        assert_close(grad, expected, np.float32)


@pytest.mark.parametrize("flags", FLAGS[:3])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fused_gradients_with_one_flag_and_any_layout(flags, layout):
    """The fused 3x3 gradient loop computes both gradients; asking for one must give it, on
    inputs in every memory layout."""
    xp, weight, grad_out, _ = mobilenet_case(14, 1, 1, seed=3)
    arrays = [make_layout(a, layout) for a in (grad_out, xp, weight)]
    ours = depthwise.depthwise_conv2d_backward(*arrays, (1, 1), (1, 1), flags)
    theirs = reference.depthwise_conv2d_backward(grad_out, xp, weight, (1, 1), (1, 1), flags)
    for wanted, grad, expected in zip(flags, ours, theirs, strict=True):
        if wanted:
            assert_close(grad, expected, np.float32)
        else:
            assert grad is None


def test_thread_count_does_not_change_the_result():
    """Big enough to run in parallel (above SERIAL_BELOW); planes are independent, so one
    thread and two give the same bits, and both match the float64 reference."""
    rng = np.random.default_rng(4)
    xp = rng.uniform(-1, 1, (4, 32, 66, 66))
    weight = rng.uniform(-1, 1, (32, 1, 3, 3))
    grad_out = rng.uniform(-1, 1, (4, 32, 64, 64))
    assert grad_out.size * 9 >= depthwise.SERIAL_BELOW
    args = ((1, 1), (1, 1))
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            results.append((depthwise.depthwise_conv2d_forward(xp, weight, *args, (64, 64)),
                            *depthwise.depthwise_conv2d_backward(grad_out, xp, weight, *args)))
    finally:
        numba.set_num_threads(previous)
    for ours, theirs in zip(results[0], results[-1], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    expected = (reference.depthwise_conv2d_forward(xp, weight, *args, (64, 64)),
                *reference.depthwise_conv2d_backward(grad_out, xp, weight, *args))
    for ours, theirs in zip(results[0], expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


def test_empty_output_gives_zero_gradients():
    xp, weight = np.ones((2, 3, 4, 4)), np.ones((3, 1, 3, 3))
    out = depthwise.depthwise_conv2d_forward(xp, weight, (1, 1), (1, 1), (0, 2))
    assert out.shape == (2, 3, 0, 2)
    grad_xp, grad_w = depthwise.depthwise_conv2d_backward(np.ones((2, 3, 0, 2)), xp, weight,
                                                          (1, 1), (1, 1))
    np.testing.assert_array_equal(grad_xp, np.zeros_like(xp))
    np.testing.assert_array_equal(grad_w, np.zeros_like(weight))


def test_non_contiguous_inputs_give_the_contiguous_result():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((2, 6, 9, 11))
    # column-major planes of every other channel; a flipped weight and gradient
    xp = base.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)[:, ::2]
    weight = rng.standard_normal((3, 1, 2, 3))[..., ::-1]
    grad_out = rng.standard_normal((2, 3, 8, 4))[..., ::-1]
    assert not (xp.flags.c_contiguous or weight.flags.c_contiguous
                or grad_out.flags.c_contiguous)
    args = ((1, 2), (1, 1))
    forward = depthwise.depthwise_conv2d_forward(xp, weight, *args, (8, 4))
    np.testing.assert_array_equal(
        forward, depthwise.depthwise_conv2d_forward(np.ascontiguousarray(xp),
                                                    np.ascontiguousarray(weight), *args, (8, 4)))
    contiguous = depthwise.depthwise_conv2d_backward(
        np.ascontiguousarray(grad_out), np.ascontiguousarray(xp), np.ascontiguousarray(weight),
        *args)
    for ours, expected in zip(depthwise.depthwise_conv2d_backward(grad_out, xp, weight, *args),
                              contiguous, strict=True):
        np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("stride, dilation", [((1, 1), (1, 1)), ((2, 1), (1, 2)),
                                              ((1, 2), (2, 1)), ((2, 2), (2, 2))])
def test_gradients_match_finite_differences(stride, dilation):
    """Central differences of L = sum(forward(xp, weight) R) against backward(R) in float64.

    L is linear in each argument, so the differences are exact up to rounding."""
    rng = np.random.default_rng(1)
    xp, weight = rng.standard_normal((2, 2, 7, 8)), rng.standard_normal((2, 1, 3, 2))
    out_size = tuple(map(output_size, xp.shape[2:], weight.shape[2:], stride, dilation))
    r = rng.standard_normal((2, 2, *out_size))

    def loss(xp, weight):
        return np.sum(depthwise.depthwise_conv2d_forward(xp, weight, stride, dilation,
                                                         out_size) * r)

    grad_xp, grad_w = depthwise.depthwise_conv2d_backward(r, xp, weight, stride, dilation)
    step = 1e-6
    for array, grad in ((xp, grad_xp), (weight, grad_w)):
        numeric = np.empty_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + step
            above = loss(xp, weight)
            array[index] = saved - step
            below = loss(xp, weight)
            array[index] = saved
            numeric[index] = (above - below) / (2 * step)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), (2, 2)])
def test_depthwise_conv2d_under_numba_passes_gradcheck(stride, padding):
    """conv2d with groups = C runs these kernels under the "numba" backend; its float64
    gradients still match central differences."""
    import minigrad as mg
    from minigrad.autograd import gradcheck
    from minigrad.nn import functional as F

    mg.manual_seed(5)
    x = mg.randn(2, 3, 6, 7, dtype=mg.float64, requires_grad=True)
    w = mg.randn(3, 1, 3, 3, dtype=mg.float64, requires_grad=True)
    with mg.use_backend("numba"):
        assert gradcheck(lambda x, w: F.conv2d(x, w, stride=stride, padding=padding, groups=3),
                         (x, w))


def test_depthwise_conv2d_is_the_same_under_numba_and_numpy():
    """A MobileNet layer (14 x 14 planes, 3x3, padding 1) in float32: the same output and
    gradients on both backends."""
    import minigrad as mg
    from minigrad.nn import functional as F

    mg.manual_seed(6)
    x = mg.randn(4, 8, 14, 14, requires_grad=True)
    w = mg.randn(8, 1, 3, 3, requires_grad=True)
    results = {}
    for name in ("numpy", "numba"):
        x.grad = w.grad = None
        with mg.use_backend(name):
            out = F.conv2d(x, w, padding=1, groups=8)
            (out * out).sum().backward()
        results[name] = (out.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    for ours, theirs in zip(results["numba"], results["numpy"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_float16_is_computed_in_float32_and_rounded_once():
    rng = np.random.default_rng(2)
    xp = rng.standard_normal((2, 3, 6, 6)).astype(np.float16)
    weight = rng.standard_normal((3, 1, 3, 3)).astype(np.float16)
    grad_out = rng.standard_normal((2, 3, 4, 4)).astype(np.float16)
    single = [a.astype(np.float32) for a in (grad_out, xp, weight)]
    out = depthwise.depthwise_conv2d_forward(xp, weight, (1, 1), (1, 1), (4, 4))
    expected = depthwise.depthwise_conv2d_forward(*single[1:], (1, 1), (1, 1), (4, 4))
    np.testing.assert_array_equal(out, expected.astype(np.float16))
    grads = depthwise.depthwise_conv2d_backward(grad_out, xp, weight, (1, 1), (1, 1))
    expected = depthwise.depthwise_conv2d_backward(*single, (1, 1), (1, 1))
    for grad, want in zip(grads, expected, strict=True):
        assert grad.dtype == np.float16
        np.testing.assert_array_equal(grad, want.astype(np.float16))


def test_bad_arguments_are_specific_errors():
    xp, weight = np.zeros((1, 2, 5, 5)), np.zeros((2, 1, 3, 3))
    forward = depthwise.depthwise_conv2d_forward
    with pytest.raises(ValueError, match=r"expected a \(2, 1, kh, kw\) weight for 2 channels"):
        forward(xp, np.zeros((3, 1, 3, 3)), (1, 1), (1, 1), (3, 3))
    with pytest.raises(ValueError, match=r"output of size \(4, 3\) needs a padded input of at "
                                         r"least \(6, 5\), got \(5, 5\)"):
        forward(xp, weight, (1, 1), (1, 1), (4, 3))
    with pytest.raises(ValueError, match="dtype int64 is not supported"):
        forward(xp.astype(np.int64), weight, (1, 1), (1, 1), (3, 3))
    with pytest.raises(ValueError, match=r"grad_out with the input's \(N, C\) = \(1, 2\)"):
        depthwise.depthwise_conv2d_backward(np.zeros((1, 3, 3, 3)), xp, weight, (1, 1), (1, 1))


def test_kernels_do_not_import_minigrad():
    code = "import sys, kernels.cpu.depthwise; print('minigrad' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "False"
