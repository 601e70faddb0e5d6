"""The autograd ops that run the GEMM kernels (`matmul` with vectors, matrices and broadcast
batches; `linear`): under backend "numba" they give the values and gradients they give under
"numpy" (float32, rtol = atol = 1e-5 on values in [-1, 1]), and pass gradcheck in float64.

`test_numba_backend_runs_the_gemm_kernels` checks that "numba" really calls
`kernels.cpu.matmul` for every product, forward and backward, and that "numpy" does not.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from kernels.cpu import matmul as cpu_matmul
from minigrad.autograd import gradcheck
from minigrad.nn import functional as F
from tests.strategies import LAYOUTS, as_tensor, make_layout, matmul_shapes

TOLERANCE = 1e-5


def _values_and_grads(backend: str, fn, arrays, grad_seed: int = 0):
    """(output, input gradients) of fn under `backend` for a fixed output gradient."""
    with mg.use_backend(backend):
        tensors = [as_tensor(a, requires_grad=True) for a in arrays]
        out = fn(*tensors)
        rng = np.random.default_rng(grad_seed)
        out.backward(mg.tensor(rng.uniform(-1, 1, out.shape).astype(out.data.dtype)))
    return out.data, [t.grad.data for t in tensors]


def _assert_same_under_both_backends(fn, arrays):
    ours = _values_and_grads("numba", fn, arrays)
    reference = _values_and_grads("numpy", fn, arrays)
    np.testing.assert_allclose(ours[0], reference[0], rtol=TOLERANCE, atol=TOLERANCE)
    assert ours[0].dtype == reference[0].dtype
    for grad, expected in zip(ours[1], reference[1], strict=True):
        assert grad.shape == expected.shape and grad.dtype == expected.dtype
        np.testing.assert_allclose(grad, expected, rtol=TOLERANCE, atol=TOLERANCE)


@st.composite
def float32_operands(draw, shapes):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return [make_layout(rng.uniform(-1, 1, shape).astype(np.float32),
                        draw(st.sampled_from(LAYOUTS))) for shape in shapes]


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_matmul_values_and_gradients_match_numpy(data):
    shapes = data.draw(matmul_shapes(max_batch_dims=2, max_side=9))
    _assert_same_under_both_backends(lambda a, b: a @ b, data.draw(float32_operands(shapes)))


@settings(max_examples=20, deadline=None)
@given(data=st.data(), lead=st.sampled_from([(), (5,), (2, 3)]),
       features=st.tuples(st.integers(1, 70), st.integers(1, 70)), bias=st.booleans())
def test_linear_values_and_gradients_match_numpy(data, lead, features, bias):
    fan_in, fan_out = features
    shapes = [lead + (fan_in,), (fan_out, fan_in)] + ([(fan_out,)] if bias else [])
    _assert_same_under_both_backends(lambda *t: F.linear(*t), data.draw(float32_operands(shapes)))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((3,), (3,)), ((4, 3), (3,)), ((3,), (3, 2)), ((2, 4, 3), (3, 5)), ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 3)), ((7, 70), (70, 9)),
], ids=str)
def test_matmul_gradcheck_under_numba(shape_a, shape_b):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, shape_a), rng.uniform(-1, 1, shape_b)
    with mg.use_backend("numba"):
        assert gradcheck(lambda x, y: x @ y, (mg.tensor(a, requires_grad=True),
                                              mg.tensor(b, requires_grad=True)))


def test_linear_gradcheck_under_numba():
    rng = np.random.default_rng(2)
    x, w, b = rng.uniform(-1, 1, (2, 3, 7)), rng.uniform(-1, 1, (5, 7)), rng.uniform(-1, 1, 5)
    with mg.use_backend("numba"):
        assert gradcheck(F.linear, tuple(mg.tensor(v, requires_grad=True) for v in (x, w, b)))


def test_numba_backend_runs_the_gemm_kernels(monkeypatch):
    calls = []
    for name in ("matmul", "batched_matmul"):
        original = getattr(cpu_matmul, name)
        monkeypatch.setattr(cpu_matmul, name,
                            lambda a, b, name=name, original=original:
                            calls.append(name) or original(a, b))

    def forward_backward():
        x = mg.randn(4, 6, requires_grad=True)
        w = mg.randn(3, 6, requires_grad=True)
        q = mg.randn(2, 4, 5, requires_grad=True)
        k = mg.randn(2, 5, 4, requires_grad=True)
        (F.linear(x, w).sum() + (q @ k).sum()).backward()

    with mg.use_backend("numpy"):
        forward_backward()
    assert calls == []
    with mg.use_backend("numba"):
        forward_backward()
    assert sorted(calls) == ["batched_matmul"] * 3 + ["matmul"] * 3


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_other_dtypes_keep_numpy_under_numba(dtype):
    a = np.arange(12).reshape(3, 4).astype(dtype)
    b = np.arange(8).reshape(4, 2).astype(dtype)
    with mg.use_backend("numba"):
        out = mg.tensor(a) @ mg.tensor(b)
    assert out.data.dtype == dtype
    np.testing.assert_array_equal(out.data, a @ b)
