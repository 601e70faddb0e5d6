"""Reductions over dimensions: sum, mean, var, std, max/min, amax/amin, logsumexp, prod, norm.

`dim` is an int, a tuple of ints or None (all dimensions); `keepdim=True` leaves the reduced
dimensions as size 1. Every backward first restores the reduced dimensions (`_expand_back`)
so the gradient broadcasts against the input.

Tie rules follow PyTorch: `max(dim)`/`min(dim)` send the gradient to the one index they
return (the first extremum); `max()`, `amax` and `amin` share it equally among all ties.

float16 inputs are reduced in float32 and the result rounded to float16 once, as PyTorch
does (`upcast_half`): a float16 running sum overflows past 65504, and squares overflow
sooner (300^2 already does).
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from minigrad.autograd.function import Function
from minigrad.tensor import Tensor, _check_dim

MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def normalize_dims(dim, ndim: int, op: str):
    """`dim` (int, tuple, list or None) as a sorted tuple of non-negative axes, or None.

    An empty tuple means all dimensions, as in PyTorch (`x.sum(())` is `x.sum()`).
    """
    dims = (dim,) if isinstance(dim, (int, np.integer)) else () if dim is None else tuple(dim)
    if not dims:
        return None
    axes = tuple(sorted(_check_dim(int(d), ndim, op) for d in dims))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {dim} appears multiple times in the list of dims")
    if ndim == 0:
        return None
    return axes


def _expand_back(grad: np.ndarray, shape: tuple, axes, keepdim: bool) -> np.ndarray:
    """Undo a reduction's shape change: reinsert reduced axes, then broadcast to `shape`."""
    if axes is None:  # grad holds one value: filling is cheaper than a broadcast view's setup
        return np.full(shape, grad, dtype=grad.dtype)
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def _drop_reduced(out: np.ndarray, axes, keepdim: bool) -> np.ndarray:
    """A result computed with keepdims=True, with the reduced axes removed unless `keepdim`."""
    if keepdim:
        return out
    return out.reshape(()) if axes is None else np.squeeze(out, axis=axes)


def _count(shape: tuple, axes) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def upcast_half(a: np.ndarray) -> np.ndarray:
    """`a` as float32 if it is float16, else `a` itself: the dtype to accumulate a reduction in.

    float16 holds at most 65504 and only 11 significant bits, so sums, squares and their
    means lose everything long before the result is out of range; PyTorch accumulates float16
    in float32 for the same reason.
    """
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _round_to(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A reduction's result, computed in `upcast_half`'s dtype, rounded to the input's `dtype`
    (a float16 result past 65504 becomes inf, silently, as in PyTorch)."""
    with np.errstate(over="ignore"):
        return out.astype(dtype, copy=False)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape, ctx.axes, ctx.keepdim, ctx.in_dtype = a.shape, axes, keepdim, a.dtype
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64  # integer and bool sums accumulate in int64, as in PyTorch
        out_dtype = a.dtype if dtype is None else np.dtype(dtype)
        if out_dtype == np.float16:
            return _round_to(a.sum(axis=axes, keepdims=keepdim, dtype=np.float32), out_dtype)
        return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return grad if grad.dtype == ctx.in_dtype else grad.astype(ctx.in_dtype)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.count = _count(a.shape, axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.mean(a, axis=axes, keepdims=keepdim)  # NumPy averages float16 in float32

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad / ctx.count, ctx.shape, ctx.axes, ctx.keepdim)


class Var(Function):
    """Variance with Bessel's `correction` (1 = unbiased, the default; 0 = population).

    d var / d x_i = 2 (x_i - mean) / (N - correction). With N - correction == 0 the variance
    is NaN or inf and so is the gradient, as in PyTorch (2 / 0 is taken as inf). A correction
    larger than N is treated like N - correction == 0 (NumPy's rule); PyTorch instead divides
    by the negative number.
    """

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.dof = builtins.max(_count(a.shape, axes) - correction, 0)
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.var(upcast_half(a), axis=axes, ddof=correction, keepdims=keepdim)
        return _round_to(out, a.dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        x = upcast_half(a)
        centered = x - np.mean(x, axis=ctx.axes, keepdims=True)
        factor = 2 / ctx.dof if ctx.dof else math.inf
        with np.errstate(invalid="ignore"):  # inf * 0 where x_i equals the mean: NaN
            grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim) * factor * centered
        return grad.astype(a.dtype, copy=False)


class Std(Function):
    """sqrt(var): d std / d x_i = (x_i - mean) / ((N - correction) std), taken as 0 where
    std is 0 (every element equal), as PyTorch does, instead of sqrt's 0 * inf = NaN."""

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.dof = builtins.max(_count(a.shape, axes) - correction, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.std(upcast_half(a), axis=axes, ddof=correction, keepdims=True)
        out = _round_to(out, a.dtype)
        ctx.save_for_backward(a, out)
        return _drop_reduced(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        x, out = upcast_half(a), upcast_half(out)
        centered = x - np.mean(x, axis=ctx.axes, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            local = np.where(out == 0, 0, centered / (ctx.dof * out))
        grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim) * local
        return grad.astype(a.dtype, copy=False)


class Extremum(Function):
    """max/min reductions (`mode` "max" or "min").

    With `indices` (from argmax/argmin along the one reduced axis, keepdims) the gradient goes
    to those positions; without, it is shared equally among all elements equal to the result.
    """

    @staticmethod
    def forward(ctx, a, axes, keepdim, mode, indices):
        out = (np.max if mode == "max" else np.min)(a, axis=axes, keepdims=keepdim)
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if indices is None:
            ctx.save_for_backward(a, out)
        else:
            ctx.save_for_backward(indices)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        saved = ctx.saved_tensors
        if len(saved) == 2:
            a, out = saved
            if not ctx.keepdim and ctx.axes is not None:
                out = np.expand_dims(out, ctx.axes)
            hits = a == out
            counts = np.sum(hits, axis=ctx.axes, keepdims=True)
            return np.where(hits, grad / counts, 0).astype(grad.dtype, copy=False)
        (indices,) = saved
        axis = ctx.axes[0]
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        np.put_along_axis(full, indices, np.take_along_axis(grad, indices, axis), axis)
        return full


class LogSumExp(Function):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m = max(x): never overflows."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = upcast_half(a)
        m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        out = _round_to(out, a.dtype)
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.save_for_backward(a, out)
        return _drop_reduced(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return (grad * np.exp(upcast_half(a) - out)).astype(a.dtype, copy=False)


class Prod(Function):
    """Product along one axis (or all). Its gradient, the product of all *other* elements, is
    computed from exclusive prefix and suffix products, so zeros in the input are handled
    exactly (dividing the product by x_i would give 0/0)."""

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        ctx.save_for_backward(a)
        return np.prod(a, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        axis = ctx.axis
        x = a.reshape(-1) if axis is None else a
        ax = 0 if axis is None else axis
        ones = np.ones_like(np.take(x, [0], axis=ax)) if x.shape[ax] else None
        if ones is None:
            return np.zeros(ctx.shape, dtype=grad.dtype)
        n = x.shape[ax]
        before = np.cumprod(np.concatenate([ones, np.take(x, range(n - 1), axis=ax)], ax), ax)
        flipped = np.flip(x, ax)
        after = np.flip(np.cumprod(np.concatenate(
            [ones, np.take(flipped, range(n - 1), axis=ax)], ax), ax), ax)
        others = (before * after).reshape(ctx.shape)
        axes = None if axis is None else (axis,)
        return _expand_back(grad, ctx.shape, axes, ctx.keepdim) * others


class Norm(Function):
    """Vector p-norm (sum |x|^p)^(1/p), p > 0 or inf; gradient 0 where the norm is 0."""

    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim, ctx.p = a.shape, axes, keepdim, p
        x = upcast_half(a)
        absx = np.abs(x)
        if p == math.inf:
            out = np.max(absx, axis=axes, keepdims=True, initial=0)
        elif p == 2:
            out = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        elif p == 1:
            out = np.sum(absx, axis=axes, keepdims=True)
        else:
            out = np.sum(absx**p, axis=axes, keepdims=True) ** (1 / p)
        out = _round_to(out, a.dtype)
        ctx.save_for_backward(a, out)
        return _drop_reduced(out, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        saved_a, out = ctx.saved_tensors
        a, out = upcast_half(saved_a), upcast_half(out)
        p = ctx.p
        grad = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == math.inf:
                hits = np.abs(a) == out
                local = np.sign(a) * hits / np.sum(hits, axis=ctx.axes, keepdims=True)
            elif p == 1:
                local = np.sign(a)
            else:
                local = np.sign(a) * np.abs(a) ** (p - 1) / out ** (p - 1)
            # where x == 0 (|x|^(p-1) is inf for p < 1) or the norm is 0, PyTorch's is 0
            local = np.where((out == 0) | (a == 0), 0, local)
        return (grad * local).astype(saved_a.dtype, copy=False)


def sum(input, dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A001
    """Sum over `dim` (all dimensions when None)."""
    from minigrad.dtype import to_numpy_dtype

    axes = normalize_dims(dim, input.ndim, "sum")
    return Sum.apply(input, axes, keepdim, None if dtype is None else to_numpy_dtype(dtype))


def mean(input, dim=None, keepdim: bool = False) -> Tensor:
    """The mean over `dim` (all dimensions when None) of a floating-point tensor.

    An integer or bool input raises RuntimeError, as in PyTorch: call `.float()` first.
    Gradient: grad / N for each of the N elements reduced.
    """
    if input.data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype; input dtype is {input.dtype}, "
                           "expected a floating point dtype (use .float() first)")
    return Mean.apply(input, normalize_dims(dim, input.ndim, "mean"), keepdim)


def var(input, dim=None, *, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
    """Variance; `correction=1` divides by N-1 (PyTorch's default), 0 by N."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return Var.apply(input, normalize_dims(dim, input.ndim, "var"), correction, keepdim)


def std(input, dim=None, *, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
    """The standard deviation over `dim` (all dimensions when None): sqrt of `var`.

    Where the standard deviation is 0 the gradient is 0, as in PyTorch.

    Args:
        correction: subtracted from the number of elements in the divisor: 1 (the default)
            divides by N - 1, 0 by N.
        unbiased: the older spelling of `correction`; when given, True means 1 and False 0.
    """
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return Std.apply(input, normalize_dims(dim, input.ndim, "std"), correction, keepdim)


def _nonempty(input, axes, op: str):
    """`axes`, after checking that the dims they reduce are not empty (no max of nothing)."""
    if input.data.size == 0 and (axes is None or builtins.any(input.shape[i] == 0 for i in axes)):
        raise RuntimeError(f"{op}(): expected a non-empty tensor for the reduced dims, got "
                           f"shape {input.shape}")
    return axes


def _extremum(input, dim, keepdim, mode):
    from minigrad.ops.arithmetic import maximum, minimum

    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if mode == "max" else minimum)(input, dim)
    if dim is None:
        return Extremum.apply(input, _nonempty(input, None, mode), False, mode, None)
    axes = normalize_dims(dim, input.ndim, mode)
    if axes is None:  # a 0-d tensor: its value, index 0
        return (MaxResult if mode == "max" else MinResult)(input.clone(), Tensor._wrap(
            np.zeros((), dtype=np.int64)))
    _nonempty(input, axes, mode)
    pick = np.argmax if mode == "max" else np.argmin
    indices = pick(input.data, axis=axes[0], keepdims=True)
    values = Extremum.apply(input, axes, keepdim, mode, indices)
    if not keepdim:
        indices = np.squeeze(indices, axis=axes[0])
    return (MaxResult if mode == "max" else MinResult)(values, Tensor._wrap(indices.astype(np.int64)))


def max(input, dim=None, keepdim: bool = False):  # noqa: A001
    """`max(x)`: the largest value; `max(x, dim)`: (values, indices); `max(x, y)`: maximum."""
    return _extremum(input, dim, keepdim, "max")


def min(input, dim=None, keepdim: bool = False):  # noqa: A001
    """`min(x)`: the smallest value; `min(x, dim)`: (values, indices); `min(x, y)`: minimum."""
    return _extremum(input, dim, keepdim, "min")


def amax(input, dim=(), keepdim: bool = False) -> Tensor:
    """Max over `dim` (all when empty); the gradient is shared equally among ties."""
    axes = _nonempty(input, normalize_dims(dim, input.ndim, "amax"), "amax")
    return Extremum.apply(input, axes, keepdim, "max", None)


def amin(input, dim=(), keepdim: bool = False) -> Tensor:
    """Min over `dim` (all when empty); the gradient is shared equally among ties."""
    axes = _nonempty(input, normalize_dims(dim, input.ndim, "amin"), "amin")
    return Extremum.apply(input, axes, keepdim, "min", None)


def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over `dim`, computed as m + log(sum(exp(input - m))) with m the
    maximum, so it never overflows. Gradient: softmax(input) along `dim`.
    """
    return LogSumExp.apply(input, normalize_dims(dim, input.ndim, "logsumexp"), keepdim)


def prod(input, dim=None, keepdim: bool = False) -> Tensor:
    """The product of the elements along one `dim` (an int), or of all elements when None.

    The gradient, the product of all the other elements, is built from prefix and suffix
    products, so it is exact where the input holds zeros.
    """
    axis = None if dim is None else _check_dim(dim, input.ndim, "prod")
    if input.ndim == 0:
        axis = None
    return Prod.apply(input, axis, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over `dim` (all elements when None); p may be a number, inf or "fro"."""
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or not p > 0:
        raise ValueError(f"norm: p must be a positive number, inf or 'fro', got {p!r}")
    return Norm.apply(input, float(p), normalize_dims(dim, input.ndim, "norm"), keepdim)


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest value, over the flattened tensor when `dim` is None."""
    if dim is None:
        index = np.asarray(np.argmax(input.data), dtype=np.int64)
        return Tensor._wrap(index.reshape((1,) * input.ndim) if keepdim else index)
    axis = _check_dim(dim, input.ndim, "argmax")
    return Tensor._wrap(np.argmax(input.data, axis=axis, keepdims=keepdim).astype(np.int64))


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest value, over the flattened tensor when `dim` is None."""
    if dim is None:
        index = np.asarray(np.argmin(input.data), dtype=np.int64)
        return Tensor._wrap(index.reshape((1,) * input.ndim) if keepdim else index)
    axis = _check_dim(dim, input.ndim, "argmin")
    return Tensor._wrap(np.argmin(input.data, axis=axis, keepdims=keepdim).astype(np.int64))


def any(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element over `dim` (all dimensions when None) is nonzero: a bool tensor,
    without gradient.
    """
    return Tensor._wrap(np.any(input.data, axis=normalize_dims(dim, input.ndim, "any"),
                               keepdims=keepdim))


def all(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element over `dim` (all dimensions when None) is nonzero: a bool tensor,
    without gradient.
    """
    return Tensor._wrap(np.all(input.data, axis=normalize_dims(dim, input.ndim, "all"),
                               keepdims=keepdim))
