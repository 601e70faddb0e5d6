"""Tests of minigrad/ops/shape.py: reshape/view, squeeze, permute, expand, repeat, cat/stack,
split/chunk/unbind, narrow, pad; views share memory and the version counter."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import (arrays, as_tensor, float_dtypes, invalid_dim, nonempty_shapes,
                              shapes, valid_dim)


@st.composite
def _reshape_target(draw, shape):
    """A new shape with the same number of elements, maybe with one -1."""
    n = math.prod(shape)
    if n == 0:
        target = list(draw(st.permutations(shape))) if shape else [0]
    else:
        target, rest = [], n
        while rest > 1:
            d = draw(st.sampled_from([k for k in range(2, rest + 1) if rest % k == 0]))
            target.append(d)
            rest //= d
        target += [1] * draw(st.integers(0, 2))
        target = draw(st.permutations(target))
    target = list(target)
    if target and n and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_reshape_forward(data, dtype):
    x = data.draw(arrays(dtype=dtype))
    target = data.draw(_reshape_target(x.shape))
    assert_tensor(as_tensor(x).reshape(target), x.reshape(target))
    assert_tensor(mg.reshape(as_tensor(x), *target), x.reshape(target))


@GRAD
@given(data=st.data())
def test_reshape_gradcheck(data):
    x = data.draw(arrays())
    target = data.draw(_reshape_target(x.shape))
    check_grad(lambda t: t.reshape(target) * 2.0, x)


def test_reshape_and_view_share_memory_and_version():
    x = mg.arange(6.0)
    v = x.view(2, 3)
    r = x.reshape(3, 2)
    v[0, 1] = 10.0
    assert x.tolist()[1] == 10.0 and r.tolist()[0][1] == 10.0
    assert x._version == v._version == r._version == 1


def test_view_of_non_contiguous_raises_and_reshape_copies():
    x = mg.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match=r"view: size \(6,\) is not compatible .*\(3, 2\)"):
        x.view(6)
    assert x.reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_reshape_invalid_size_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"reshape: shape \(4, 2\) is invalid for input of "
                                           r"shape \(2, 3\) \(size 6\)"):
        mg.ones(2, 3).reshape(4, 2)


@FAST
@given(data=st.data())
def test_flatten_unflatten(data):
    x = data.draw(arrays(shape=shapes(min_dims=1)))
    start = data.draw(valid_dim(x.ndim))
    end = data.draw(st.integers(start % x.ndim, x.ndim - 1))
    s = start % x.ndim
    expected = x.reshape(x.shape[:s] + (math.prod(x.shape[s:end + 1]),) + x.shape[end + 1:])
    flat = as_tensor(x).flatten(start, end)
    assert_tensor(flat, expected)
    assert_tensor(flat.unflatten(s, x.shape[s:end + 1]), x)
    assert_tensor(mg.flatten(as_tensor(x)), x.reshape(-1))
    assert mg.tensor(3.0).flatten().shape == (1,)


def test_flatten_rejects_start_after_end():
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        mg.ones(2, 3, 4).flatten(2, 1)


@FAST
@given(data=st.data())
def test_squeeze_unsqueeze(data):
    x = data.draw(arrays(shape=shapes(max_side=2)))
    assert_tensor(as_tensor(x).squeeze(), np.squeeze(x))
    if x.ndim:
        dim = data.draw(valid_dim(x.ndim))
        expected = np.squeeze(x, dim) if x.shape[dim] == 1 else x
        assert_tensor(as_tensor(x).squeeze(dim), expected)
    new = data.draw(valid_dim(x.ndim + 1))
    assert_tensor(as_tensor(x).unsqueeze(new), np.expand_dims(x, new))


@GRAD
@given(x=arrays(shape=shapes(max_side=2)))
def test_squeeze_unsqueeze_gradcheck(x):
    check_grad(lambda t: t.squeeze().unsqueeze(0) * 3.0, x)


def test_squeeze_tuple_of_dims():
    assert mg.ones(1, 3, 1, 2).squeeze((0, 2)).shape == (3, 2)
    assert mg.ones(1, 3, 1, 2).squeeze((0, 1)).shape == (3, 1, 2)


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_permute_transpose(data, dtype):
    x = data.draw(arrays(dtype=dtype, shape=shapes(min_dims=1)))
    dims = data.draw(st.permutations(range(x.ndim)))
    assert_tensor(as_tensor(x).permute(*dims), x.transpose(dims))
    assert_tensor(as_tensor(x).permute(dims), x.transpose(dims))
    d0, d1 = data.draw(valid_dim(x.ndim)), data.draw(valid_dim(x.ndim))
    assert_tensor(as_tensor(x).transpose(d0, d1), np.swapaxes(x, d0, d1))
    assert_tensor(as_tensor(x).T, x.T)
    if x.ndim >= 2:
        assert_tensor(as_tensor(x).mT, np.swapaxes(x, -1, -2))


@GRAD
@given(data=st.data())
def test_permute_gradcheck(data):
    x = data.draw(arrays(shape=shapes(min_dims=1)))
    dims = data.draw(st.permutations(range(x.ndim)))
    check_grad(lambda t: t.permute(dims) * mg.arange(1.0, x.shape[dims[-1]] + 1.0,
                                                      dtype=mg.float64), x)


def test_t_of_vectors_and_errors():
    assert mg.ones(3).t().shape == (3,)
    assert mg.ones(2, 3).t().shape == (3, 2)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, got 3"):
        mg.ones(2, 3, 4).t()
    with pytest.raises(RuntimeError, match=r"mT: expected a tensor with >= 2 dimensions.*\(3,\)"):
        mg.ones(3).mT


def test_permute_errors_name_the_dims():
    with pytest.raises(RuntimeError, match=r"number of dims 2 doesn't match .*\(2, 3, 4\)"):
        mg.ones(2, 3, 4).permute(0, 1)
    with pytest.raises(RuntimeError, match="repeated dim"):
        mg.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match="transpose: dimension out of range.*got 2"):
        mg.ones(2, 3).transpose(0, 2)


@FAST
@given(data=st.data())
def test_expand(data):
    x = data.draw(arrays(shape=shapes(max_side=2, max_dims=3)))
    lead = data.draw(st.lists(st.integers(0, 2), max_size=2))
    target = tuple(lead) + tuple(n if n != 1 else data.draw(st.integers(0, 3)) for n in x.shape)
    assert_tensor(as_tensor(x).expand(*target), np.broadcast_to(x, target))
    assert_tensor(mg.broadcast_to(as_tensor(x), target), np.broadcast_to(x, target))
    keep = tuple(lead) + (-1,) * x.ndim
    assert_tensor(as_tensor(x).expand(keep), np.broadcast_to(x, tuple(lead) + x.shape))


@GRAD
@given(x=arrays(shape=(st.sampled_from([(1, 3), (2, 1), (1,), (), (3, 1, 1)]))))
def test_expand_gradcheck(x):
    target = (2,) + tuple(3 if n == 1 else n for n in x.shape)
    check_grad(lambda t: t.expand(target) * mg.arange(1.0, 1.0 + math.prod(target),
                                                       dtype=mg.float64).reshape(target), x)


def test_expand_is_a_view_and_expand_as():
    x = mg.tensor([[1.0], [2.0]])
    e = x.expand(2, 3)
    assert np.shares_memory(e.data, x.data) and e._version_counter is x._version_counter
    assert x.expand_as(mg.ones(4, 2, 3)).shape == (4, 2, 3)


def test_expand_errors_name_the_sizes():
    with pytest.raises(RuntimeError, match=r"size of dim 1 of shape \(2, 3\) \(3\) must match 4"):
        mg.ones(2, 3).expand(2, 4)
    with pytest.raises(RuntimeError, match="number of sizes 1 must be >= the number of dim"):
        mg.ones(2, 3).expand(3)
    with pytest.raises(RuntimeError, match="-1 is not allowed for a new leading dim"):
        mg.ones(3).expand(-1, 3)


def test_contiguous():
    x = mg.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    xt = x.t()
    assert not xt.is_contiguous()
    c = xt.contiguous()
    assert c.is_contiguous() and c.tolist() == xt.tolist()
    check_grad(lambda t: t.t().contiguous() * mg.tensor([1.0, 2.0], dtype=mg.float64),
               np.ones((2, 3)))


@FAST
@given(data=st.data())
def test_repeat_and_tile(data):
    x = data.draw(arrays(shape=shapes(max_dims=3, max_numel=8)))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim + 1)))
    assert_tensor(as_tensor(x).repeat(*reps), np.tile(x, reps))
    short = reps[: data.draw(st.integers(0, len(reps)))]
    assert_tensor(as_tensor(x).tile(short), np.tile(x, short))


@GRAD
@given(x=arrays(shape=shapes(max_dims=2, max_numel=6)))
def test_repeat_gradcheck(x):
    reps = (2,) * x.ndim + (1,) if x.ndim < 2 else (1, 2)
    check_grad(lambda t: t.repeat(*reps), x)


def test_repeat_needs_enough_sizes():
    with pytest.raises(RuntimeError, match="number of repeat dims 1 can not be smaller than "
                                           "the number of dimensions 2"):
        mg.ones(2, 3).repeat(2)


# -- cat, stack -----------------------------------------------------------------------------


@st.composite
def _cat_inputs(draw, dtype=np.float64):
    shape = draw(nonempty_shapes(min_dims=1, max_dims=3, max_numel=8))
    dim = draw(valid_dim(len(shape)))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part_shape = list(shape)
        part_shape[dim] = draw(st.integers(0, 3))
        parts.append(draw(arrays(dtype=dtype, shape=tuple(part_shape))))
    return parts, dim


@FAST
@given(inputs=_cat_inputs(), dtype=float_dtypes())
def test_cat_forward(inputs, dtype):
    parts, dim = inputs
    parts = [p.astype(dtype) for p in parts]
    expected = np.concatenate(parts, axis=dim)
    assert_tensor(mg.cat([as_tensor(p) for p in parts], dim), expected)
    assert_tensor(mg.concat(tuple(as_tensor(p) for p in parts), dim=dim), expected)


@GRAD
@given(inputs=_cat_inputs())
def test_cat_gradcheck(inputs):
    parts, dim = inputs
    check_grad(lambda *ts: mg.cat(list(ts), dim) * 2.0, *parts)


@GRAD
@given(data=st.data())
def test_stack_forward_and_gradcheck(data):
    shape = data.draw(shapes(max_dims=2, max_numel=6))
    parts = [data.draw(arrays(shape=shape)) for _ in range(data.draw(st.integers(1, 3)))]
    dim = data.draw(valid_dim(len(shape) + 1))
    assert_tensor(mg.stack([as_tensor(p) for p in parts], dim), np.stack(parts, axis=dim))
    check_grad(lambda *ts: mg.stack(ts, dim), *parts)


def test_cat_and_stack_promote_dtypes():
    assert mg.cat([mg.tensor([1, 2]), mg.tensor([0.5])]).dtype == mg.float32
    assert mg.stack([mg.tensor([1, 2]), mg.tensor([1, 2], dtype=mg.int32)]).dtype == mg.int64
    x = mg.tensor([0.5], dtype=mg.float64, requires_grad=True)
    out = mg.cat([mg.tensor([1.0]), x])
    assert out.dtype == mg.float64
    out.sum().backward()
    assert x.grad.dtype == mg.float64


@pytest.mark.parametrize("position", [0, 1])
def test_cat_of_zero_dimensional_tensors_says_so(position):
    """PyTorch's message; a 0-d tensor has no dimension to join along (stack makes one)."""
    parts = [mg.ones(1), mg.ones(1)]
    parts[position] = mg.tensor(2.0)
    with pytest.raises(RuntimeError, match=rf"cat: zero-dimensional tensor \(at position "
                                           rf"{position}\) cannot be concatenated"):
        mg.cat(parts)


def test_cat_and_stack_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"cat: sizes of tensors must match except in "
                                           r"dimension 0; tensor 0 has shape \(2, 3\), tensor 1 "
                                           r"has shape \(2, 4\)"):
        mg.cat([mg.ones(2, 3), mg.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got "
                                           r"\(2, 3\) at entry 0 and \(3, 2\) at entry 1"):
        mg.stack([mg.ones(2, 3), mg.ones(3, 2)])
    with pytest.raises(RuntimeError, match="cat: expected a non-empty list of tensors"):
        mg.cat([])
    with pytest.raises(IndexError, match="cat: dimension out of range.*got 2"):
        mg.cat([mg.ones(2, 3)], 2)


# -- narrow, split, chunk, unbind -----------------------------------------------------------


@FAST
@given(data=st.data())
def test_narrow(data):
    x = data.draw(arrays(shape=shapes(min_dims=1)))
    dim = data.draw(valid_dim(x.ndim))
    n = x.shape[dim]
    start = data.draw(st.integers(0, n))
    length = data.draw(st.integers(0, n - start))
    out = as_tensor(x).narrow(dim, start, length)
    assert_tensor(out, np.take(x, range(start, start + length), axis=dim))
    if out.numel():
        assert np.shares_memory(out.data, x)


@GRAD
@given(x=arrays(shape=nonempty_shapes(min_dims=2, max_dims=2).filter(lambda s: s[1] >= 2)))
def test_narrow_gradcheck(x):
    check_grad(lambda t: t.narrow(1, 1, t.shape[1] - 1) * 2.0, x)


def test_narrow_out_of_range_names_the_size():
    with pytest.raises(IndexError, match="start 2 \\+ length 3 exceeds dimension 1 of size 4"):
        mg.ones(3, 4).narrow(1, 2, 3)


@FAST
@given(data=st.data())
def test_split_chunk_unbind(data):
    x = data.draw(arrays(shape=shapes(min_dims=1)))
    dim = data.draw(valid_dim(x.ndim))
    n = x.shape[dim]
    size = data.draw(st.integers(1, 4))
    pieces = as_tensor(x).split(size, dim)
    bounds = list(range(size, n, size))
    expected = np.split(x, bounds, axis=dim) if n else [x]
    assert len(pieces) == len(expected)
    for p, e in zip(pieces, expected):
        assert_tensor(p, e)
    chunks = data.draw(st.integers(1, 4))
    got = as_tensor(x).chunk(chunks, dim)
    each = -(-n // chunks) if n else 0
    sizes = [min(each, n - s) for s in range(0, n, each)] if n else [0] * chunks
    assert [p.shape[dim % x.ndim] for p in got] == sizes
    assert_tensor(mg.cat(got, dim), x)
    rows = as_tensor(x).unbind(dim)
    assert len(rows) == n
    for i, r in enumerate(rows):
        assert_tensor(r, np.take(x, i, axis=dim))


def test_split_with_sizes_and_errors():
    x = mg.arange(10.0)
    assert [p.tolist() for p in x.split([2, 3, 5])] == [[0.0, 1.0], [2.0, 3.0, 4.0],
                                                         [5.0, 6.0, 7.0, 8.0, 9.0]]
    with pytest.raises(RuntimeError, match=r"split: sizes \[2, 3\] don't sum to the size 10"):
        x.split([2, 3])
    with pytest.raises(ValueError, match="split_size must be positive, got 0"):
        x.split(0)
    with pytest.raises(ValueError, match="chunks must be positive, got 0"):
        x.chunk(0)


def test_split_gradcheck_through_all_pieces():
    def fn(t):
        a, b, c = t.split([1, 2, 1], dim=1)
        return mg.cat([c * 3.0, a, b * b], 1)

    check_grad(fn, np.arange(8.0).reshape(2, 4) / 4)


# -- pad ------------------------------------------------------------------------------------


def _numpy_pad(x, pad, mode, value=0.0):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                   "circular": "wrap"}[mode])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@GRAD
@given(data=st.data())
def test_pad_forward_and_gradcheck(mode, data):
    x = data.draw(arrays(shape=nonempty_shapes(min_dims=1, max_dims=3, max_numel=12)))
    n_pad = data.draw(st.integers(1, min(x.ndim, 2)))
    pad = []
    for i in range(n_pad):
        size = x.shape[x.ndim - 1 - i]
        limit = size - 1 if mode == "reflect" else size if mode == "circular" else 3
        pad += [data.draw(st.integers(0, limit)), data.draw(st.integers(0, limit))]
    value = data.draw(st.sampled_from([0.0, -1.5]))
    out = mg.pad(as_tensor(x), pad, mode=mode, value=value)
    assert_tensor(out, _numpy_pad(x, pad, mode, value))
    weights = mg.arange(1.0, out.numel() + 1.0, dtype=mg.float64).reshape(out.shape)
    check_grad(lambda t: mg.pad(t, pad, mode=mode, value=value) * weights, x)


def test_pad_errors():
    with pytest.raises(ValueError, match="padding length 3 must be even"):
        mg.pad(mg.ones(2, 3), (1, 1, 1))
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\) must be smaller than the "
                                         r"dimension size 3 \(shape \(2, 3\)\)"):
        mg.pad(mg.ones(2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode must be constant, reflect, replicate or circular"):
        mg.pad(mg.ones(2, 3), (1, 1), mode="wrap")
    with pytest.raises(ValueError, match=r"negative padding \(-1, 1\)"):
        mg.pad(mg.ones(2, 3), (-1, 1))


@pytest.mark.parametrize("op", ["squeeze", "unsqueeze", "flatten", "narrow", "split", "chunk",
                                "unbind", "unflatten"])
@FAST
@given(data=st.data())
def test_dim_out_of_range_names_the_op_and_dim(op, data):
    x = mg.ones(*data.draw(shapes(min_dims=1, max_dims=3, min_side=1)))
    dim = data.draw(invalid_dim(x.ndim + (op == "unsqueeze")))
    args = {"narrow": (dim, 0, 1), "split": (1, dim), "chunk": (1, dim), "unflatten": (dim, (1,)),
            "flatten": (dim,)}.get(op, (dim,))
    with pytest.raises(IndexError, match=rf"{op}: dimension out of range .*but got {dim}\)"):
        getattr(mg, op)(x, *args)
