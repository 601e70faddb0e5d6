"""Data types: thin named wrappers over NumPy dtypes, spelled as PyTorch spells them.

`minigrad.float32 is minigrad.dtype.float32`, and a tensor's `.dtype` is one of these objects,
so `t.dtype == minigrad.float32` reads as it does in PyTorch. Each wraps the NumPy dtype that
stores the data (`minigrad.float32.numpy == numpy.dtype("float32")`).
"""

from __future__ import annotations

import numpy as np


class dtype:  # noqa: N801 - the PyTorch name
    """A tensor element type. Compare with `==` or `is`; `.numpy` is the NumPy dtype."""

    __slots__ = ("name", "numpy", "is_floating_point", "itemsize")

    def __init__(self, name: str, numpy_dtype: np.dtype) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.itemsize = self.numpy.itemsize

    def __repr__(self) -> str:
        return f"minigrad.{self.name}"

    def __reduce__(self):
        return (from_numpy_dtype, (self.numpy,))


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - the PyTorch name

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

_BY_NUMPY = {d.numpy: d for d in (float16, float32, float64, int8, uint8, int16, int32, int64, bool)}


def from_numpy_dtype(np_dtype) -> dtype:
    """The minigrad dtype that stores `np_dtype`, or a TypeError naming it."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        supported = ", ".join(sorted(d.name for d in _BY_NUMPY.values()))
        raise TypeError(f"unsupported dtype {np_dtype!r}; minigrad supports {supported}") from None


def to_numpy_dtype(d) -> np.dtype:
    """Accepts a minigrad dtype, a NumPy dtype or a name like "float32"; returns the NumPy dtype."""
    if isinstance(d, dtype):
        return d.numpy
    return from_numpy_dtype(d).numpy
