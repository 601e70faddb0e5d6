"""Matrix multiplication for 1-D, 2-D and batched (broadcasting) operands.

For C = A B with A: (..., M, K), B: (..., K, N) and G = dL/dC, the chain rule gives
dL/dA = G B^T and dL/dB = A^T G (each summed over broadcast batch dimensions).
A 1-D operand is a vector: it is treated as (1, K) on the left or (K, 1) on the right, and
that extra dimension is removed from the result, exactly as NumPy and PyTorch do.
FLOPs: 2 M N K per matrix product.

Every product here, forward and backward (and `Linear`'s), goes through `matmul_arrays`,
which hands float32 and float64 matrices to the backend's GEMM kernels
(`minigrad.backend.kernel("matmul")` and `"batched_matmul"`): under the "numba" backend that
is `kernels.cpu.matmul`, the hand-written blocked kernel; under "numpy" and "auto" it is the
reference, NumPy's matmul (OpenBLAS).
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.autograd.function import Function, unbroadcast
from minigrad.backend import kernel, uses_numba
from minigrad.ops.arithmetic import promote
from minigrad.tensor import Tensor

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def matmul_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`np.matmul(a, b)` for arrays (vectors, matrices, broadcast batches), with the float32 and
    float64 matrix products run by the backend's kernels.

    A product whose right operand is one matrix, (..., M, K) @ (K, N), is one
    (prod(...) M, K) @ (K, N) GEMM: NumPy's broadcasting matmul would loop over the leading
    dimensions instead (40x slower at (32, 64, 96)). It runs as `kernel("matmul")` under every
    backend. Vectors and batches run on the kernels under "numba" only (`_matmul_by_kernels`);
    otherwise NumPy's matmul takes them as they are, so that nothing is copied or changed.
    Other dtypes (integers, float16) always use NumPy.
    """
    if a.dtype not in _KERNEL_DTYPES or a.dtype != b.dtype:
        return _fold_and_multiply(a, b, np.matmul)
    if uses_numba("matmul"):
        return _matmul_by_kernels(a, b)
    return _fold_and_multiply(a, b, kernel("matmul"))


def _fold_and_multiply(a: np.ndarray, b: np.ndarray, gemm) -> np.ndarray:
    if a.ndim >= 2 and b.ndim == 2:
        rows = math.prod(a.shape[:-1])  # not -1: size-0 shapes are legal
        return gemm(a.reshape(rows, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[1])
    return np.matmul(a, b)


def _matmul_by_kernels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`np.matmul(a, b)` as one 2-D or one batched kernel call: a vector becomes a (1, K) or a
    (K, 1) matrix (its axis is dropped from the result), and broadcast batch dimensions are
    materialised, (..., M, K) -> (B, M, K), which copies an operand that is broadcast."""
    left = a.reshape(1, -1) if a.ndim == 1 else a
    right = b.reshape(-1, 1) if b.ndim == 1 else b
    (m, k), n = left.shape[-2:], right.shape[-1]
    if right.ndim == 2:
        out = _fold_and_multiply(left, right, kernel("matmul"))
    else:
        batch = np.broadcast_shapes(left.shape[:-2], right.shape[:-2])
        count = math.prod(batch)
        out = kernel("batched_matmul")(
            np.broadcast_to(left, batch + (m, k)).reshape(count, m, k),
            np.broadcast_to(right, batch + (k, n)).reshape(count, k, n)).reshape(*batch, m, n)
    dropped = (-2,) * (a.ndim == 1) + (-1,) * (b.ndim == 1)
    return np.squeeze(out, axis=dropped) if dropped else out


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(np.asarray(a), np.asarray(b))
        ctx.shapes = a.shape, b.shape
        # save only what the needed gradients read (dL/dA = G B^T, dL/dB = A^T G), as PyTorch
        # does: then an in-place change of an operand that no gradient reads is no error
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return matmul_arrays(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        a2_shape = (1,) + a_shape if len(a_shape) == 1 else a_shape
        b2_shape = b_shape + (1,) if len(b_shape) == 1 else b_shape
        # put back the dimensions a 1-D operand removed from the result
        if len(b_shape) == 1:
            grad = np.expand_dims(grad, -1)
        if len(a_shape) == 1:
            grad = np.expand_dims(grad, -2)
        ga = gb = None
        if len(a_shape) > 2 and len(b_shape) == 2:  # the folded GEMM of forward
            rows = math.prod(a_shape[:-1])
            g2 = grad.reshape(rows, b_shape[1])
            if ctx.parents[0] is not None:
                ga = matmul_arrays(g2, b.T).reshape(a_shape)
            if ctx.parents[1] is not None:
                gb = matmul_arrays(a.reshape(rows, a_shape[-1]).T, g2)
            return ga, gb
        if ctx.parents[0] is not None:
            b2 = b.reshape(b2_shape)
            ga = unbroadcast(matmul_arrays(grad, np.swapaxes(b2, -1, -2)),
                             a2_shape).reshape(a_shape)
        if ctx.parents[1] is not None:
            a2 = a.reshape(a2_shape)
            gb = unbroadcast(matmul_arrays(np.swapaxes(a2, -1, -2), grad),
                             b2_shape).reshape(b_shape)
        return ga, gb


def check_dtypes_match(da: np.dtype, db: np.dtype, names: str, op: str) -> None:
    """RuntimeError if `da` and `db` differ.

    PyTorch's matrix products never promote (float32 @ float64, or int64 @ float32, raises
    "expected m1 and m2 to have the same dtype"), so that a float64 tensor cannot silently
    turn a float32 model into a float64 one.
    """
    if da != db:
        raise RuntimeError(f"{op}: expected {names} to have the same dtype, got {da} and {db}; "
                           "cast one with .to()")


def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics (vectors, matrices, broadcast batches).

    Operands of different dtypes raise, as in PyTorch (cast one with `.to()` first).
    """
    a = np.asarray(input.data if isinstance(input, Tensor) else input)
    b = np.asarray(other.data if isinstance(other, Tensor) else other)
    sa, sb = a.shape, b.shape
    check_dtypes_match(a.dtype, b.dtype, "both operands", "matmul")
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
