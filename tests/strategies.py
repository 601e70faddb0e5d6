"""Hypothesis strategies shared by the whole test suite: shapes, arrays, dims, indices.

Every test that draws random tensors draws them from here, so that the edge cases we care
about (size-0 and size-1 dimensions, 0-d tensors, broadcasting, non-contiguous memory) are
generated everywhere in the same way. The strategies produce **NumPy arrays**; turn one into a
tensor with `as_tensor(array)`, which keeps the array's memory layout (a transposed or strided
view stays non-contiguous), unlike `minigrad.tensor`, which copies.

Sizes are kept small on purpose: `minigrad.autograd.gradcheck` costs O(numel^2) evaluations,
so the default budget is `MAX_NUMEL = 24` elements per array.

Typical use::

    from hypothesis import given, settings
    from tests.strategies import arrays, as_tensor, reduce_dims

    @settings(max_examples=25, deadline=None)
    @given(data=st.data())
    def test_sum(data):
        x = data.draw(arrays(dtype=np.float64))
        dim, keepdim = data.draw(reduce_dims(x.ndim))
        ...
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad

MAX_NUMEL = 24
"""Default upper bound on the number of elements of a generated array."""

FLOAT_DTYPES = (np.float32, np.float64)

LAYOUTS = ("contiguous", "transposed", "strided", "flipped")
"""Memory layouts `arrays` can produce. All but "contiguous" give a non-contiguous view of a
bigger (or reordered) buffer whenever the shape allows it:

- "transposed": the transpose of a C-contiguous array of the reversed shape (F order);
- "strided": every other element along the last dim of a buffer twice as long (the skipped
  elements are NaN for floats, so an op that reads outside the view shows up as NaN);
- "flipped": the last dim reversed (negative strides; `torch.from_numpy` refuses those, so
  hand such arrays to torch with `torch.tensor(array)`, which copies).
"""


# -- shapes -----------------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 4,
           max_numel: int = MAX_NUMEL) -> st.SearchStrategy[tuple]:
    """Array shapes with `min_dims..max_dims` dims of size `min_side..max_side`, at most
    `max_numel` elements. By default includes 0-d shapes `()`, size-1 and size-0 dims."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side).filter(lambda s: math.prod(s) <= max_numel)


def nonempty_shapes(min_dims: int = 1, max_dims: int = 4, max_side: int = 4,
                    max_numel: int = MAX_NUMEL) -> st.SearchStrategy[tuple]:
    """Shapes with every dim >= 1 (for ops that reject empty inputs, e.g. max, min)."""
    return shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side,
                  max_numel=max_numel)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         min_side: int = 0, max_side: int = 4,
                         max_numel: int = MAX_NUMEL) -> st.SearchStrategy[tuple]:
    """A tuple of `num_shapes` mutually broadcastable shapes (different ranks, size-1 dims that
    stretch, size-0 dims) whose broadcast result has at most `max_numel` elements.

    Draws e.g. `((3, 1), (4,))`, `((), (2, 0))`, `((1, 2, 1), (2, 3))`.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).filter(lambda b: math.prod(b.result_shape) <= max_numel
             and all(math.prod(s) <= max_numel for s in b.input_shapes)
             ).map(lambda b: tuple(b.input_shapes))


def matmul_shapes(max_batch_dims: int = 2, max_side: int = 3,
                  min_side: int = 1) -> st.SearchStrategy[tuple]:
    """A pair `(shape_a, shape_b)` that `matmul` accepts: 1-D @ 1-D, 1-D @ N-D, N-D @ 1-D,
    2-D @ 2-D and batched operands whose batch dims broadcast (e.g. `(2, 1, 3, 4), (5, 4, 2)`).
    Use `min_side=0` to get empty matrices too."""

    @st.composite
    def build(draw):
        side = st.integers(min_side, max_side)
        m, k, n = draw(side), draw(side), draw(side)
        batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=max_batch_dims, min_side=1,
                                                     max_side=2))
        left = draw(st.sampled_from(["vector", "matrix", "batched"]))
        right = draw(st.sampled_from(["vector", "matrix", "batched"]))
        a = {"vector": (k,), "matrix": (m, k), "batched": batch_a + (m, k)}[left]
        b = {"vector": (k,), "matrix": (k, n), "batched": batch_b + (k, n)}[right]
        return a, b

    return build()


# -- values -----------------------------------------------------------------------------------


def floats(low: float = -2.0, high: float = 2.0, dtype=np.float64, away_from=(),
           min_distance: float = 0.1) -> st.SearchStrategy[float]:
    """Finite floats in [low, high], representable in `dtype` (float16, float32 or float64).

    `away_from`: points (kinks such as 0 for abs/relu, or the bounds of clamp) that values
    are pushed at least `min_distance` away from; finite differences across a kink are wrong,
    so gradient checks need this. Values are moved, not filtered, so no example is rejected
    (a moved value may land up to `min_distance` outside [low, high]).
    """
    width = {np.dtype(np.float16): 16, np.dtype(np.float32): 32}.get(np.dtype(dtype), 64)
    if width < 64:  # bounds must be representable: round them inwards
        narrow = np.dtype(dtype).type
        low_in, high_in = narrow(low), narrow(high)
        low = float(np.nextafter(low_in, narrow(np.inf)) if low_in < low else low_in)
        high = float(np.nextafter(high_in, narrow(-np.inf)) if high_in > high else high_in)
    base = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
    points = tuple(away_from)
    if not points:
        return base

    def push(x: float) -> float:
        for _ in range(len(points) + 1):
            near = [p for p in points if abs(x - p) < min_distance]
            if not near:
                return x
            p = near[0]
            x = p + min_distance if x >= p else p - min_distance
        return x

    if width < 64:
        return base.map(lambda x: float(np.dtype(dtype).type(push(x))))
    return base.map(push)


def float_dtypes() -> st.SearchStrategy[type]:
    """np.float32 or np.float64."""
    return st.sampled_from(FLOAT_DTYPES)


@st.composite
def arrays(draw, dtype=np.float64, shape=None, low: float = -2.0, high: float = 2.0,
           away_from=(), min_distance: float = 0.1, unique: bool = False, layout=None,
           elements=None) -> np.ndarray:
    """A NumPy array of `dtype` (a dtype or a strategy of dtypes), possibly non-contiguous.

    Args:
        dtype: float32/float64 (values from `floats(low, high, ...)`), an integer dtype
            (values in [low, high]) or bool.
        shape: a shape, a strategy of shapes, or None for `shapes()`.
        low, high, away_from, min_distance: the value range, see `floats`.
        unique: all elements distinct (no ties for max/min/sort-like ops).
        layout: one of `LAYOUTS`, a strategy of them, or None to draw one; "contiguous"
            forces a C-contiguous array.
        elements: a strategy of elements that overrides the value range.
    """
    if isinstance(dtype, st.SearchStrategy):
        dtype = draw(dtype)
    dtype = np.dtype(dtype)
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    shape = tuple(shape)
    if elements is None:
        if dtype.kind == "f":
            elements = floats(low, high, dtype, away_from, min_distance)
        elif dtype.kind in "iu":
            elements = st.integers(int(math.ceil(low)), int(math.floor(high)))
        else:
            elements = st.booleans()
    values = draw(hnp.arrays(dtype, shape, elements=elements, unique=unique))
    if layout is None:
        layout = st.sampled_from(LAYOUTS)
    if isinstance(layout, st.SearchStrategy):
        layout = draw(layout)
    return make_layout(values, layout)


def make_layout(values: np.ndarray, layout: str) -> np.ndarray:
    """An array equal to `values` with the memory layout `layout` (see `LAYOUTS`).

    Falls back to a contiguous copy when the shape cannot be laid out that way (0-d arrays).
    """
    if layout == "contiguous" or values.ndim == 0:
        return values.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
    if layout == "transposed":
        if values.ndim < 2:
            return make_layout(values, "strided")
        return values.T.copy(order="C").T
    if layout == "strided":
        buffer_shape = values.shape[:-1] + (2 * values.shape[-1],)
        fill = np.nan if values.dtype.kind == "f" else 0
        buffer = np.full(buffer_shape, fill, dtype=values.dtype)
        buffer[..., ::2] = values
        return buffer[..., ::2]
    if layout == "flipped":
        return values[..., ::-1].copy(order="C")[..., ::-1]
    raise ValueError(f"make_layout: unknown layout {layout!r}; expected one of {LAYOUTS}")


def non_contiguous_arrays(dtype=np.float64, shape=None, **kwargs) -> st.SearchStrategy:
    """Arrays that are NOT C-contiguous: a transposed, strided or flipped view.

    Shapes default to at least 1-D with at least one dim of size >= 2 (smaller arrays are
    always contiguous in NumPy's sense).
    """
    if shape is None:
        shape = shapes(min_dims=1, min_side=1).filter(lambda s: max(s) >= 2)
    layouts = st.sampled_from(["transposed", "strided", "flipped"])
    return arrays(dtype=dtype, shape=shape, layout=layouts, **kwargs).filter(
        lambda a: not a.flags.c_contiguous)




def as_tensor(array: np.ndarray, requires_grad: bool = False) -> minigrad.Tensor:
    """A minigrad tensor that uses `array`'s memory and strides (layout preserved).

    `minigrad.tensor(array)` would copy into a contiguous array and lose the layout under test.
    """
    t = minigrad.from_numpy(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


# -- dims, indices ----------------------------------------------------------------------------


@st.composite
def reduce_dims(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True,
                allow_negative: bool = True):
    """`(dim, keepdim)` for a reduction over an `ndim`-dim tensor.

    `dim` is None (all dims; if allowed), one int, or a tuple of distinct ints (possibly
    negative, in any order, possibly empty for amax-style "all dims"); `keepdim` a bool.
    A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    """
    keepdim = draw(st.booleans())
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None, keepdim
    n = max(ndim, 1)
    if kind == "int":
        return draw(valid_dim(ndim, allow_negative)), keepdim
    axes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    if ndim == 0:
        axes = axes[:1]
    if allow_negative:
        axes = [a - n if draw(st.booleans()) else a for a in axes]
    return tuple(axes), keepdim


def valid_dim(ndim: int, allow_negative: bool = True) -> st.SearchStrategy[int]:
    """One valid dim of an `ndim`-dim tensor, in [-ndim, ndim) (0-d tensors: 0 or -1)."""
    n = max(ndim, 1)
    return st.integers(-n if allow_negative else 0, n - 1)


def invalid_dim(ndim: int) -> st.SearchStrategy[int]:
    """A dim out of range for an `ndim`-dim tensor (>= ndim or < -ndim)."""
    n = max(ndim, 1)
    return st.one_of(st.integers(n, n + 3), st.integers(-n - 3, -n - 1))


def index_arrays(size: int, shape=None, allow_negative: bool = True,
                 max_len: int = 6) -> st.SearchStrategy[np.ndarray]:
    """int64 indices into a dim of length `size` (>= 1): values in [-size, size) (or
    [0, size)), repeats allowed and likely. `shape` defaults to 1-D of length 0..`max_len`."""
    if size < 1:
        raise ValueError("index_arrays: size must be >= 1 to have valid indices")
    low = -size if allow_negative else 0
    if shape is None:
        shape = st.integers(0, max_len).map(lambda n: (n,))
    return hnp.arrays(np.int64, shape, elements=st.integers(low, size - 1))


def masks(shape) -> st.SearchStrategy[np.ndarray]:
    """Boolean arrays of `shape` (a shape or a strategy of shapes)."""
    return hnp.arrays(np.bool_, shape, elements=st.booleans())


@st.composite
def gather_indices(draw, shape: tuple, dim: int) -> np.ndarray:
    """An int64 index for `gather(input, dim, index)` with `input.shape == shape`: same number
    of dims, no larger than `shape` outside `dim`, values in [0, shape[dim]) along `dim`
    (which must be non-empty)."""
    d = dim % max(len(shape), 1)
    index_shape = tuple(draw(st.integers(0, 3)) if k == d else draw(st.integers(0, n))
                        for k, n in enumerate(shape))
    return draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[d] - 1)))


@st.composite
def basic_indices(draw, shape: tuple) -> tuple:
    """A basic (view-producing) index for an array of `shape`: a tuple of in-range ints
    (possibly negative), slices with positive steps (possibly empty or out-of-range bounds,
    which clip), `None` (new axis) and at most one `...` (before or after the indexed dims)."""
    items = []
    use_ellipsis = draw(st.booleans()) and len(shape) > 0
    n_indexed = draw(st.integers(0, len(shape)))
    trailing = use_ellipsis and draw(st.booleans())  # `x[..., i]` rather than `x[i, ...]`
    for n in (shape[len(shape) - n_indexed:] if trailing else shape[:n_indexed]):
        if draw(st.booleans()):
            items.append(None)
        kind = draw(st.sampled_from(["int", "slice", "full"]) if n else st.just("slice"))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            items.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            items.append(slice(None))
    if use_ellipsis:
        items = [Ellipsis] + items if trailing else items + [Ellipsis]
    return tuple(items)
