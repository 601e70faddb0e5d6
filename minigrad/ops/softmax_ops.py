"""softmax and log_softmax along one dimension, stable for logits of any magnitude.

Both subtract the row maximum before exponentiating (softmax is unchanged by a shift), so
exp never overflows, even for logits of magnitude 1e4. Backward, with y = softmax(x) and
g = dL/dy:  dL/dx = y * (g - sum(g * y));  for z = log_softmax(x):  dL/dx = g - y * sum(g).
float16 inputs are computed in float32 and rounded once, as PyTorch does (see `upcast_half`).
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function
from minigrad.ops.reduce import upcast_half
from minigrad.tensor import Tensor, _check_dim


def _shifted(a: np.ndarray, dim: int) -> np.ndarray:
    m = np.max(a, axis=dim, keepdims=True, initial=-np.inf)  # initial: empty tensors work too
    return a - np.where(np.isfinite(m), m, 0)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        e = np.exp(_shifted(upcast_half(a), dim))
        out = (e / np.sum(e, axis=dim, keepdims=True)).astype(a.dtype, copy=False)
        ctx.dim = dim
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        y, g = upcast_half(y), upcast_half(grad)
        return (y * (g - np.sum(g * y, axis=ctx.dim, keepdims=True))).astype(grad.dtype,
                                                                             copy=False)


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        z = _shifted(upcast_half(a), dim)
        with np.errstate(divide="ignore"):  # log(0) = -inf for an empty or all -inf row
            out = z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        out = out.astype(a.dtype, copy=False)
        ctx.dim = dim
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        g = upcast_half(grad)
        return (g - np.exp(upcast_half(out)) * np.sum(g, axis=ctx.dim, keepdims=True)).astype(
            grad.dtype, copy=False)


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
