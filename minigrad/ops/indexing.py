"""Indexing: t[...], index_select, gather, masked_fill, where, and writes through t[...] = v.

Reading picks elements; its gradient puts each output gradient back where the element came
from. With integer-array indices an element can be picked more than once, so the backward
scatter-*adds* (`np.add.at`), which sums the contributions of repeated indices.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function, unbroadcast
from minigrad.tensor import Tensor, _check_dim


def _index_arrays(index):
    """Replace Tensors inside an index by their arrays; True when the index is basic-only.

    A list is one index array, as in NumPy (`t[[[0, 1], [1, 1]]]` has shape (2, 2, ...));
    PyTorch 2.x still reads such a list as a tuple but has deprecated that in favour of this.
    """
    items = index if isinstance(index, tuple) else (index,)
    out = []
    basic = True
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, (list, tuple, np.ndarray)):
            item = np.asarray(item)
            if item.size == 0 and item.dtype.kind == "f":  # `t[[]]`: an empty list of indices
                item = item.astype(np.int64)
            if item.dtype.kind not in "biu":
                raise IndexError(f"index: tensors used as indices must be long or bool, "
                                 f"got dtype {item.dtype}")
            basic = False
        elif not (item is None or item is Ellipsis or isinstance(item, (int, slice, np.integer))):
            raise IndexError(f"index: unsupported index of type {type(item).__name__}")
        out.append(item)
    return (tuple(out) if isinstance(index, tuple) else out[0]), basic


def _checked(a: np.ndarray, index):
    try:
        return a[index]
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor of shape {a.shape})") from None


class BasicIndex(Function):
    """Slices, ints, None and ...: the result is a view; backward writes grad into zeros."""

    is_view = True

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.index = a.shape, index
        out = _checked(a, index)
        if not isinstance(out, np.ndarray):  # all ints: NumPy gives a scalar, PyTorch a 0-d view
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        full[ctx.index] = grad
        return full


class AdvancedIndex(Function):
    """Integer-array or mask indexing: a copy; backward scatter-adds (repeats accumulate)."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape = a.shape
        ctx.save_for_backward(index)
        return _checked(a, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(full, index, grad)
        return full


class IndexPut(Function):
    """out = a with out[index] = value; the written positions take no gradient from `a`."""

    @staticmethod
    def forward(ctx, a, index, value):
        ctx.save_for_backward(index)
        ctx.value_meta = (np.shape(value), np.asarray(value).dtype)
        out = a.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        ga = grad.copy()
        ga[index] = 0
        gv = None
        if ctx.parents[2] is not None:
            shape, dtype = ctx.value_meta
            gv = unbroadcast(np.asarray(grad[index]), shape).astype(dtype, copy=False)
        return ga, None, gv


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.shape, ctx.dim = a.shape, dim
        ctx.save_for_backward(index)
        return np.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(full, (slice(None),) * ctx.dim + (index,), grad)
        return full


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] for dim=1 (and likewise for other dims)."""

    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.shape, ctx.dim = a.shape, dim
        coords = list(np.indices(index.shape, sparse=True))
        coords[dim] = index
        ctx.save_for_backward(*coords)
        return a[tuple(coords)]

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(full, tuple(ctx.saved_tensors), grad)
        return full


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        from minigrad.ops.arithmetic import promote

        ctx.metas = (np.shape(a), np.asarray(a).dtype), (np.shape(b), np.asarray(b).dtype)
        ctx.save_for_backward(condition)
        a, b = promote(a, b)
        try:
            return np.where(condition, a, b)
        except ValueError:
            raise RuntimeError(f"where: condition of shape {condition.shape} and values of "
                               f"shapes {np.shape(a)} and {np.shape(b)} can't be broadcast "
                               "together") from None

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        (sa, da), (sb, db) = ctx.metas
        ga = gb = None
        if ctx.parents[1] is not None:
            ga = unbroadcast(np.where(condition, grad, 0), sa).astype(da, copy=False)
        if ctx.parents[2] is not None:
            gb = unbroadcast(np.where(condition, 0, grad), sb).astype(db, copy=False)
        return None, ga, gb


def getitem(input: Tensor, index) -> Tensor:
    """`input[index]` with NumPy's rules: basic indices give views, arrays and masks copies."""
    index, basic = _index_arrays(index)
    return (BasicIndex if basic else AdvancedIndex).apply(input, index)


def setitem(input: Tensor, index, value) -> None:
    """`input[index] = value`, in place (bumps the version counter)."""
    index, _ = _index_arrays(index)
    input._write_inplace(IndexPut.apply, index, value, direct=_assign)


def _assign(d: np.ndarray, index, value) -> None:
    try:
        d[index] = value
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor of shape {d.shape})") from None


def _check_bounds(index: np.ndarray, size: int, dim: int, op: str) -> None:
    """An IndexError for the first index outside [0, size).

    Unlike NumPy, PyTorch's index_select and gather take no negative indices: -1 is out of
    bounds rather than the last element.
    """
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise IndexError(f"{op}: index {index[bad].flat[0]} is out of bounds for dim {dim} with "
                         f"size {size}")


def index_select(input, dim: int, index) -> Tensor:
    """The entries of input at positions `index` along `dim`, as a copy.

    `index` is a 1-D integer tensor (or array or list) and may repeat a position; the
    gradients of repeated positions add up.
    """
    d = _check_dim(dim, input.ndim, "index_select")
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be a 1-D integer tensor, got shape "
                         f"{idx.shape} and dtype {idx.dtype}")
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d, "index_select")
    return IndexSelect.apply(input, d, idx.reshape(-1))


def gather(input, dim: int, index) -> Tensor:
    """Values of input picked along `dim` by `index`.

    For dim=1, `out[i][j][k] = input[i][index[i][j][k]][k]`. `index` is an integer tensor
    with input's number of dimensions and, outside `dim`, sizes no larger than input's; the
    result has index's shape. Positions picked more than once add up their gradients.
    """
    d = _check_dim(dim, input.ndim, "gather")
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: index must be an integer tensor, got {idx.dtype}")
    if idx.ndim != input.ndim or any(
        i > s for k, (i, s) in enumerate(zip(idx.shape, input.shape)) if k != d
    ):
        raise RuntimeError(f"gather: index of shape {idx.shape} must have the input's number of "
                           f"dims and be no larger outside dim {d} (input shape {input.shape})")
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d, "gather")
    return Gather.apply(input, d, idx)


def where(condition, input, other) -> Tensor:
    """Elementwise `input if condition else other`, broadcasting all three."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    return Where.apply(cond, input, other)


def masked_fill(input, mask, value) -> Tensor:
    """`value` where `mask` is True, the input elsewhere (mask broadcasts to the input)."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, input.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {m.shape} does not broadcast to the "
                           f"input shape {input.shape}") from None
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                           f"{value.shape}")
    if not isinstance(value, Tensor):
        value = np.asarray(value, dtype=input.data.dtype)
    out = Where.apply(m, value, input)
    if out.shape != input.shape:
        raise RuntimeError(f"masked_fill: mask of shape {m.shape} would grow the input of shape "
                           f"{input.shape}")
    return out
