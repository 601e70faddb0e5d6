"""softmax and log_softmax along one dimension, stable for logits of any magnitude.

Both subtract the row maximum before exponentiating (softmax is unchanged by a shift), so
exp never overflows, even for logits of magnitude 1e4. Backward, with y = softmax(x) and
g = dL/dy:  dL/dx = y * (g - sum(g * y));  for z = log_softmax(x):  dL/dx = g - y * sum(g).
float16 inputs are computed in float32 and rounded once, as PyTorch does.

The arithmetic is the kernels' (`kernel("softmax_forward")` and friends, chosen by
`minigrad.backend`), which work along the last axis: the ops move `dim` last (a view) and
back.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function
from minigrad.backend import kernel
from minigrad.tensor import Tensor, _check_dim


def _along_last(name: str, dim: int, *arrays: np.ndarray) -> np.ndarray:
    """Kernel `name` applied along `dim`: moved last (a view), then moved back."""
    if arrays[0].ndim == 0:  # a 0-d tensor is one row of one element
        return kernel(name)(*(a.reshape(1) for a in arrays)).reshape(())
    out = kernel(name)(*(np.moveaxis(a, dim, -1) for a in arrays))
    return np.moveaxis(out, -1, dim)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        out = _along_last("softmax_forward", dim, a)
        ctx.dim = dim
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return _along_last("softmax_backward", ctx.dim, grad, y)


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        out = _along_last("log_softmax_forward", dim, a)
        ctx.dim = dim
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return _along_last("log_softmax_backward", ctx.dim, grad, out)


def _float_input(input: Tensor, dtype, op: str) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    if input.data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {input.dtype}")
    return input


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`."""
    input = _float_input(input, dtype, "softmax")
    return Softmax.apply(input, _check_dim(dim, input.ndim, "softmax"))


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """x - logsumexp(x) along `dim`; use it (not log(softmax)) for losses."""
    input = _float_input(input, dtype, "log_softmax")
    return LogSoftmax.apply(input, _check_dim(dim, input.ndim, "log_softmax"))
