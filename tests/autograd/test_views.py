"""Writes through views: the base's history follows, and stale views are rebuilt."""

import numpy as np
import pytest

import minigrad as mg


def test_augmented_assignment_on_an_indexed_non_leaf():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = mg.tensor(10.0, requires_grad=True)
    y = x * 1
    y[0] += w * 2
    assert y.tolist() == [21.0, 2.0, 3.0]
    (y * mg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])
    assert w.grad.item() == 2.0


def test_inplace_op_on_a_slice_updates_the_base_history():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w = mg.tensor([5.0, 6.0], requires_grad=True)
    y = x * 1
    y[0].mul_(w)  # row 0 becomes x[0] * w, through a view
    assert y.tolist() == [[5.0, 12.0], [3.0, 4.0]]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[5.0, 6.0], [1.0, 1.0]])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def test_chained_views_transpose_then_index():
    x = mg.ones(2, 3, requires_grad=True)
    y = x * 1
    y.T[0].mul_(3)  # column 0 of y, reached through two views
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[3.0, 1.0, 1.0], [3.0, 1.0, 1.0]])


def test_view_made_before_a_write_to_its_base_gets_the_new_history():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[0:2]
    y.mul_(2)  # v's values double too; its old grad_fn would say d v/d x = 1
    (v * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 0.0])


def test_overlapping_sibling_view_sees_a_write_through_another_view():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = mg.tensor([5.0, 5.0], requires_grad=True)
    y = x * 1
    v1, v2 = y[0:2], y[1:3]
    v1.mul_(w)
    assert v2.tolist() == [10.0, 3.0]
    v2.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 5.0, 1.0])
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 2.0])


def test_write_through_a_view_of_a_leaf_that_requires_grad_raises():
    x = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        x[0:2].add_(1)
    with mg.no_grad():
        x[0:2].add_(1)
    assert x.tolist() == [2.0, 2.0, 1.0] and x._version == 1


def test_base_without_grad_gains_history_from_a_view_write():
    buffer = mg.zeros(3)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    buffer[1:].copy_(w * 3)
    assert buffer.requires_grad and buffer.tolist() == [0.0, 3.0, 6.0]
    buffer.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_stale_view_as_an_output_of_autograd_grad_and_backward():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[0:2]
    y.mul_(3)
    (gx,) = mg.autograd.grad(v, x, grad_outputs=mg.ones(2), retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0, 0.0])
    mg.autograd.backward([v], [mg.ones(2)])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 0.0])


def test_a_long_chain_of_views_can_be_written_through():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    v = y
    for _ in range(3000):
        v = v[:]
    v.mul_(2)
    (y * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_view_taken_before_its_base_joined_a_graph_records_its_writes():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buffer = mg.ones(3)
    v = buffer[:]  # buffer is plain data here
    buffer.mul_(w)  # now buffer = w, with history
    v.mul_(3)  # must be recorded: buffer = 3w
    buffer.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0, 3.0])


def test_retain_grad_survives_an_inplace_write_and_a_view_refresh():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    assert y.retains_grad
    np.testing.assert_allclose(y.grad.numpy(), [12.0, 24.0])

    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = x * 1
    v = y[0:1]
    v.retain_grad()
    y.add_(1)
    (v * v).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [4.0])
