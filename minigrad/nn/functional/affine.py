"""The affine map y = x W^T + b, the layer every network is built from.

With the rows of x (all its leading dimensions) flattened to X (M, in) and G = dL/dy as
(M, out): dL/dX = G W, dL/dW = G^T X, dL/db = G summed over the rows. `Linear` computes that
as one op with three matrix products, as PyTorch's addmm does, rather than as a transpose, a
matmul and a broadcast add (three graph nodes, and a bias gradient that sums a 3-D array).
FLOPs: 2 M in out (+ M out for the bias) forward, twice the products backward. The weight is
stored (out_features, in_features), as in PyTorch, so that each row is one output unit's
weights. The three products go through `minigrad.ops.linalg.matmul_arrays`, so the backend's
GEMM kernel runs them (the hand-written one under "numba"; W^T and G^T are transposed views,
which it packs without a copy).
"""

from __future__ import annotations

import math

from minigrad.autograd.function import Function
from minigrad.ops.linalg import check_dtypes_match, matmul, matmul_arrays
from minigrad.tensor import Tensor


class Linear(Function):
    """y = x W^T + b for x (*, in), W (out, in), b (out,) or None."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)
        ctx.x_shape = x.shape
        rows = math.prod(x.shape[:-1])
        out = matmul_arrays(x.reshape(rows, x.shape[-1]), weight.T)
        if bias is not None:
            out += bias
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        rows = math.prod(ctx.x_shape[:-1])  # not -1: size-0 shapes are legal
        grad = grad.reshape(rows, grad.shape[-1])
        grad_x = grad_w = grad_b = None
        if ctx.parents[0] is not None:
            grad_x = matmul_arrays(grad, weight).reshape(ctx.x_shape)
        if ctx.parents[1] is not None:
            grad_w = matmul_arrays(grad.T, x.reshape(rows, ctx.x_shape[-1]))
        if ctx.parents[2] is not None:
            grad_b = grad.sum(axis=0)
        return grad_x, grad_w, grad_b


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply y = x W^T + b.

    Args:
        input: (*, in_features) float tensor.
        weight: (out_features, in_features) tensor, or (in_features,) for a single output
            whose dimension is dropped.
        bias: (out_features,) tensor (anything broadcastable to the output), or None.

    Returns:
        (*, out_features) tensor.

    Raises:
        RuntimeError: when the last dimension of `input` is not `in_features`, or when weight
            or bias has another float dtype than input (PyTorch does not promote either).
    """
    if weight.ndim not in (1, 2):
        raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), got "
                           f"shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input of shape {input.shape} does not match weight of shape "
                           f"{weight.shape}: expected the input's last dimension to be "
                           f"in_features = {weight.shape[-1]}")
    check_dtypes_match(input.data.dtype, weight.data.dtype, "input and weight", "linear")
    if bias is not None:
        check_dtypes_match(input.data.dtype, bias.data.dtype, "input and bias", "linear")
    if weight.ndim == 2 and (bias is None or tuple(bias.shape) == (weight.shape[0],)):
        return Linear.apply(input, weight, bias)
    out = matmul(input, weight.T)  # a 1-D weight, or a bias of another broadcastable shape
    if bias is not None:
        out = out + bias
    return out
