"""Tests of minigrad/ops/linalg.py: matmul (1-D, 2-D, batched with broadcasting), mm, bmm, dot,
outer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import arrays, as_tensor, float_dtypes, matmul_shapes


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_matmul_forward(data, dtype):
    shape_a, shape_b = data.draw(matmul_shapes(min_side=0))
    a = data.draw(arrays(dtype=dtype, shape=shape_a))
    b = data.draw(arrays(dtype=dtype, shape=shape_b))
    expected = np.matmul(a, b)
    assert_tensor(as_tensor(a) @ as_tensor(b), expected, atol=1e-5 if dtype == np.float32
                  else 1e-12)
    assert_tensor(mg.matmul(as_tensor(a), as_tensor(b)), expected, atol=1e-5 if dtype ==
                  np.float32 else 1e-12)


@GRAD
@given(data=st.data())
def test_matmul_gradcheck(data):
    shape_a, shape_b = data.draw(matmul_shapes(min_side=0))
    a = data.draw(arrays(shape=shape_a))
    b = data.draw(arrays(shape=shape_b))
    check_grad(lambda x, y: x @ y, a, b)


@pytest.mark.parametrize("shape_a,shape_b,out_shape", [
    ((3,), (3,), ()), ((3,), (3, 2), (2,)), ((2, 3), (3,), (2,)), ((4, 2, 3), (3,), (4, 2)),
    ((3,), (4, 3, 2), (4, 2)), ((2, 1, 2, 3), (5, 3, 4), (2, 5, 2, 4)), ((0, 3), (3, 2), (0, 2)),
    ((2, 0), (0, 3), (2, 3)),
], ids=str)
def test_matmul_result_shapes(shape_a, shape_b, out_shape):
    a = mg.ones(*shape_a, requires_grad=True)
    b = mg.ones(*shape_b, requires_grad=True)
    out = a @ b
    assert out.shape == out_shape
    assert np.all(out.data == shape_a[-1])
    out.sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b


def test_matmul_of_a_numpy_array_on_the_left():
    w = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    x = mg.tensor([[1.0], [1.0]], requires_grad=True)
    out = w @ x
    assert out.tolist() == [[3.0], [7.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[4.0], [6.0]]


def test_matmul_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align: "
                                           r"3 != 4"):
        mg.ones(2, 3) @ mg.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"shapes \(3,\) and \(2,\) do not align: 3 != 2"):
        mg.matmul(mg.ones(3), mg.ones(2))
    with pytest.raises(RuntimeError, match=r"batch dimensions of \(2, 2, 3\) and \(3, 3, 4\) do "
                                           r"not broadcast"):
        mg.ones(2, 2, 3) @ mg.ones(3, 3, 4)
    with pytest.raises(RuntimeError, match=r"need at least 1 dimension, got shapes \(\) and "
                                           r"\(2,\)"):
        mg.tensor(2.0) @ mg.ones(2)


@pytest.mark.parametrize("make", [mg.matmul, mg.mm, lambda a, b: a @ b], ids=["matmul", "mm", "@"])
def test_matmul_refuses_two_float_dtypes(make):
    """PyTorch raises here ("expected m1 and m2 to have the same dtype") instead of promoting."""
    with pytest.raises(RuntimeError, match="matmul: .*same dtype, got float32 and float64"):
        make(mg.ones(2, 2), mg.ones(2, 2, dtype=mg.float64))
    with pytest.raises(RuntimeError, match="matmul: .*same dtype, got float16 and float32"):
        make(mg.ones(2, 2, dtype=mg.float16), mg.ones(2, 2))


@pytest.mark.parametrize("x_shape", [(2,), (3, 2), (4, 3, 2)], ids=str)
def test_matmul_with_a_frozen_operand_does_not_save_the_other(x_shape):
    """dL/dx = G W^T reads only W: x may change in place afterwards, as in PyTorch."""
    w = np.arange(6.0).reshape(2, 3)
    x = mg.ones(*x_shape, dtype=mg.float64, requires_grad=True)
    h = x * 1
    y = h @ mg.tensor(w)
    h.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.broadcast_to(w.sum(axis=1), x_shape))

    x = mg.ones(3, 2, dtype=mg.float64, requires_grad=True)
    h = x * 1
    y = mg.tensor(w) @ h  # frozen on the left: dL/dh = W^T G reads only W
    h.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.broadcast_to(w.sum(axis=0)[:, None], (3, 2)))


def test_matmul_operand_a_needed_gradient_reads_is_still_guarded():
    x = mg.ones(3, 2, requires_grad=True)
    w = mg.ones(2, 4, requires_grad=True)
    h = x * 1
    y = h @ w  # dL/dw = h^T G reads h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_matmul_refuses_integer_with_float_and_multiplies_integers():
    with pytest.raises(RuntimeError, match="same dtype, got int64 and float32"):
        mg.tensor([[1, 2]]) @ mg.tensor([[0.5], [0.25]])
    assert (mg.tensor([[1, 2]]) @ mg.tensor([[3], [4]])).tolist() == [[11]]


@GRAD
@given(a=arrays(shape=(2, 3)), b=arrays(shape=(3, 4)), c=arrays(shape=(2, 3, 2)),
       d=arrays(shape=(2, 2, 3)), u=arrays(shape=(3,)), v=arrays(shape=(4,)))
def test_mm_bmm_dot_outer(a, b, c, d, u, v):
    assert_tensor(mg.mm(as_tensor(a), as_tensor(b)), a @ b)
    assert_tensor(mg.bmm(as_tensor(c), as_tensor(d)), c @ d)
    assert_tensor(mg.dot(as_tensor(u), as_tensor(u)), np.dot(u, u))
    assert_tensor(mg.outer(as_tensor(u), as_tensor(v)), np.outer(u, v))
    check_grad(mg.mm, a, b)
    check_grad(mg.bmm, c, d)
    check_grad(mg.dot, u, a[0])
    check_grad(mg.outer, u, v)


def test_mm_bmm_dot_check_ranks():
    with pytest.raises(RuntimeError, match=r"mm: expected 2-D tensors, got shapes \(3,\) and "
                                           r"\(3, 2\)"):
        mg.mm(mg.ones(3), mg.ones(3, 2))
    with pytest.raises(RuntimeError, match=r"bmm: expected 3-D tensors with equal batch size, "
                                           r"got shapes \(2, 2, 3\) and \(3, 3, 4\)"):
        mg.bmm(mg.ones(2, 2, 3), mg.ones(3, 3, 4))
    with pytest.raises(RuntimeError, match=r"dot: expected 1-D tensors, got shapes \(2, 2\)"):
        mg.dot(mg.ones(2, 2), mg.ones(2))
