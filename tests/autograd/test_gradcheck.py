import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function, GradcheckError, gradcheck


def test_gradcheck_accepts_a_correct_gradient():
    x = mg.randn(3, 2, dtype=mg.float64, requires_grad=True)
    w = mg.randn(2, 4, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: (a @ b).tanh(), (x, w))


def test_gradcheck_catches_a_wrong_gradient():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * a  # should be 2a

    x = mg.randn(4, dtype=mg.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongSquare.apply, (x,))
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda a: a * 2, (mg.randn(2, requires_grad=True),))


def test_gradcheck_on_non_contiguous_input_restores_it():
    base = mg.randn(3, 4, dtype=mg.float64)
    x = base.T.detach().requires_grad_()
    before = x.numpy(force=True).copy()
    assert gradcheck(lambda a: (a * a).sum(dim=0), (x,))
    np.testing.assert_array_equal(x.numpy(force=True), before)


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gx, gh) = mg.autograd.grad((h * h).sum(), [x, h])
    np.testing.assert_allclose(gx.numpy(), [18.0, 36.0])
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])
    assert x.grad is None


def test_autograd_grad_unused_input():
    x = mg.tensor([1.0], requires_grad=True)
    y = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mg.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = mg.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.item() == 2.0


def test_gradcheck_with_an_empty_input():
    x = mg.zeros(0, 3, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda a: a.sum(0), (x,))


def test_gradcheck_fails_when_the_function_drops_the_graph():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(lambda a: a.detach() * 2, (x,))
