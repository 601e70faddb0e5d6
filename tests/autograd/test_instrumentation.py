"""The op-level instrumentation point: register_op_observer, on_forward, on_backward."""

import numpy as np

import minigrad as mg
from minigrad.autograd import function
from minigrad.autograd.function import Function, OpObserver, register_op_observer
from minigrad.ops.arithmetic import Mul
from minigrad.ops.pointwise import Exp
from minigrad.ops.reduce import Sum


class Recorder(OpObserver):
    def __init__(self):
        self.forward, self.backward = [], []

    def on_forward(self, op, ctx, inputs, output):
        self.forward.append((op, ctx, inputs, output))

    def on_backward(self, node, grad_output, grad_inputs):
        self.backward.append((node, grad_output, grad_inputs))


def test_observer_sees_every_forward_op_with_its_arrays_and_output():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    recorder = Recorder()
    with register_op_observer(recorder):
        y = (x * 3.0).exp().sum()
    assert [op for op, *_ in recorder.forward] == [Mul, Exp, Sum]
    _, ctx, inputs, _ = recorder.forward[0]
    assert inputs[0] is x.data and inputs[1] == 3.0  # Tensors as their arrays, options as given
    assert isinstance(ctx, Mul)
    assert recorder.forward[2][3] is y.data
    np.testing.assert_allclose(recorder.forward[1][3], np.exp([3.0, 6.0]), rtol=1e-6)


def test_observer_sees_every_backward_node_with_gradients():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    recorder = Recorder()
    with register_op_observer(recorder):
        y = (x * 3.0).exp().sum()
        y.backward()
    nodes = [node for node, *_ in recorder.backward]
    assert [type(n) for n in nodes] == [Sum, Exp, Mul]
    assert nodes[0] is y.grad_fn
    _, grad_output, grad_inputs = recorder.backward[2]
    np.testing.assert_allclose(grad_output, np.exp([3.0, 6.0]), rtol=1e-6)
    np.testing.assert_allclose(grad_inputs[0], 3 * np.exp([3.0, 6.0]), rtol=1e-6)
    assert len(grad_inputs) == 2 and grad_inputs[1] is None  # one slot per forward argument


def test_removed_observer_sees_nothing_and_the_list_is_empty_again():
    recorder = Recorder()
    handle = register_op_observer(recorder)
    mg.tensor([1.0]).exp()
    handle.remove()
    mg.tensor([1.0]).exp()
    assert len(recorder.forward) == 1
    assert function._op_observers == []
    handle.remove()  # a second remove is harmless


def test_two_observers_both_see_ops_and_are_removed_independently():
    first, second = Recorder(), Recorder()
    h1 = register_op_observer(first)
    with register_op_observer(second):
        mg.tensor([1.0]).exp()
    mg.tensor([1.0]).exp()
    h1.remove()
    assert len(first.forward) == 2 and len(second.forward) == 1


def test_custom_function_and_no_grad_ops_are_observed():
    class Twice(Function):
        @staticmethod
        def forward(ctx, a):
            return 2 * a

        @staticmethod
        def backward(ctx, grad):
            return 2 * grad

    recorder = Recorder()
    with register_op_observer(recorder), mg.no_grad():
        Twice.apply(mg.tensor([1.0], requires_grad=True))
    assert [op for op, *_ in recorder.forward] == [Twice]
    assert recorder.backward == []


def test_base_observer_methods_do_nothing():
    with register_op_observer(OpObserver()):
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
