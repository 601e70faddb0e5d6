"""Tests of minigrad/ops/indexing.py: t[...] (basic, integer arrays, masks), t[...] = v,
index_select, gather, where, masked_fill."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import (arrays, as_tensor, basic_indices, broadcastable_shapes,
                              float_dtypes, gather_indices, index_arrays, masks, nonempty_shapes,
                              shapes, valid_dim)

# -- reading --------------------------------------------------------------------------------


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_basic_index_is_a_view(data, dtype):
    x = data.draw(arrays(dtype=dtype))
    index = data.draw(basic_indices(x.shape))
    t = as_tensor(x)
    out = t[index]
    assert_tensor(out, x[index])
    if out.numel():
        assert np.shares_memory(out.data, x)
        assert out._version_counter is t._version_counter


@GRAD
@given(data=st.data())
def test_basic_index_gradcheck(data):
    x = data.draw(arrays())
    index = data.draw(basic_indices(x.shape))
    check_grad(lambda t: t[index] * 2.0, x)


@st.composite
def _advanced_index(draw, shape):
    """An index with one or two integer arrays (repeats likely) or a mask, plus slices."""
    kind = draw(st.sampled_from(["one", "two", "mask", "array_after_slice"]))
    if kind == "mask":
        return draw(masks(shape))
    if kind == "two" and len(shape) >= 2 and shape[0] and shape[1]:
        length = draw(st.integers(0, 4))
        return (draw(index_arrays(shape[0], shape=(length,))),
                draw(index_arrays(shape[1], shape=(length,))))
    if kind == "array_after_slice" and len(shape) >= 2 and shape[1]:
        return (slice(None), draw(index_arrays(shape[1])))
    return draw(index_arrays(shape[0], shape=st.sampled_from([(3,), (2, 2), (0,)])))


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_advanced_index_forward(data, dtype):
    x = data.draw(arrays(dtype=dtype, shape=nonempty_shapes(max_dims=3)))
    index = data.draw(_advanced_index(x.shape))
    assert_tensor(as_tensor(x)[index], x[index])
    as_tensors = tuple(mg.tensor(i) if isinstance(i, np.ndarray) else i
                       for i in (index if isinstance(index, tuple) else (index,)))
    assert_tensor(as_tensor(x)[as_tensors], x[index])


@GRAD
@given(data=st.data())
def test_advanced_index_gradcheck_with_repeated_indices(data):
    x = data.draw(arrays(shape=nonempty_shapes(max_dims=3)))
    index = data.draw(_advanced_index(x.shape))
    check_grad(lambda t: t[index] * 2.0, x)


def test_repeated_indices_accumulate_gradient():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 2, 0, 0]].backward(mg.tensor([1.0, 2.0, 3.0, 4.0]))
    assert x.grad.tolist() == [8.0, 0.0, 2.0]
    y = mg.ones(2, 3, requires_grad=True)
    y[[1, 1], [2, 2]].sum().backward()
    assert y.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]


def test_mask_index():
    x = mg.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    out = x[x > 0]
    assert out.tolist() == [1.0, 4.0]
    out.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert x[mg.tensor([False, True])].tolist() == [[-3.0, 4.0]]


def test_list_and_empty_list_indices():
    x = mg.arange(12.0).reshape(3, 4)
    assert x[[[0, 1], [1, 1]]].shape == (2, 2, 4)  # one index array, as NumPy
    assert x[[]].shape == (0, 4)
    assert x[mg.tensor(1)].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_index_out_of_range_names_the_index_and_size():
    x = mg.ones(4, 5)
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for axis 0 with size 4.*"
                                         r"\(4, 5\)"):
        x[4]
    with pytest.raises(IndexError, match=r"index -6 is out of bounds for axis 1 with size 5"):
        x[0, -6]
    with pytest.raises(IndexError, match=r"index 7 is out of bounds for axis 0 with size 4"):
        x[[0, 7]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]


def test_index_with_wrong_dtype_names_the_dtype():
    with pytest.raises(IndexError, match="must be long or bool, got dtype float32"):
        mg.ones(3)[mg.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="unsupported index of type str"):
        mg.ones(3)["a"]


# -- writing: t[index] = value --------------------------------------------------------------


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_setitem_matches_numpy_and_bumps_version(data, dtype):
    x = data.draw(arrays(dtype=dtype, shape=nonempty_shapes(max_dims=3)))
    index = data.draw(st.one_of(basic_indices(x.shape), _advanced_index(x.shape)))
    target_shape = x[index].shape
    value_shape = data.draw(st.sampled_from([(), target_shape[-1:], target_shape]))
    value = data.draw(arrays(dtype=dtype, shape=value_shape))
    t = mg.tensor(x)
    expected = np.array(x)
    expected[index] = value
    t[index] = mg.tensor(value)
    assert_tensor(t, expected)
    assert t._version == 1
    t[index] = 0.5
    expected[index] = 0.5
    assert_tensor(t, expected)
    assert t._version == 2


@GRAD
@given(data=st.data())
def test_setitem_gradcheck_on_non_leaf(data):
    x = data.draw(arrays(shape=nonempty_shapes(max_dims=3)))
    index = data.draw(st.one_of(basic_indices(x.shape), _advanced_index(x.shape)))
    value = data.draw(arrays(shape=st.sampled_from([(), x[index].shape])))
    # a position written twice keeps one value, yet (as in PyTorch) every write sends the
    # value a gradient: only duplicate-free indices have a well-defined derivative
    writes = np.zeros(x.shape, dtype=int)
    np.add.at(writes, index, 1)
    assume(writes.max(initial=0) <= 1)

    def fn(t, v):
        y = t * 2.0
        y[index] = v * 3.0
        return y * y

    check_grad(fn, x, value)


def test_setitem_gradients_by_hand():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = mg.tensor(5.0, requires_grad=True)
    y = x * 1.0
    y[1] = v
    assert y.tolist() == [1.0, 5.0, 3.0]
    (y * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 100.0]  # the overwritten element gets nothing
    assert v.grad.item() == 10.0


def test_augmented_assignment_through_an_advanced_index():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    y[[0, 2]] += mg.tensor([10.0, 20.0])
    assert y.tolist() == [11.0, 2.0, 23.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_setitem_on_a_leaf_requiring_grad_raises_unless_no_grad():
    x = mg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x[0] = 1.0
    with mg.no_grad():
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0] and x._version == 1


def test_setitem_detects_use_of_the_old_value():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.exp()
    w = y * x  # saves y, which dL/dx reads (y * 3.0 would not: nothing reads y there)
    y[0] = 0.0
    z.sum().backward()  # exp saved its output, not y: still fine
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (w * y).sum().backward()


def test_setitem_errors():
    x = mg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"index 2 is out of bounds for axis 0 with size 2"):
        x[2] = 1.0
    with pytest.raises((RuntimeError, ValueError), match=r"\(4,\).*\(3,\)|\(3,\).*\(4,\)"):
        x[0] = mg.ones(4)


# -- index_select, gather -------------------------------------------------------------------


@GRAD
@given(data=st.data())
def test_index_select(data):
    x = data.draw(arrays(shape=nonempty_shapes(max_dims=3)))
    dim = data.draw(valid_dim(x.ndim))
    index = data.draw(index_arrays(x.shape[dim], allow_negative=False))
    assert_tensor(mg.index_select(as_tensor(x), dim, mg.tensor(index)),
                  np.take(x, index, axis=dim))
    assert_tensor(as_tensor(x).index_select(dim, index), np.take(x, index, axis=dim))
    check_grad(lambda t: t.index_select(dim, mg.tensor(index)), x)


def test_index_select_errors_name_the_problem():
    with pytest.raises(IndexError, match=r"index must be a 1-D integer tensor, got shape \(1, 2\)"):
        mg.ones(3).index_select(0, mg.tensor([[0, 1]]))
    with pytest.raises(IndexError, match="got shape \\(2,\\) and dtype float32"):
        mg.ones(3).index_select(0, mg.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match=r"index_select: index 3 is out of bounds .*size 3"):
        mg.ones(3).index_select(0, mg.tensor([3]))


@pytest.mark.parametrize("op", ["index_select", "gather"])
def test_negative_indices_are_out_of_bounds(op):
    """PyTorch reads no negative index here; NumPy's take would wrap -1 to the last element."""
    x = mg.ones(2, 3)
    index = mg.tensor([0, -1]) if op == "index_select" else mg.tensor([[0, -1]])
    with pytest.raises(IndexError, match=rf"{op}: index -1 is out of bounds for dim 1 with "
                                         r"size 3"):
        getattr(x, op)(1, index)


def _gather_reference(x, dim, index):
    out = np.empty(index.shape, dtype=x.dtype)
    for pos in np.ndindex(*index.shape):
        source = list(pos)
        source[dim] = index[pos]
        out[pos] = x[tuple(source)]
    return out


@GRAD
@given(data=st.data())
def test_gather(data):
    x = data.draw(arrays(shape=nonempty_shapes(max_dims=3)))
    dim = data.draw(valid_dim(x.ndim))
    index = data.draw(gather_indices(x.shape, dim))
    d = dim % x.ndim
    assert_tensor(mg.gather(as_tensor(x), dim, mg.tensor(index)), _gather_reference(x, d, index))
    check_grad(lambda t: t.gather(dim, mg.tensor(index)), x)


def test_gather_errors():
    with pytest.raises(RuntimeError, match=r"index of shape \(2,\) must have the input's number "
                                           r"of dims .*\(2, 3\)"):
        mg.ones(2, 3).gather(1, mg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="index must be an integer tensor, got float32"):
        mg.ones(2, 3).gather(1, mg.tensor([[0.0]]))
    with pytest.raises(IndexError, match="gather: index 5 is out of bounds for dim 1 with "
                                         "size 3"):
        mg.ones(2, 3).gather(1, mg.tensor([[5]]))


# -- where, masked_fill ---------------------------------------------------------------------


@GRAD
@given(data=st.data())
def test_where_broadcasts_all_three(data):
    shape_c, shape_a, shape_b = data.draw(broadcastable_shapes(num_shapes=3))
    cond = data.draw(masks(shape_c))
    a = data.draw(arrays(shape=shape_a))
    b = data.draw(arrays(shape=shape_b))
    assert_tensor(mg.where(mg.tensor(cond), as_tensor(a), as_tensor(b)), np.where(cond, a, b))
    check_grad(lambda x, y: mg.where(mg.tensor(cond), x, y), a, b)


def test_where_with_scalars_and_dtypes():
    cond = mg.tensor([True, False, True])
    x = mg.tensor([1.0, 2.0, 3.0])
    assert_tensor(mg.where(cond, x, 0.0), np.array([1.0, 0.0, 3.0], np.float32))
    assert_tensor(mg.where(cond, -1.0, x), np.array([-1.0, 2.0, -1.0], np.float32))
    assert_tensor(mg.where(cond, mg.tensor([1, 2, 3]), 2.5), np.array([1.0, 2.5, 3.0],
                                                                       np.float32))
    assert_tensor(x.where(x > 1.5, mg.zeros(3)), np.array([0.0, 2.0, 3.0], np.float32))


def test_where_errors():
    with pytest.raises(RuntimeError, match="condition must be a bool tensor, got dtype float32"):
        mg.where(mg.ones(2), mg.ones(2), mg.ones(2))
    with pytest.raises(RuntimeError, match=r"where: .*\(3,\).*\(2,\)"):
        mg.where(mg.tensor([True, False, True]), mg.ones(2), 0.0)


@GRAD
@given(data=st.data())
def test_masked_fill(data):
    shape_x, shape_m = data.draw(broadcastable_shapes())
    x = data.draw(arrays(shape=shape_x))
    mask = data.draw(masks(shape_m))
    if np.broadcast_shapes(shape_x, shape_m) != x.shape:
        with pytest.raises(RuntimeError, match="masked_fill: mask of shape .* would grow"):
            mg.masked_fill(as_tensor(x), mg.tensor(mask), 1.0)
        return
    assert_tensor(as_tensor(x).masked_fill(mg.tensor(mask), -2.5), np.where(mask, -2.5, x))
    check_grad(lambda t, v: t.masked_fill(mg.tensor(mask), v), x, np.array(0.75))


def test_masked_fill_with_inf_keeps_dtype_and_int_tensors():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64)
    out = x.masked_fill(mg.tensor([True, False]), float("-inf"))
    assert out.dtype == mg.float64 and out.tolist() == [float("-inf"), 2.0]
    assert_tensor(mg.tensor([1, 2, 3]).masked_fill(mg.tensor([False, True, False]), 7),
                  np.array([1, 7, 3]))


def test_masked_fill_errors():
    with pytest.raises(RuntimeError, match="mask must be a bool tensor, got dtype int64"):
        mg.ones(2).masked_fill(mg.tensor([1, 0]), 0.0)
    with pytest.raises(RuntimeError, match=r"mask of shape \(3,\) does not broadcast to the "
                                           r"input shape \(2,\)"):
        mg.ones(2).masked_fill(mg.tensor([True, False, True]), 0.0)
    with pytest.raises(RuntimeError, match=r"value must be a number or a 0-d tensor, got shape"):
        mg.ones(2).masked_fill(mg.tensor([True, False]), mg.ones(2))


@FAST
@given(data=st.data())
def test_inplace_masked_fill(data):
    x = data.draw(arrays(shape=shapes(min_dims=1)))
    mask = data.draw(masks(x.shape[-1:]))
    t = mg.tensor(x)
    assert t.masked_fill_(mg.tensor(mask), 3.0) is t
    assert_tensor(t, np.where(mask, 3.0, x))
    assert t._version == 1
