"""Ops that copy or convert values: clone, casts, and the out-of-place halves of fill_/copy_."""

from __future__ import annotations

import numpy as np

from minigrad import dtype as _dt
from minigrad.autograd.function import Function, unbroadcast
from minigrad.autograd.grad_mode import no_grad
from minigrad.tensor import Tensor


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Cast(Function):
    """Change the dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype)


class Fill(Function):
    """Every element becomes `value`: nothing flows back to the old values.

    A tensor `value` (0-d, as in PyTorch) was copied into every element, so its gradient is
    the sum of theirs.
    """

    @staticmethod
    def forward(ctx, a, value):
        ctx.value_meta = (np.shape(value), np.asarray(value).dtype)
        return np.full_like(a, value)

    @staticmethod
    def backward(ctx, grad):
        grad_value = None
        if ctx.parents[1] is not None:
            shape, dtype = ctx.value_meta
            grad_value = unbroadcast(grad, shape).astype(dtype, copy=False)
        return np.zeros_like(grad), grad_value


class CopyFrom(Function):
    """`a` takes the values of `src` (broadcast, cast): the gradient flows to `src` only."""

    @staticmethod
    def forward(ctx, a, src):
        src = np.asarray(src)
        ctx.src_meta = (src.shape, src.dtype)
        try:
            return np.broadcast_to(src, a.shape).astype(a.dtype)
        except ValueError:
            raise RuntimeError(f"copy_: source of shape {src.shape} does not broadcast to "
                               f"{a.shape}") from None

    @staticmethod
    def backward(ctx, grad):
        shape, dtype = ctx.src_meta
        return None, unbroadcast(grad, shape).astype(dtype, copy=False)


class CopySlices(Function):
    """`base` with the region a view selects replaced by `value` (PyTorch's CopySlices).

    This is how an in-place write through a view reaches the base's history
    (see `minigrad.autograd.inplace.write_through_view`); `view_fn` replays the view ops, picking the region.
    Gradient: inside the region it belongs to `value`, outside it to `base`.
    """

    @staticmethod
    def forward(ctx, base, value, view_fn):
        ctx.view_fn = view_fn
        out = base.copy()
        _region(out, view_fn)[...] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_base = np.array(grad, copy=True, order="C")
        _region(grad_base, ctx.view_fn)[...] = 0
        grad_value = _region(np.ascontiguousarray(grad), ctx.view_fn)
        return grad_base, grad_value


def _region(array: np.ndarray, view_fn) -> np.ndarray:
    """The part of `array` that a view selects, as a NumPy view into it."""
    with no_grad():
        return view_fn(Tensor._wrap(array)).data


def clone(input: Tensor) -> Tensor:
    """A copy with its own memory that stays in the graph (gradient passes through)."""
    return Clone.apply(input)


def to(input: Tensor, *args, dtype=None, **kwargs) -> Tensor:
    """Convert dtype (`t.to(minigrad.float64)`); "cpu" as a device is accepted and ignored."""
    for a in args:
        if isinstance(a, (_dt.dtype, np.dtype, type)) or (isinstance(a, str) and a not in
                                                          ("cpu", "cuda")):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif a is not None and str(a) != "cpu":
            raise RuntimeError(f"to(): minigrad tensors live on the CPU; device {a!r} is not "
                               "available")
    device = kwargs.get("device")
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"to(): minigrad tensors live on the CPU; device {device!r} is not "
                           "available")
    if dtype is None:
        return input
    np_dtype = _dt.to_numpy_dtype(dtype)
    if np_dtype == input.data.dtype:
        return input
    if input.requires_grad and np_dtype.kind != "f":
        return Tensor._wrap(input.data.astype(np_dtype))  # integer results carry no gradient
    return Cast.apply(input, np_dtype)


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """input cast to the dtype of `other`, as `to(input, other.dtype)`; input itself when the
    dtypes already match.
    """
    return to(input, other.dtype)


def float(input: Tensor) -> Tensor:  # noqa: A001 - the PyTorch name
    return to(input, _dt.float32)


def double(input: Tensor) -> Tensor:
    return to(input, _dt.float64)


def half(input: Tensor) -> Tensor:
    return to(input, _dt.float16)


def long(input: Tensor) -> Tensor:
    return to(input, _dt.int64)


def int(input: Tensor) -> Tensor:  # noqa: A001 - the PyTorch name
    return to(input, _dt.int32)


def bool(input: Tensor) -> Tensor:  # noqa: A001 - the PyTorch name
    return to(input, _dt.bool)
