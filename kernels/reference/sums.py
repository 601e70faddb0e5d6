"""Sums over axes with einsum, accumulated in at least float32."""

from __future__ import annotations

import numpy as np

__all__ = ["channel_sum"]


def channel_sum(subscripts: str, *operands: np.ndarray) -> np.ndarray:
    """`np.einsum(subscripts, *operands)` accumulated in at least float32.

    The normalisations and softmax take their sums with einsum (one pass, several times
    faster than `ndarray.sum` over strided axes); einsum accumulates in the operands' dtype,
    so float16 inputs are summed in float32, as `ndarray.mean` and PyTorch do, then cast back.
    """
    dtype = operands[0].dtype
    if dtype == np.float16:
        return np.einsum(subscripts, *operands, dtype=np.float32).astype(dtype)
    return np.einsum(subscripts, *operands)
