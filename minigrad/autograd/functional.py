"""`grad` and `backward`: the functional entry points to the engine (torch.autograd.grad/backward)."""

from __future__ import annotations

import numpy as np

from minigrad.autograd.engine import run_backward
from minigrad.tensor import Tensor


def _grads_for(outputs, grad_outputs, op: str) -> list:
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(f"{op}: an output does not require grad and has no grad_fn")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"{op}: grad can be implicitly created only for scalar "
                                   f"outputs; got an output of shape {out.shape}")
            g = np.ones_like(out.data)
        else:
            g = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=out.data.dtype)
            if g.shape != out.data.shape:
                raise RuntimeError(f"{op}: grad_output of shape {g.shape} for an output of "
                                   f"shape {out.data.shape}")
        grads.append(g)
    return grads


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """Return d(outputs)/d(inputs) without touching any `.grad`.

    Args:
        outputs: a Tensor or sequence of Tensors to differentiate.
        inputs: a Tensor or sequence of Tensors (leaves or not) to differentiate with respect to.
        grad_outputs: the vector in the vector-Jacobian product, one per output; may be
            omitted for one-element outputs.
        retain_graph: keep the graph's saved values for another backward.
        allow_unused: return None for an input the outputs do not depend on (else raise).
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    grads = run_backward(outputs, _grads_for(outputs, grad_outputs, "grad"), retain_graph,
                         inputs=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used in the "
                                   "graph; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(Tensor._wrap(np.array(g, dtype=t.data.dtype, copy=True)))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph: bool = False) -> None:
    """Accumulate gradients of `tensors` into the `.grad` of the leaves (several roots at once)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    run_backward(tensors, _grads_for(tensors, grad_tensors, "backward"), retain_graph)
