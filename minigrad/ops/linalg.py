"""Matrix multiplication for 1-D, 2-D and batched (broadcasting) operands.

For C = A B with A: (..., M, K), B: (..., K, N) and G = dL/dC, the chain rule gives
dL/dA = G B^T and dL/dB = A^T G (each summed over broadcast batch dimensions).
A 1-D operand is a vector: it is treated as (1, K) on the left or (K, 1) on the right, and
that extra dimension is removed from the result, exactly as NumPy and PyTorch do.
FLOPs: 2 M N K per matrix product.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function, unbroadcast
from minigrad.ops.arithmetic import promote
from minigrad.tensor import Tensor


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(np.asarray(a), np.asarray(b))
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # put back the dimensions a 1-D operand removed from the result
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        ga = gb = None
        if ctx.parents[0] is not None:
            ga = unbroadcast(np.matmul(grad, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if ctx.parents[1] is not None:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), grad), b2.shape).reshape(b.shape)
        return ga, gb


def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics (vectors, matrices, broadcast batches)."""
    sa, sb = np.shape(input.data if isinstance(input, Tensor) else input), np.shape(
        other.data if isinstance(other, Tensor) else other)
    if not sa or not sb:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{sa} and {sb}")
    k_left = sa[-1]
    k_right = sb[0] if len(sb) == 1 else sb[-2]
    if k_left != k_right:
        raise RuntimeError(f"matmul: shapes {sa} and {sb} do not align: {k_left} != {k_right}")
    if len(sa) > 2 and len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of {sa} and {sb} do not "
                               "broadcast") from None
    return MatMul.apply(input, other)


def mm(input, mat2) -> Tensor:
    """The matrix product of two 2-D tensors, without broadcasting (`matmul` broadcasts).

    Args:
        input: (n, m).
        mat2: (m, p); the result is (n, p).
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def bmm(input, mat2) -> Tensor:
    """The batched matrix product of two 3-D tensors with the same batch size, without
    broadcasting (`matmul` broadcasts).

    Args:
        input: (b, n, m).
        mat2: (b, m, p); the result is (b, n, p).
    """
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with equal batch size, got shapes "
                           f"{input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def outer(input, vec2) -> Tensor:
    """The outer product of two vectors: `out[i, j] = input[i] * vec2[j]`.

    Args:
        input: (n,).
        vec2: (m,); the result is (n, m).
    """
    from minigrad.ops.shape import unsqueeze

    return matmul(unsqueeze(input, 1), unsqueeze(vec2, 0))


def dot(input, other) -> Tensor:
    """The inner product sum(input * other) of two 1-D tensors of equal length, a 0-d tensor."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: expected 1-D tensors, got shapes {input.shape} and "
                           f"{other.shape}")
    return matmul(input, other)
