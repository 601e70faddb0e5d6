"""`ReduceOp`: the reduction operators, and which NumPy ufunc and MPI op compute each.

The hand-written algorithms combine two buffers elementwise with a NumPy ufunc, always in
place (`np.add(a, b, out=a)`), so a reduction allocates nothing per step. Integer dtypes wrap
around on overflow exactly as NumPy's (and C's) arithmetic does, so an integer all-reduce
equals `np.sum(stack, axis=0, dtype=dtype)` bit for bit.
"""

from __future__ import annotations

import enum

import numpy as np


class ReduceOp(enum.Enum):
    """How a reducing collective combines the ranks' values, elementwise (torch.distributed's).

    `AVG` is `SUM` followed by a division by the group size, for floating-point dtypes only:
    PyTorch's CPU backend (gloo) rejects `AVG` altogether, and NCCL's integer average
    truncates, so minigrad raises a `TypeError` for integer and bool tensors rather than pick
    a rounding. For `bool`, `MAX` is logical or and `MIN` logical and; `SUM`, `PRODUCT` and
    `AVG` are rejected.
    """

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


DTYPES = tuple(np.dtype(name) for name in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool"))

_UFUNCS = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply,
           ReduceOp.MAX: np.maximum, ReduceOp.MIN: np.minimum}
_BOOL_UFUNCS = {ReduceOp.MAX: np.logical_or, ReduceOp.MIN: np.logical_and}


def check_dtype(collective: str, dtype: np.dtype) -> None:
    """Raise a `TypeError` naming `dtype` unless the collectives support it."""
    if dtype not in DTYPES:
        names = ", ".join(str(d) for d in DTYPES)
        raise TypeError(f"{collective}: dtype {dtype} is not supported; supported: {names}")


def reduce_ufunc(collective: str, op: ReduceOp, dtype: np.dtype) -> np.ufunc:
    """The ufunc that combines two buffers of `dtype` for `op` (AVG: the sum; divide after).

    Raises:
        TypeError: `op` is not a `ReduceOp`, or is not defined for `dtype` (AVG of integers;
            SUM, PRODUCT or AVG of bool).
    """
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{collective}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), "
                        f"got {op!r}")
    check_dtype(collective, dtype)
    if dtype == np.bool_:
        if op not in _BOOL_UFUNCS:
            raise TypeError(f"{collective}: ReduceOp.{op.name} is not defined for bool tensors; "
                            "use ReduceOp.MAX (logical or) or ReduceOp.MIN (logical and)")
        return _BOOL_UFUNCS[op]
    if op is ReduceOp.AVG and dtype.kind != "f":
        raise TypeError(f"{collective}: ReduceOp.AVG needs a floating-point tensor, got {dtype} "
                        "(PyTorch's gloo backend rejects AVG; NCCL truncates integer averages); "
                        "use ReduceOp.SUM and divide")
    return _UFUNCS[op]


def finish_average(buffer: np.ndarray, op: ReduceOp, group_size: int) -> None:
    """For `AVG`, divide the reduced sum by the group size in place (a no-op for other ops).

    Every rank divides the same bytes by the same number, so the bytes stay identical.
    """
    if op is ReduceOp.AVG:
        np.divide(buffer, buffer.dtype.type(group_size), out=buffer)
