"""Shape ops: reshape, view, transpose, expand, cat, stack, split, repeat, pad, ...

None of these changes a value, so each backward only moves the gradient back into the input's
layout: reshape back, transpose back, sum over the copies that expand or repeat made, slice
out the pieces that cat joined. Ops marked `is_view` return NumPy views when they can; such a
result shares its input's version counter, as PyTorch views share storage.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minigrad.autograd.function import Function, unbroadcast
from minigrad.ops.arithmetic import promote_types
from minigrad.tensor import Tensor, _check_dim


def _shape_arg(shape) -> tuple:
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape, must_view):
        ctx.in_shape = a.shape
        try:
            out = a.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: shape {tuple(shape)} is invalid for input of shape {a.shape} "
                f"(size {a.size})"
            ) from None
        if must_view and out.size and not np.may_share_memory(out, a):
            raise RuntimeError(
                f"view: size {tuple(shape)} is not compatible with the input's strides "
                f"(shape {a.shape}, non-contiguous); use .reshape(...) instead"
            )
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


class Permute(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(ctx.inverse)


class Expand(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.in_shape)


class Contiguous(Function):
    @staticmethod
    def forward(ctx, a):
        return np.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Tile(Function):
    @staticmethod
    def forward(ctx, a, reps):
        ctx.original_shape = a.shape
        ctx.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.reps = reps
        return np.tile(a.reshape(ctx.in_shape), reps)

    @staticmethod
    def backward(ctx, grad):
        # view the output as (r0, s0, r1, s1, ...) and sum over every copy axis r_i
        split = [n for pair in zip(ctx.reps, ctx.in_shape) for n in pair]
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(ctx.original_shape)


def _common_dtype(arrays) -> np.dtype:
    """The dtype PyTorch gives cat/stack of `arrays` (int64 with float32 is float32)."""
    return functools.reduce(promote_types, (a.dtype for a in arrays))


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        ctx.dtypes = [a.dtype for a in arrays]
        return np.concatenate(arrays, axis=dim, dtype=_common_dtype(arrays))

    @staticmethod
    def backward(ctx, grad):
        bounds = np.cumsum(ctx.sizes)[:-1]
        pieces = np.split(grad, bounds, axis=ctx.dim)
        return (None, *(p.astype(d, copy=False) for p, d in zip(pieces, ctx.dtypes)))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.dtypes = [a.dtype for a in arrays]
        return np.stack(arrays, axis=dim, dtype=_common_dtype(arrays))

    @staticmethod
    def backward(ctx, grad):
        return (None, *(np.take(grad, i, axis=ctx.dim).astype(d, copy=False)
                        for i, d in enumerate(ctx.dtypes)))


class Narrow(Function):
    """input[..., start:start+length, ...] along `dim`: a view; split and chunk are built on it."""

    is_view = True

    @staticmethod
    def forward(ctx, a, dim, start, length):
        ctx.in_shape, ctx.dim, ctx.start, ctx.length = a.shape, dim, start, length
        index = (slice(None),) * dim + (slice(start, start + length),)
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.in_shape, dtype=grad.dtype)
        index = (slice(None),) * ctx.dim + (slice(ctx.start, ctx.start + ctx.length),)
        full[index] = grad
        return full


class Pad(Function):
    """Padding; for non-constant modes each output position copies some input position, so the
    gradient scatter-adds back through the same index map (built by padding an arange)."""

    @staticmethod
    def forward(ctx, a, widths, mode, value):
        ctx.in_shape, ctx.widths, ctx.mode = a.shape, widths, mode
        if mode == "constant":
            return np.pad(a, widths, mode="constant", constant_values=value)
        return np.pad(a, widths, mode=_NUMPY_PAD_MODE[mode])

    @staticmethod
    def backward(ctx, grad):
        if ctx.mode == "constant":
            index = tuple(slice(lo, lo + n) for (lo, _), n in zip(ctx.widths, ctx.in_shape))
            return grad[index]
        for axis, ((lo, hi), n) in enumerate(zip(ctx.widths, ctx.in_shape)):
            if lo == 0 and hi == 0:
                continue
            source = np.pad(np.arange(n), (lo, hi), mode=_NUMPY_PAD_MODE[ctx.mode])
            shape = list(grad.shape)
            shape[axis] = n
            folded = np.zeros(shape, dtype=grad.dtype)
            np.add.at(folded, (slice(None),) * axis + (source,), grad)
            grad = folded
        return grad


_NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def reshape(input, *shape) -> Tensor:
    """Same data, new shape (one entry may be -1); a view when the memory layout allows."""
    return Reshape.apply(input, _shape_arg(shape), False)


def view(input, *shape) -> Tensor:
    """Like reshape, but raises instead of copying when the input's strides do not allow it."""
    return Reshape.apply(input, _shape_arg(shape), True)


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions `start_dim` to `end_dim` (both included) into one, as `reshape`: a view
    when the memory layout allows. A 0-d tensor becomes shape (1,).
    """
    if input.ndim == 0:
        return reshape(input, 1)
    start = _check_dim(start_dim, input.ndim, "flatten")
    end = _check_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    s = input.shape
    return reshape(input, s[:start] + (math.prod(s[start:end + 1]),) + s[end + 1:])


def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dimension `dim` into `sizes` (whose product is its size; one entry may be -1):
    the inverse of `flatten`.
    """
    d = _check_dim(dim, input.ndim, "unflatten")
    return reshape(input, input.shape[:d] + tuple(sizes) + input.shape[d + 1:])


def squeeze(input, dim=None) -> Tensor:
    """Remove size-1 dimensions (only those in `dim` when given; others are left alone)."""
    if dim is None:
        dims = {i for i, n in enumerate(input.shape) if n == 1}
    else:
        dims = {_check_dim(d, input.ndim, "squeeze") for d in ((dim,) if isinstance(dim, int)
                                                              else dim)}
        dims = {d for d in dims if input.ndim and input.shape[d] == 1}
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in dims))


def unsqueeze(input, dim: int) -> Tensor:
    """Insert a dimension of size 1 at position `dim` (-input.ndim - 1 <= dim <= input.ndim);
    a view.
    """
    d = _check_dim(dim, input.ndim + 1, "unsqueeze")
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


def permute(input, *dims) -> Tensor:
    """Reorder the dimensions: dimension i of the result is dimension `dims[i]` of the input; a
    view. `dims` may be separate ints or one tuple.
    """
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: number of dims {len(dims)} doesn't match the input's "
                           f"{input.ndim} (shape {input.shape})")
    dims = tuple(_check_dim(d, input.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return Permute.apply(input, dims)


def transpose(input, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions `dim0` and `dim1`; a view. `swapaxes` and `swapdims` are the same
    function.
    """
    if input.ndim == 0:  # dims 0 and -1 name the 0-d tensor itself, as in PyTorch
        _check_dim(dim0, 0, "transpose"), _check_dim(dim1, 0, "transpose")
        return Permute.apply(input, ())
    dims = list(range(input.ndim))
    d0, d1 = _check_dim(dim0, input.ndim, "transpose"), _check_dim(dim1, input.ndim, "transpose")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


swapaxes = swapdims = transpose


def t(input) -> Tensor:
    """Transpose a matrix (1-D and 0-D tensors are returned as they are)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {input.ndim}")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def mT(input) -> Tensor:  # noqa: N802 - the PyTorch name
    """Transpose the last two dimensions (batched matrix transpose)."""
    if input.ndim < 2:
        raise RuntimeError(f"mT: expected a tensor with >= 2 dimensions, got shape {input.shape}")
    return transpose(input, -2, -1)


def expand(input, *sizes) -> Tensor:
    """Broadcast to `sizes` without copying; -1 keeps a dimension; new dims go in front."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes {len(sizes)} must be >= the number of "
                           f"dimensions {input.ndim} (shape {input.shape})")
    lead = len(sizes) - input.ndim
    target = []
    for i, n in enumerate(sizes):
        own = input.shape[i - lead] if i >= lead else None
        if n == -1:
            if own is None:
                raise RuntimeError(f"expand: -1 is not allowed for a new leading dim ({sizes})")
            n = own
        elif own is not None and own != n and own != 1:
            raise RuntimeError(f"expand: the size of dim {i - lead} of shape {input.shape} "
                               f"({own}) must match {n}, or be 1")
        target.append(n)
    return Expand.apply(input, tuple(target))


def broadcast_to(input, shape) -> Tensor:
    """Broadcast to `shape` without copying, as `expand(input, *shape)`; the gradient is
    summed over the broadcast copies.
    """
    return expand(input, *shape)


def expand_as(input, other) -> Tensor:
    """Broadcast to the shape of `other`, as `expand(input, *other.shape)`."""
    return expand(input, *other.shape)


def contiguous(input) -> Tensor:
    """The tensor itself if already C-contiguous, else a contiguous copy."""
    if input.data.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


def repeat(input, *sizes) -> Tensor:
    """Tile the tensor `sizes[i]` times along each dimension (NumPy's tile, PyTorch's repeat)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat: number of repeat dims {len(sizes)} can not be smaller "
                           f"than the number of dimensions {input.ndim}")
    return Tile.apply(input, sizes)


def tile(input, dims) -> Tensor:
    """Like repeat, but fewer `dims` than dimensions are padded with 1s in front."""
    dims = tuple(dims)
    dims = (1,) * (input.ndim - len(dims)) + dims
    return Tile.apply(input, dims)


def _tensor_list(tensors, op: str) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}: expected a non-empty list of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = _tensor_list(tensors, "cat")
    for i, x in enumerate(tensors):
        if x.ndim == 0:  # no dimension to join along (torch.stack makes one)
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    first = tensors[0]
    d = _check_dim(dim, first.ndim, "cat")
    for i, x in enumerate(tensors[1:], 1):
        if x.ndim != first.ndim or any(
            a != b for k, (a, b) in enumerate(zip(x.shape, first.shape)) if k != d
        ):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}; "
                               f"tensor 0 has shape {first.shape}, tensor {i} has shape {x.shape}")
    return Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    tensors = _tensor_list(tensors, "stack")
    for i, x in enumerate(tensors[1:], 1):
        if x.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{tensors[0].shape} at entry 0 and {x.shape} at entry {i}")
    return Stack.apply(_check_dim(dim, tensors[0].ndim + 1, "stack"), *tensors)


def narrow(input, dim: int, start: int, length: int) -> Tensor:
    """The slice `start:start + length` of dimension `dim`, as a view; a negative `start` counts
    from the end. Gradient: grad inside the slice, 0 elsewhere.
    """
    d = _check_dim(dim, input.ndim, "narrow")
    if start < 0:
        start += input.shape[d]
    if not 0 <= start <= start + length <= input.shape[d]:
        raise IndexError(f"narrow: start {start} + length {length} exceeds dimension {d} of "
                         f"size {input.shape[d]}")
    return Narrow.apply(input, d, start, length)


def split(input, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the given sizes."""
    d = _check_dim(dim, input.ndim, "split")
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} don't sum to the size {n} of dim {d}")
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(Narrow.apply(input, d, int(s), int(k)) for s, k in zip(starts, sizes))


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Split into `chunks` pieces of ceil(n / chunks) (fewer if n is small), as PyTorch does."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[_check_dim(dim, input.ndim, "chunk")]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)


def unbind(input, dim: int = 0) -> tuple:
    """The slices of input along `dim`, each without that dimension, as a tuple of views (empty
    when the dimension has size 0).
    """
    d = _check_dim(dim, input.ndim, "unbind")
    return tuple(squeeze(p, d) for p in split(input, 1, d)) if input.shape[d] else ()


def pad(input, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last len(pad)/2 dimensions: pad = (left_last, right_last, left_prev, ...).

    Modes "constant", "reflect", "replicate" and "circular", as torch.nn.functional.pad.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length {len(pad)} must be even and at most twice the "
                         f"number of dimensions ({input.ndim}, shape {input.shape})")
    if mode != "constant" and mode not in _NUMPY_PAD_MODE:
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular; got {mode!r}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "reflect":
        for (lo, hi), n in zip(widths, input.shape):
            if lo >= n or hi >= n:
                raise ValueError(f"pad: reflect padding {(lo, hi)} must be smaller than the "
                                 f"dimension size {n} (shape {input.shape})")
    return Pad.apply(input, tuple(widths), mode, value)
