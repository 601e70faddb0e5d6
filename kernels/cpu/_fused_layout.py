"""What the fused kernels' Python wrappers share: the compute dtype, the row layout and when
to stay on one thread."""

from __future__ import annotations

import math

import numpy as np

from kernels.cpu._threads import serial_below

# Below this many elements (4 MB of float32) a call runs on one thread. Such a call takes
# under a millisecond on one core (a GPT-sized (2048, 384) GELU: 0.6 ms), so two threads
# could save at most a few hundred microseconds, and inside a training step a parallel region
# competes with OpenBLAS's worker threads, which keep spinning for a while after each GEMM
# (as Numba's own do after each region). On the 2-core machine, with other jobs running, the
# character GPT's 2-thread step was fastest with this threshold: 374-949 ms against 590-1240
# at 2^16 elements and 510-1050 without the fused kernels (3 interleaved runs each).
SERIAL_BELOW = 1 << 20


def compute_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """The dtype the kernels compute in: the input's, except float16 -> float32."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    raise ValueError(f"{op}: dtype {dtype} is not supported; expected float16, float32 or "
                     f"float64")


def as_rows(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(..., C) -> C-contiguous (M, C) of `dtype`: a view when x already is one, else a copy.

    The kernels walk each row with unit stride so that LLVM vectorises the walk; a strided
    row would be read element by element.
    """
    shape = (math.prod(x.shape[:-1]), x.shape[-1]) if x.ndim else (1, 1)
    return np.ascontiguousarray(x, dtype=dtype).reshape(shape)  # explicit: C may be 0


def threads_for(elements: int):
    """Run the block on one Numba thread when `elements` is below `SERIAL_BELOW`."""
    return serial_below(elements, SERIAL_BELOW)  # read now: tests may change it
