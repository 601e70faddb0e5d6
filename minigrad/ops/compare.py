"""Comparisons and logical ops: they return bool tensors and are not differentiable."""

from __future__ import annotations

import numpy as np

from minigrad.ops.arithmetic import elementwise, promote
from minigrad.tensor import Tensor


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _compare(op: str, ufunc, a, b) -> Tensor:
    a, b = promote(_raw(a), _raw(b))
    return Tensor._wrap(elementwise(op, ufunc, a, b))


def eq(input, other) -> Tensor:
    """input == other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("eq", np.equal, input, other)


def ne(input, other) -> Tensor:
    """input != other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("ne", np.not_equal, input, other)


def lt(input, other) -> Tensor:
    """input < other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("lt", np.less, input, other)


def le(input, other) -> Tensor:
    """input <= other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("le", np.less_equal, input, other)


def gt(input, other) -> Tensor:
    """input > other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("gt", np.greater, input, other)


def ge(input, other) -> Tensor:
    """input >= other, elementwise after dtype promotion, broadcasting: bool, no gradient."""
    return _compare("ge", np.greater_equal, input, other)


def logical_and(input, other) -> Tensor:
    """input AND other on truth values (nonzero is True), elementwise, broadcasting: a bool
    tensor.
    """
    return Tensor._wrap(elementwise("logical_and", np.logical_and, _raw(input), _raw(other)))


def logical_or(input, other) -> Tensor:
    """input OR other on truth values (nonzero is True), elementwise, broadcasting: a bool
    tensor.
    """
    return Tensor._wrap(elementwise("logical_or", np.logical_or, _raw(input), _raw(other)))


def logical_xor(input, other) -> Tensor:
    """input XOR other on truth values (nonzero is True), elementwise, broadcasting: a bool
    tensor.
    """
    return Tensor._wrap(elementwise("logical_xor", np.logical_xor, _raw(input), _raw(other)))


def logical_not(input) -> Tensor:
    """NOT input on truth values (nonzero is True), elementwise: a bool tensor."""
    return Tensor._wrap(np.logical_not(_raw(input)))


def _bitwise(ufunc, name):
    def op(input, other) -> Tensor:
        """A bitwise op on integer and bool tensors, elementwise, broadcasting (on bool it is
        the logical op); other dtypes raise TypeError. No gradient."""
        a, b = _raw(input), _raw(other)
        for x in (a, b):
            if np.asarray(x).dtype.kind not in "biu":
                raise TypeError(f"{name}: only integer and bool tensors, got {np.asarray(x).dtype}")
        return Tensor._wrap(elementwise(name, ufunc, a, b))

    op.__name__ = name
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
"""input & other, elementwise, broadcasting, for integer and bool tensors; no gradient."""
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
"""input | other, elementwise, broadcasting, for integer and bool tensors; no gradient."""
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
"""input ^ other, elementwise, broadcasting, for integer and bool tensors; no gradient."""


def bitwise_not(input) -> Tensor:
    """~input, elementwise, for integer and bool tensors (on bool it is logical NOT); other
    dtypes raise TypeError. No gradient.
    """
    a = _raw(input)
    if a.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: only integer and bool tensors, got {a.dtype}")
    return Tensor._wrap(np.invert(a))


def isnan(input) -> Tensor:
    """True where input is NaN, elementwise: a bool tensor."""
    return Tensor._wrap(np.isnan(_raw(input)))


def isinf(input) -> Tensor:
    """True where input is +inf or -inf, elementwise: a bool tensor."""
    return Tensor._wrap(np.isinf(_raw(input)))


def isfinite(input) -> Tensor:
    """True where input is neither NaN nor infinite, elementwise: a bool tensor."""
    return Tensor._wrap(np.isfinite(_raw(input)))


def equal(input, other) -> bool:
    """True if both have the same shape and the same elements."""
    a, b = _raw(input), _raw(other)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def allclose(input, other, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether |input - other| <= atol + rtol * |other| for every element (broadcasting), as a
    Python bool; NaNs count as equal only with `equal_nan=True`.
    """
    return bool(np.allclose(_raw(input), _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other|, elementwise, broadcasting: a bool tensor;
    NaNs count as equal only with `equal_nan=True`.
    """
    return Tensor._wrap(np.isclose(_raw(input), _raw(other), rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))
