"""The autograd ops that run the fused kernels (`softmax`, `log_softmax`, `cross_entropy`,
`layer_norm`, `gelu`): under backend "numba" they give the values and gradients they give
under "numpy" (float32, rtol = atol = 1e-5), and pass gradcheck in float64.

The "numba" backend must really run `kernels.cpu.fused`: `test_numba_backend_runs_the_fused_
kernels` checks the dispatch, and cross-entropy's graph node is the fused `CrossEntropy`.
"""

import numpy as np
import pytest

import minigrad as mg
from kernels.cpu import fused
from minigrad import backend
from minigrad.autograd import gradcheck
from minigrad.nn import functional as F
from minigrad.nn.functional.loss import CrossEntropy

TARGETS = np.array([[0, 2, -1], [4, -1, 1]])  # (N, d1) class indices for (2, 5, 3) logits


def _loss_cases():
    """name -> (function of tensors, input shapes); targets and settings are closed over."""
    rows = np.array([3, -1, 0, 4])
    return {
        "softmax last dim": (lambda x: F.softmax(x, -1), [(4, 7)]),
        "softmax middle dim": (lambda x: F.softmax(x, 1), [(2, 5, 3)]),
        "log_softmax first dim": (lambda x: F.log_softmax(x, 0), [(6, 2)]),
        "log_softmax of a 0-d tensor": (lambda x: F.log_softmax(x, 0), [()]),
        "cross_entropy mean": (lambda x: F.cross_entropy(x, mg.tensor(rows), ignore_index=-1),
                               [(4, 5)]),
        "cross_entropy smoothed sum": (
            lambda x: F.cross_entropy(x, mg.tensor(rows), ignore_index=-1, reduction="sum",
                                      label_smoothing=0.2), [(4, 5)]),
        "cross_entropy (N, C, d) none": (
            lambda x: F.cross_entropy(x, mg.tensor(TARGETS), ignore_index=-1,
                                      reduction="none", label_smoothing=0.1), [(2, 5, 3)]),
        "cross_entropy of one example": (lambda x: F.cross_entropy(x, mg.tensor(2)), [(5,)]),
        "layer_norm affine": (lambda x, w, b: F.layer_norm(x, (5,), w, b),
                              [(3, 4, 5), (5,), (5,)]),
        "layer_norm over two dims": (lambda x: F.layer_norm(x, (2, 3)), [(4, 2, 3)]),
        "gelu exact": (lambda x: F.gelu(x), [(3, 7)]),
        "gelu tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 7)]),
    }


CASES = _loss_cases()


def _run(name: str, fn, arrays, grad_seed: int):
    """(output, input gradients) of fn under backend `name`, for a fixed random output
    gradient."""
    with mg.use_backend(name):
        tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*tensors)
        rng = np.random.default_rng(grad_seed)
        out.backward(mg.tensor(rng.standard_normal(out.shape).astype(out.data.dtype)))
    return out.data, [t.grad.data for t in tensors]


@pytest.mark.parametrize("case", list(CASES))
def test_numba_gives_the_numpy_values_and_gradients_in_float32(case):
    fn, shapes = CASES[case]
    rng = np.random.default_rng(0)
    arrays = [(rng.standard_normal(s) * 2).astype(np.float32) for s in shapes]
    expected, expected_grads = _run("numpy", fn, arrays, 1)
    out, grads = _run("numba", fn, arrays, 1)
    assert out.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    for grad, want in zip(grads, expected_grads, strict=True):
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck_in_float64_under_numba(case):
    fn, shapes = CASES[case]
    rng = np.random.default_rng(2)
    tensors = [mg.tensor(rng.standard_normal(s), dtype=mg.float64, requires_grad=True)
               for s in shapes]
    with mg.use_backend("numba"):
        assert gradcheck(fn, tuple(tensors))


def test_numba_backend_runs_the_fused_kernels():
    names = ["softmax_forward", "softmax_backward", "log_softmax_forward",
             "log_softmax_backward", "cross_entropy_forward", "cross_entropy_backward",
             "layer_norm_forward", "layer_norm_backward", "gelu_forward", "gelu_backward"]
    with mg.use_backend("numba"):
        for name in names:
            assert backend.kernel(name) is getattr(fused, name)
        loss = F.cross_entropy(mg.randn(3, 4, requires_grad=True), mg.tensor([0, 1, 2]))
        assert isinstance(loss.grad_fn, CrossEntropy)
    with mg.use_backend("numpy"):
        loss = F.cross_entropy(mg.randn(3, 4, requires_grad=True), mg.tensor([0, 1, 2]))
        assert not isinstance(loss.grad_fn, CrossEntropy)


def test_fused_cross_entropy_of_all_ignored_targets_is_nan_with_zero_gradient():
    x = mg.randn(3, 4, requires_grad=True)
    with mg.use_backend("numba"):
        loss = F.cross_entropy(x, mg.tensor([-100, -100, -100]))
        loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.data, np.zeros((3, 4), dtype=np.float32))


def test_gelu_backward_follows_the_forward_backend():
    """A graph built under "numba" and differentiated under "numpy" still works."""
    x = mg.randn(5, requires_grad=True)
    with mg.use_backend("numba"):
        y = F.gelu(x, approximate="tanh")
    with mg.use_backend("numpy"):
        y.sum().backward()
        expected = mg.tensor(x.data, requires_grad=True)
        F.gelu(expected, approximate="tanh").sum().backward()
    np.testing.assert_allclose(x.grad.data, expected.grad.data, rtol=1e-5, atol=1e-6)
