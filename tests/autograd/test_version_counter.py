"""In-place writes and the version counter: wrong gradients become clear errors."""

import numpy as np
import pytest

import minigrad as mg


def test_modifying_a_saved_input_raises_at_backward_naming_the_op():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = (a * a).sum()  # Mul saves a
    a.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*MulBackward.*"
                                           r"version 1; expected version 0"):
        y.backward()


def test_modifying_a_saved_output_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()  # Exp saves its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        e.sum().backward()


def test_modifying_through_a_view_is_detected():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = x * 1
    y = a.sin().sum()  # Sin saves a
    with mg.no_grad():
        a.view(4)[0] = 10.0  # the view shares a's version counter
    with pytest.raises(RuntimeError, match="SinBackward"):
        y.backward()


def test_inplace_op_not_saved_by_anyone_is_fine_and_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a.mul_(3)  # the old a is not needed by anyone else
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    assert a._version == 1


def test_mul_inplace_uses_old_values_for_its_own_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    a = x * 1
    a.mul_(w)
    a.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])  # the values of a before the write
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_inplace_on_leaf_requiring_grad_raises():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.add_(1)
    with mg.no_grad():
        x.add_(1)  # what optimizers do
    assert x.item() == 2.0 and x._version == 1


def test_setitem_on_non_leaf_is_differentiable():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = mg.tensor(5.0, requires_grad=True)
    a = x * 2
    a[1] = v * 3
    (a * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 200.0])
    assert v.grad.item() == 30.0


def test_detach_shares_data_and_version_counter():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = (a * a).sum()
    d = a.detach()
    assert not d.requires_grad
    d.zero_()
    assert a.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()
