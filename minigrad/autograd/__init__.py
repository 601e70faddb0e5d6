"""Reverse-mode automatic differentiation: `Function`, the engine, grad modes, gradcheck.

- `function.py`: `Function` (one op: forward and backward), `unbroadcast`, and the op-level
  instrumentation point (`register_op_observer`) the profiler counts FLOPs and memory with.
- `engine.py`: the backward walk in topological order.
- `grad_mode.py`: `no_grad`, `enable_grad`, `set_grad_enabled`.
- `functional.py`: `grad(outputs, inputs)` and `backward(tensors)`.
- `gradcheck.py`: finite-difference checking of any op's backward.
- `inplace.py`: in-place writes and views under autograd (history, versions, CopySlices).
"""

from minigrad.autograd.function import (Function, OpObserver, register_op_observer,
                                        unbroadcast)
from minigrad.autograd.functional import backward, grad
from minigrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minigrad.autograd.gradcheck import GradcheckError, gradcheck

__all__ = [
    "Function", "GradcheckError", "OpObserver", "backward", "enable_grad", "grad", "gradcheck",
    "is_grad_enabled", "no_grad", "register_op_observer", "set_grad_enabled", "unbroadcast",
]
