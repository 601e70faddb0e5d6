"""Tests of minigrad/ops/copying.py: clone, casts (to, type_as, float/double/...), and the
in-place writers fill_, zero_, copy_ (values, version counter, autograd through them)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import arrays, as_tensor, broadcastable_shapes, float_dtypes, shapes


@FAST
@given(x=arrays(dtype=float_dtypes()))
def test_clone_copies_memory_and_keeps_values(x):
    t = as_tensor(x)
    c = t.clone()
    assert_tensor(c, x)
    if x.size:
        assert not np.shares_memory(c.data, x)
        c.data.flat[0] = 99.0
        assert x.flat[0] != 99.0 or np.isnan(x.flat[0])


@GRAD
@given(x=arrays())
def test_clone_gradcheck(x):
    check_grad(lambda t: t.clone() * 2.0, x)


CASTS = {"float": np.float32, "double": np.float64, "half": np.float16, "long": np.int64,
         "int": np.int32, "bool": np.bool_}


@pytest.mark.parametrize("name", CASTS)
@FAST
@given(x=arrays(dtype=float_dtypes(), low=-5, high=5))
def test_cast_methods(name, x):
    out = getattr(as_tensor(x), name)()
    assert_tensor(out, x.astype(CASTS[name]), atol=1e-3 if name == "half" else None)


def test_float_to_int_truncates_toward_zero():
    assert mg.tensor([-2.7, -0.5, 0.5, 2.7]).long().tolist() == [-2, 0, 0, 2]
    assert mg.tensor([0.0, 0.1, -3.0]).bool().tolist() == [False, True, True]


@FAST
@given(x=arrays(dtype=np.float32))
def test_cast_gradient_comes_back_in_the_input_dtype(x):
    t = as_tensor(x, requires_grad=True)
    y = t.double()
    assert y.dtype == mg.float64 and y.requires_grad
    y.backward(mg.ones(*x.shape, dtype=mg.float64) * 3.0)
    assert_tensor(t.grad, np.full(x.shape, 3.0, np.float32))


def test_cast_to_integer_cuts_the_graph():
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad
    assert not x.bool().requires_grad


def test_to_accepts_dtypes_names_tensors_and_cpu():
    x = mg.tensor([1.0, 2.0])
    assert x.to(mg.float64).dtype == mg.float64
    assert x.to(dtype=mg.int64).dtype == mg.int64
    assert x.to("float16").dtype == mg.float16
    assert x.to(np.float64).dtype == mg.float64
    assert x.to(mg.tensor([1], dtype=mg.int32)).dtype == mg.int32
    assert x.to("cpu") is x and x.to(mg.float32) is x and x.to(device="cpu") is x
    assert x.type_as(mg.ones(1, dtype=mg.float64)).dtype == mg.float64


def test_to_another_device_or_bad_dtype_is_an_error():
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        mg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="device 'cuda:0' is not available"):
        mg.ones(2).to(device="cuda:0")
    with pytest.raises(TypeError, match="unsupported dtype.*complex"):
        mg.ones(2).to(np.complex64)


# -- fill_, zero_, copy_ --------------------------------------------------------------------


@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
@FAST
@given(x=arrays(dtype=float_dtypes()), value=st.sampled_from([0.0, -1.5, 3, True]))
def test_fill_and_zero(grad, x, value):
    leaf = as_tensor(x.copy(), requires_grad=grad)
    t = leaf * 1.0 if grad else leaf
    assert t.fill_(value) is t
    assert_tensor(t, np.full(x.shape, value, dtype=x.dtype))
    assert t._version == 1
    assert t.zero_() is t
    assert_tensor(t, np.zeros(x.shape, dtype=x.dtype))
    assert t._version == 2
    if grad and x.size:
        t.sum().backward()
        assert_tensor(leaf.grad, np.zeros(x.shape, dtype=x.dtype))  # old values are gone


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_fill_with_a_tensor_value_sends_it_the_summed_gradient(dtype):
    """The value was copied into every element: its gradient is the sum of theirs (PyTorch)."""
    x = mg.ones(2, 3, requires_grad=True)
    value = mg.tensor(2.0, dtype=dtype, requires_grad=True)
    y = x * 1
    y.fill_(value)
    (y * 2).sum().backward()
    assert_tensor(value.grad, np.array(12.0, dtype=value.data.dtype))  # 2 * numel
    assert_tensor(x.grad, np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_copy_broadcasts_and_casts(grad, data, dtype):
    shape_src, shape_dst = data.draw(broadcastable_shapes())
    shape_dst = np.broadcast_shapes(shape_src, shape_dst)
    src = data.draw(arrays(shape=shape_src, dtype=np.float64))
    dst = data.draw(arrays(shape=shape_dst, dtype=dtype))
    source = as_tensor(src, requires_grad=grad)
    t = mg.tensor(dst)
    version = t._version
    assert t.copy_(source) is t
    assert_tensor(t, np.broadcast_to(src, shape_dst).astype(dtype))
    assert t._version == version + 1
    if grad:
        t.backward(mg.ones(*shape_dst, dtype=t.dtype))
        assert source.grad.shape == src.shape
        np.testing.assert_allclose(source.grad.data,
                                   np.broadcast_to(1.0, shape_dst).sum() / max(src.size, 1)
                                   if src.size else np.zeros(src.shape), rtol=1e-6)


def test_copy_gradcheck_on_non_leaf():
    def fn(x, src):
        t = x * 2.0
        t.copy_(src * 3.0)
        return t * x

    check_grad(fn, np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.5, -0.5]))


def test_copy_into_integer_tensor_truncates():
    t = mg.zeros(3, dtype=mg.int64)
    t.copy_(mg.tensor([1.7, -1.7, 2.5]))
    assert t.tolist() == [1, -1, 2]


@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
def test_copy_shape_mismatch_names_both_shapes(grad):
    target = mg.zeros(2, 3, requires_grad=grad) * 1.0 if grad else mg.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"copy_: source of shape \(4,\) does not broadcast "
                                           r"to \(2, 3\)"):
        target.copy_(mg.ones(4, requires_grad=grad))


def test_fill_on_a_view_writes_into_the_base_and_bumps_both():
    base = mg.zeros(2, 3)
    base[:, 1].fill_(7.0)
    base[0, 0].fill_(1.0)
    assert base.tolist() == [[1.0, 7.0, 0.0], [0.0, 7.0, 0.0]]
    assert base._version == 2


def test_uniform_and_normal_are_reproducible_with_a_generator():
    a = mg.empty(4, 5).uniform_(-1.0, 2.0, generator=mg.Generator(3))
    b = mg.empty(4, 5).uniform_(-1.0, 2.0, generator=mg.Generator(3))
    assert a.tolist() == b.tolist()
    assert (a.data >= -1.0).all() and (a.data < 2.0).all() and a.dtype == mg.float32
    n = mg.empty(2000).normal_(3.0, 0.5, generator=mg.Generator(0))
    assert abs(n.data.mean() - 3.0) < 0.05 and abs(n.data.std() - 0.5) < 0.05
    assert n._version == 1


@FAST
@given(shape=shapes())
def test_inplace_on_leaf_requiring_grad_is_refused(shape):
    x = mg.zeros(*shape, requires_grad=True)
    for write in (lambda t: t.fill_(1.0), lambda t: t.zero_(), lambda t: t.copy_(mg.ones(1))):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            write(x)
    assert x._version == 0


def test_fill_rejects_a_value_tensor_with_dimensions():
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match=r"0-dimension value tensor.*\(2,\)"):
        x.fill_(mg.ones(2))
