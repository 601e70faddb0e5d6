"""Tests of `minigrad.autograd.engine.queue_callback`: callbacks that run when a backward pass ends."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd.engine import _pass_callbacks, queue_callback


def test_callback_runs_after_every_leaf_has_its_grad():
    """Queued from the first leaf's hook, the callback sees the gradients of all leaves."""
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    seen = []

    def snapshot():
        seen.append((a.grad.numpy().copy(), b.grad.numpy().copy()))

    def queue_once(_):
        if not queued:
            queued.append(True)
            queue_callback(snapshot)

    queued = []
    a.register_post_accumulate_grad_hook(queue_once)
    b.register_post_accumulate_grad_hook(queue_once)
    (a * b).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0][0], [3.0, 4.0])
    np.testing.assert_array_equal(seen[0][1], [1.0, 2.0])


def test_callbacks_run_in_order_and_may_queue_more():
    w = mg.tensor([1.0], requires_grad=True)
    order = []

    def second():
        order.append("second")
        queue_callback(lambda: order.append("queued by second"))

    w.register_hook(lambda g: (queue_callback(lambda: order.append("first")),
                               queue_callback(second))[0])
    (w * 2).sum().backward()
    assert order == ["first", "second", "queued by second"]
    assert _pass_callbacks == []


def test_callback_runs_once_per_pass():
    w = mg.tensor([1.0], requires_grad=True)
    count = []
    w.register_post_accumulate_grad_hook(lambda t: queue_callback(lambda: count.append(1)))
    for _ in range(3):
        (w * 2).sum().backward()
    assert len(count) == 3


def test_nested_pass_callbacks_belong_to_the_inner_pass():
    """A hook that runs a backward of its own: the inner callback fires at the inner pass's end,
    before the outer pass goes on."""
    outer = mg.tensor([1.0], requires_grad=True)
    inner = mg.tensor([2.0], requires_grad=True)
    events = []
    inner.register_post_accumulate_grad_hook(
        lambda t: queue_callback(lambda: events.append("inner done")))

    inner_loss = (inner * 3).sum()  # built here: hooks run with grad mode off

    def outer_hook(grad):
        inner_loss.backward()
        events.append("outer hook returns")
        queue_callback(lambda: events.append("outer done"))

    outer.register_hook(outer_hook)
    (outer * 2).sum().backward()
    assert events == ["inner done", "outer hook returns", "outer done"]


def test_no_callback_after_a_failed_walk():
    w = mg.tensor([1.0], requires_grad=True)
    ran = []

    def failing_hook(grad):
        queue_callback(lambda: ran.append(True))
        raise ValueError("hook failed")

    w.register_hook(failing_hook)
    with pytest.raises(ValueError, match="hook failed"):
        (w * 2).sum().backward()
    assert ran == [] and _pass_callbacks == []


def test_queue_callback_outside_backward_raises():
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)
