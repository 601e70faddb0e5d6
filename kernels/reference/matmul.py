"""Matrix products: one (M, K) @ (K, N) product and a batch of them.

    C[i, j] = sum_k A[i, k] B[k, j]            FLOPs: 2 M N K (a multiply and an add per term)

The reference is NumPy's `matmul`, which hands float32 and float64 to the BLAS NumPy was built
with (OpenBLAS in the pip wheels: sgemm/dgemm, blocked, packed and multithreaded, the speed
`kernels.cpu.matmul` is measured against). It is also the specification of the Numba kernels:
same names, same arguments, same shapes, and the same values up to the rounding of a
different summation order (see `kernels/cpu/matmul.py` for the bound the tests use).

Memory: a product reads A (M K) and B (K N) and writes C (M N) at least once, so its
arithmetic intensity is at most 2 M N K / (itemsize (M K + K N + M N)) FLOPs per byte:
N / 6 FLOP/byte for float32 squares of side N (171 at N = 1024), far above what any memory
system feeds, which is why a good GEMM is limited by the arithmetic units, not by memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["matmul", "batched_matmul"]


def check_operands(op: str, a: np.ndarray, b: np.ndarray, ndim: int) -> None:
    """Raise if `a @ b` is not a product of `ndim`-D operands (2: matrices; 3: batches).

    Raises:
        ValueError: wrong number of dimensions, inner sizes that differ, or (3-D) batch sizes
            that differ; the message names both shapes.
        TypeError: operands of different dtypes (no silent promotion, as in PyTorch).
    """
    what = {2: "(M, K) and (K, N)", 3: "(B, M, K) and (B, K, N)"}[ndim]
    if a.ndim != ndim or b.ndim != ndim:
        raise ValueError(f"{op}: expected {ndim}-D operands {what}, got shapes {a.shape} and "
                         f"{b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align: "
                         f"{a.shape[-1]} != {b.shape[-2]}")
    if ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"{op}: batch sizes differ: shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: operands have different dtypes {a.dtype} and {b.dtype}")


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C = A B for two matrices.

    Args:
        a: (M, K) array. b: (K, N) array of the same dtype. Any memory layout.

    Returns:
        (M, N) array of their dtype. FLOPs: 2 M N K. An empty K gives zeros.
    """
    check_operands("matmul", a, b, 2)
    return np.matmul(a, b)


def batched_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C[t] = A[t] B[t] for a batch of B independent products (no broadcasting).

    Args:
        a: (B, M, K) array. b: (B, K, N) array of the same dtype. Any memory layout.

    Returns:
        (B, M, N) array of their dtype. FLOPs: 2 B M N K.
    """
    check_operands("batched_matmul", a, b, 3)
    return np.matmul(a, b)
