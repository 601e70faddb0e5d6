"""The backward walk: accumulation, shared subgraphs, hooks, retain_graph, deep graphs."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function


def test_gradients_accumulate_into_leaves_across_backward_calls():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_node_used_twice_receives_the_sum_of_both_paths():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * x  # one node feeding two consumers
    y = (h * 2 + h.exp()).sum()
    y.backward()
    xn = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    np.testing.assert_allclose(x.grad.numpy(), 2 * xn * (2 + np.exp(xn * xn)), rtol=1e-6)


def test_diamond_graph_runs_each_backward_once():
    calls = []

    class Count(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, grad):
            calls.append(grad.copy())
            return grad

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = Count.apply(x)
    (c * 2 + c * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, 5.0])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_leaf_grads_do_not_share_memory():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the same array to both inputs
    a.grad.mul_(10)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_deep_chain_of_100000_ops_does_not_recurse():
    x = mg.tensor(2.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_backward_twice_without_retain_graph_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_backward_on_non_scalar_needs_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(gradient=mg.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_backward_gradient_shape_mismatch_names_shapes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(gradient=mg.ones(3))


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_hooks_on_leaf_and_non_leaf_can_replace_the_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    x.register_hook(lambda g: g + 1)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [31.0, 31.0])


def test_leaf_hook_sees_the_summed_gradient_once():
    x = mg.tensor([1.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 2 + x * 5).sum().backward()
    assert seen == [7.0]


def test_hook_handle_removes_the_hook():
    x = mg.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 2.0


def test_post_accumulate_grad_hook_runs_after_grad_is_set():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * w).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])


def test_retain_grad_keeps_non_leaf_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)


def test_backward_inputs_limits_accumulation():
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([2.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.item() == 2.0
    assert b.grad is None


def test_unused_branch_does_not_block_the_walk():
    # x feeds y directly and through a node that gets no gradient (its output is unused)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * 3).sum()
    mg.autograd.backward([z, y.sum()])
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 8.0])


def test_debug_mode_names_a_function_returning_a_wrong_shape(monkeypatch):
    from minigrad.autograd import engine, function

    monkeypatch.setattr(function, "DEBUG", True)
    monkeypatch.setattr(engine, "DEBUG", True)

    class Broken(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum(keepdims=True)

        @staticmethod
        def backward(ctx, grad):
            return grad  # wrong: shape (1,), the input has (3,)

    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BrokenBackward.*input 0.*\(3,\)"):
        Broken.apply(x).sum().backward()


def test_custom_function_with_non_tensor_arguments_and_needs_input_grad():
    class Scale(Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            ctx.factor = factor
            assert ctx.needs_input_grad == (True, False, False)
            return a * b * factor

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor, None  # trailing None for `factor` may be omitted

    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([5.0, 5.0])
    Scale.apply(a, b, 3.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])


def test_hook_may_not_change_the_gradient_shape_or_dtype():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: mg.ones(3))
    with pytest.raises(RuntimeError, match=r"changed the gradient from shape \(2,\).*\(3,\)"):
        (x * 2).sum().backward()
    y = mg.tensor([1.0, 2.0], requires_grad=True)
    h = y * 2
    h.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="dtype float32 to shape .* dtype float64"):
        h.sum().backward()


def test_retain_grad_stores_the_gradient_after_the_other_hooks():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [10.0, 10.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])


def test_retain_grad_creates_no_reference_cycle():
    import weakref

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    node = weakref.ref(y.grad_fn)
    del y
    assert node() is None  # freed by reference counting alone, no gc pass needed


def test_saved_arrays_are_freed_by_backward():
    import weakref

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = h.sin().sum()  # Sin saves its input h; Exp saves its output h
    saved = weakref.ref(y.grad_fn.next_functions[0]._saved[0])
    del h
    y.backward()
    assert saved() is None


def test_second_backward_through_nodes_that_saved_nothing_is_allowed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()  # PyTorch allows this too: nothing was freed
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_autograd_grad_stops_at_its_inputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y.sum()  # SumBackward saves nothing, so it can run twice
    (gy,) = mg.autograd.grad(z, [y])
    np.testing.assert_allclose(gy.numpy(), [1.0, 1.0])
    (gx,) = mg.autograd.grad(z, [x])  # ExpBackward did not run (nor free) in the first call
    np.testing.assert_allclose(gx.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


def test_autograd_grad_applies_hooks_and_accepts_repeated_inputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    g1, g2 = mg.autograd.grad((x * x).sum(), [x, x])
    np.testing.assert_allclose(g1.numpy(), [20.0, 40.0])
    np.testing.assert_allclose(g2.numpy(), [20.0, 40.0])
    assert x.grad is None


def test_autograd_grad_runs_no_hook_off_the_path_to_its_inputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    u = mg.tensor([3.0, 4.0], requires_grad=True)
    side = u * 1
    seen = []
    side.register_hook(lambda g: seen.append(g))
    y = x * 1
    (g,) = mg.autograd.grad((y * side).sum(), y)
    np.testing.assert_allclose(g.numpy(), [3.0, 4.0])
    assert seen == [] and u.grad is None


def test_a_function_without_backward_names_itself():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="NoBackward: backward is abstract"):
        NoBackward.apply(x).sum().backward()


def test_backward_inputs_runs_each_leaf_hook_once():
    # PyTorch: x.grad == 6 (hook doubles 3 once); the hooks used to run twice here, giving 12
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(1) or g * 2)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.data.copy()))
    (x * 3).sum().backward(inputs=[x])
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    assert len(calls) == 1 and len(seen) == 1
