"""The backward pass: walk the graph from the outputs to the leaves, applying the chain rule.

A node may run its `backward` only after every op that consumed its output has sent it a
gradient, otherwise it would pass on a partial sum. So the walk is in topological order, found
without recursion (a chain of 100,000 ops must not overflow Python's stack):

1. `_count_consumers`: one iterative depth-first pass over the graph counts, for every node
   and leaf, how many edges point into it.
2. `run_backward`: Kahn's algorithm. Start from the roots; each time a node's backward sends a
   gradient along an edge, that parent's count drops by one; a parent whose count reaches zero
   has received its whole gradient and becomes ready. Leaves receive their summed gradient
   (after their hooks) into `.grad`.

For `autograd.grad(outputs, inputs)` the walk only runs the nodes that lie on a path to one of
the inputs (`_nodes_leading_to`), and stops there: the rest of the graph is left untouched.

A hook that must act once the whole pass is over (DistributedDataParallel waiting for its last
all-reduce) queues a callback with `queue_callback`; the walk runs the callbacks at its end.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import DEBUG, Function, _op_observers, freed_graph_error
from minigrad.autograd.grad_mode import _GradMode

# One list per backward pass in progress (a hook may start a nested pass): the callbacks queued
# during that pass, run when its walk is over.
_pass_callbacks: list[list] = []


def queue_callback(callback) -> None:
    """Run `callback()` once the backward pass now running has finished its walk.

    PyTorch's `Variable._execution_engine.queue_callback`: for a hook that must act after every
    gradient of the pass has arrived (DDP waits for its last buckets there). Callbacks run in
    the order they were queued, after the last leaf's `.grad` was written, with grad mode off;
    one queued by a callback runs in the same pass. If the walk raises, none runs.

    Raises:
        RuntimeError: no backward pass is running (call it from a hook during backward).
    """
    if not _pass_callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a hook "
                           "while backward runs")
    _pass_callbacks[-1].append(callback)


def _count_consumers(roots, consumers=None) -> dict:
    """Map id(node or leaf) -> number of graph edges that point into it.

    If `consumers` is a dict, it is filled with id(node or leaf) -> the nodes that consume it.
    """
    counts = {}
    stack = [r for r in roots if isinstance(r, Function)]
    seen = {id(r) for r in stack}
    while stack:
        node = stack.pop()
        for p in node.parents:
            if p is None:
                continue
            k = id(p)
            counts[k] = counts.get(k, 0) + 1
            if consumers is not None:
                consumers.setdefault(k, []).append(node)
            if k not in seen:
                seen.add(k)
                if isinstance(p, Function):
                    stack.append(p)
    return counts


def _nodes_leading_to(targets, consumers: dict) -> set:
    """ids of the nodes from which some target can be reached: the ones whose backward runs."""
    needed = set()
    stack = list(targets)
    while stack:
        for node in consumers.get(stack.pop(), ()):
            k = id(node)
            if k not in needed:
                needed.add(k)
                stack.append(k)
    return needed


def _graph_key(t) -> int:
    """Where a tensor's gradient arrives: its grad_fn node, or the leaf itself."""
    return id(t.grad_fn if t.grad_fn is not None else t)


def run_backward(outputs, grads, retain_graph: bool = False, inputs=None):
    """Backpropagate `grads` (arrays) from `outputs` (Tensors with a graph).

    With `inputs=None`, gradients of leaves accumulate into their `.grad` (Tensor.backward).
    With a list of Tensors as `inputs`, nothing is accumulated; their gradients (after their
    hooks) are returned as a list of arrays, None where an input got no gradient, as
    `autograd.grad` needs; only the part of the graph between outputs and inputs is run.
    """
    for t in outputs:
        t._sync_if_stale_view()
    roots = [t.grad_fn if t.grad_fn is not None else t for t in outputs]
    wanted = needed = None
    if inputs is not None:
        for t in inputs:
            t._sync_if_stale_view()
        wanted = {_graph_key(t) for t in inputs}
        consumers = {}
        counts = _count_consumers(roots, consumers)
        needed = _nodes_leading_to(wanted, consumers)
    else:
        counts = _count_consumers(roots)
    pending = {}
    for root, g in zip(roots, grads):
        k = id(root)
        pending[k] = pending[k] + g if k in pending else g
    # a root is ready once nothing inside the graph also feeds it
    ready = list({id(r): r for r in roots if counts.get(id(r), 0) == 0}.values())
    captured = {}

    previous_mode = _GradMode.enabled
    _GradMode.enabled = False  # hooks and gradient arithmetic must not build a graph
    callbacks = []
    _pass_callbacks.append(callbacks)
    try:
        while ready:
            node = ready.pop()
            key = id(node)
            grad = pending.pop(key, None)
            if not isinstance(node, Function):  # a leaf tensor
                if grad is not None:
                    if wanted is None:
                        node._accumulate_grad(grad)
                    elif key in wanted:
                        captured[key] = node._run_leaf_hooks(grad)
                continue
            parents = node.parents
            off_path = needed is not None and key not in needed and key not in wanted
            if grad is not None and not off_path:
                if node._tensor_hooks:
                    grad = run_hooks(node._tensor_hooks, grad, node)
                if node._retained_by is not None:
                    node._store_retained_grad(grad)
                if wanted is not None and key in wanted:
                    captured[key] = grad
            if grad is None or (needed is not None and key not in needed):
                in_grads = (None,) * len(parents)  # nothing to send: parents only count down
            else:
                if node._freed:
                    raise freed_graph_error(node)
                in_grads = node.backward(node, grad)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
                if len(in_grads) < len(parents):  # trailing Nones may be omitted
                    in_grads += (None,) * (len(parents) - len(in_grads))
                if _op_observers:
                    for observer in tuple(_op_observers):
                        observer.on_backward(node, grad, in_grads)
                if DEBUG:
                    _check_gradients(node, in_grads)
                if not retain_graph:
                    node._release()
            for p, g in zip(parents, in_grads):
                if p is None:
                    continue
                k = id(p)
                if g is not None:
                    pending[k] = pending[k] + g if k in pending else g
                counts[k] -= 1
                if counts[k] == 0:
                    ready.append(p)
        while callbacks:  # not a for loop: a callback may queue another
            callbacks.pop(0)()
    finally:
        _pass_callbacks.pop()
        _GradMode.enabled = previous_mode
    if inputs is not None:
        return [captured.get(_graph_key(t)) for t in inputs]
    return None


def run_hooks(hooks, grad, owner):
    """Call each hook on the gradient; a hook may return a replacement of the same shape and
    dtype (as in PyTorch, a hook can change values, never the gradient's shape or type)."""
    from minigrad.tensor import Tensor

    for hook in hooks:
        result = hook(Tensor._wrap(grad, False))
        if result is None:
            continue
        new = result.data if isinstance(result, Tensor) else np.asarray(result)
        if new.shape != np.shape(grad) or new.dtype != grad.dtype:
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} on {owner!r} changed the gradient from "
                f"shape {np.shape(grad)} and dtype {grad.dtype} to shape {new.shape} and dtype "
                f"{new.dtype}; a hook may only change the values"
            )
        grad = new
    return grad


def _check_gradients(node, in_grads) -> None:
    """MINIGRAD_DEBUG=1: every gradient must have its input's shape and dtype."""
    meta = node._input_meta
    for i, g in enumerate(in_grads):
        if g is None or i >= len(meta) or meta[i] is None:
            continue
        shape, dtype = meta[i]
        if isinstance(g, np.generic):  # NumPy returns scalars for 0-d arithmetic: that's fine
            g = np.asarray(g)
        if not isinstance(g, np.ndarray) or g.shape != shape or g.dtype != dtype:
            got = (getattr(g, "shape", type(g).__name__), getattr(g, "dtype", None))
            raise RuntimeError(
                f"{node!r} returned a gradient for input {i} with shape and dtype {got}; "
                f"the input has shape {shape} and dtype {dtype}"
            )
