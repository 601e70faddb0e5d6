"""What the kernels' Python wrappers share before they call Numba: the dtype to compute in
(float16 runs in float32), the check of a backward's operands, and arrays as C-contiguous
rows.

Numba compiles a kernel once per combination of argument types, so the wrappers hand every
kernel C-contiguous arrays of float32 or float64 only: two specialisations per kernel, and
inner loops that walk memory with unit stride, which LLVM vectorises.
"""

from __future__ import annotations

import math

import numpy as np


def compute_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """The dtype the kernels compute in: the input's, except float16 -> float32 (the result
    is rounded back to float16 once, at the end).

    Raises:
        ValueError: a dtype other than float16, float32 or float64, naming `op`.
    """
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    raise ValueError(f"{op}: dtype {dtype} is not supported; expected float16, float32 or "
                     f"float64")


def gradient_dtype(op: str, grad_out: np.ndarray, saved: np.ndarray, name: str) -> np.dtype:
    """The compute dtype of an elementwise backward, whose grad_out must have the shape of
    the forward's input or output `saved` (called `name` in the error).

    Raises:
        ValueError: the shapes differ, or the dtypes are not float16, float32 or float64.
    """
    if np.shape(grad_out) != np.shape(saved):
        raise ValueError(f"{op}: grad_out and {name} must have one shape, got "
                         f"{np.shape(grad_out)} and {np.shape(saved)}")
    return compute_dtype(op, np.result_type(grad_out, saved))


def as_rows(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(..., C) -> C-contiguous (M, C) of `dtype`: a view when x already is one, else a copy.

    The kernels walk each row with unit stride so that LLVM vectorises the walk; a strided
    row would be read element by element.
    """
    shape = (math.prod(x.shape[:-1]), x.shape[-1]) if x.ndim else (1, 1)
    return np.ascontiguousarray(x, dtype=dtype).reshape(shape)  # explicit: C may be 0
