"""Functions that make new tensors: from data, filled with constants, ranges, random values."""

from __future__ import annotations

import numpy as np

from minigrad import dtype as _dt
from minigrad.random import Generator, _numpy_generator
from minigrad.tensor import Tensor, _to_array

_FLOAT = np.float32


def _size(size) -> tuple:
    """Accept zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise ValueError(f"negative dimension in size {size}")
    return size


def _dtype(dtype, default=_FLOAT) -> np.dtype:
    return np.dtype(default) if dtype is None else _dt.to_numpy_dtype(dtype)


def _made(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, numbers, arrays or tensors).

    Python floats give float32, ints int64, bools bool; NumPy arrays keep their dtype.
    """
    return _made(_to_array(data, dtype), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`: writes to one show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    _dt.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def as_tensor(data, dtype=None) -> Tensor:
    """Like `tensor`, but shares memory with a NumPy array (or Tensor) when no cast is needed."""
    if isinstance(data, Tensor) and (dtype is None or _dt.to_numpy_dtype(dtype) == data.data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or _dt.to_numpy_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _made(np.zeros(_size(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _made(np.ones(_size(size), dtype=_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _made(np.empty(_size(size), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """Filled with `fill_value`; the dtype follows the value (bool, int64, float32) if not given."""
    if dtype is None:
        dtype = _to_array(fill_value).dtype
    return _made(np.full(_size((size,)), fill_value, dtype=_dtype(dtype)), requires_grad)


def zeros_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return empty(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from `start` up to (not including) `end`; int64 if all arguments are ints."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else _FLOAT
    return _made(np.arange(start, end, step).astype(_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return _made(np.linspace(start, end, int(steps)).astype(_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _made(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*size, generator: Generator | None = None, dtype=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    values = _numpy_generator(generator).random(_size(size), dtype=np.float64)
    return _made(values.astype(_dtype(dtype)), requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    values = _numpy_generator(generator).standard_normal(_size(size))
    return _made(values.astype(_dtype(dtype)), requires_grad)


def randint(low, high=None, size=None, generator: Generator | None = None,
            dtype=None) -> Tensor:
    """Integers uniform on [low, high); `randint(high, size)` starts at 0, as in PyTorch."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(low, high, size) or randint(high, size)")
        low, high, size = 0, low, high
    elif high is None:
        raise TypeError("randint: missing high")
    values = _numpy_generator(generator).integers(low, high, size=_size((size,)))
    return Tensor._wrap(values.astype(_dtype(dtype, np.int64)))


def rand_like(input: Tensor, generator: Generator | None = None, dtype=None) -> Tensor:
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype)


def randn_like(input: Tensor, generator: Generator | None = None, dtype=None) -> Tensor:
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype)


def randint_like(input: Tensor, low, high=None, generator: Generator | None = None,
                 dtype=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype)


def randperm(n: int, generator: Generator | None = None, dtype=None) -> Tensor:
    return Tensor._wrap(_numpy_generator(generator).permutation(int(n)).astype(
        _dtype(dtype, np.int64)))
