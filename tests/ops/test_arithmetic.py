"""Tests of minigrad/ops/arithmetic.py: + - * / ** %, maximum/minimum, promotion, in-place."""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import arrays, as_tensor, broadcastable_shapes, float_dtypes, floats

BINARY = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.true_divide),
}
AWAY_FROM_ZERO = {"away_from": (0.0,), "min_distance": 0.25}


def _pair(data, dtype, **kwargs):
    """Two arrays of mutually broadcastable shapes (any layout)."""
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(dtype=dtype, shape=shape_a))
    b = data.draw(arrays(dtype=dtype, shape=shape_b, **kwargs))
    return a, b


@pytest.mark.parametrize("name", BINARY)
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_binary_forward_matches_numpy(name, data, dtype):
    op, ufunc = BINARY[name]
    a, b = _pair(data, dtype, **(AWAY_FROM_ZERO if name == "div" else {}))
    assert_tensor(op(as_tensor(a), as_tensor(b)), ufunc(a, b))
    assert_tensor(getattr(mg, name)(as_tensor(a), as_tensor(b)), ufunc(a, b))


@pytest.mark.parametrize("name", BINARY)
@GRAD
@given(data=st.data())
def test_binary_gradcheck(name, data):
    op, _ = BINARY[name]
    a, b = _pair(data, np.float64, **(AWAY_FROM_ZERO if name == "div" else {}))
    check_grad(op, a, b)


@GRAD
@given(data=st.data())
def test_pow_forward_and_gradcheck(data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    base = data.draw(arrays(shape=shape_a, low=0.3, high=2.0))
    exponent = data.draw(arrays(shape=shape_b, low=-2.0, high=2.0))
    assert_tensor(as_tensor(base) ** as_tensor(exponent), base**exponent)
    check_grad(lambda x, y: x**y, base, exponent)


@pytest.mark.parametrize("fn,reference", [
    (lambda x: x + 2, lambda a: a + 2), (lambda x: 2 + x, lambda a: 2 + a),
    (lambda x: x - 1.5, lambda a: a - 1.5), (lambda x: 1.5 - x, lambda a: 1.5 - a),
    (lambda x: x * 3, lambda a: a * 3), (lambda x: 0.5 * x, lambda a: 0.5 * a),
    (lambda x: x / 4, lambda a: a / 4), (lambda x: 2 / x, lambda a: 2 / a),
    (lambda x: x**2, lambda a: a**2), (lambda x: x**-1.5, lambda a: a**-1.5),
    (lambda x: 2**x, lambda a: 2**a), (lambda x: x**0, lambda a: a**0),
    (lambda x: -x, lambda a: -a), (lambda x: x.neg(), lambda a: -a),
    (lambda x: x.add(3, alpha=2), lambda a: a + 6), (lambda x: x.sub(1, alpha=0.5),
                                                     lambda a: a - 0.5),
], ids=["x+2", "2+x", "x-1.5", "1.5-x", "x*3", "0.5*x", "x/4", "2/x", "x**2", "x**-1.5", "2**x",
        "x**0", "-x", "neg", "add_alpha", "sub_alpha"])
@GRAD
@given(x=arrays(low=0.25, high=2.0))
def test_python_scalar_on_either_side(fn, reference, x):
    assert_tensor(fn(as_tensor(x)), reference(x))
    assert_tensor(fn(as_tensor(x.astype(np.float32))), reference(x.astype(np.float32)))
    check_grad(fn, x)


def test_add_sub_alpha_with_tensors():
    x, y = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0, 5.0], requires_grad=True)
    out = x.add(y, alpha=2) - mg.sub(x, y, alpha=-1)
    assert out.tolist() == [3.0, 5.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [1.0, 1.0]


def test_pow_gradients_at_zero_follow_pytorch():
    """d(0^b)/db is 0 for b >= 0 (not NaN), d(a^0)/da is 0 even at a = 0."""
    a = mg.tensor([0.0, 0.0, 2.0], requires_grad=True)
    b = mg.tensor([0.0, 2.0, 0.0], requires_grad=True)
    out = a**b
    assert out.tolist() == [1.0, 0.0, 1.0]
    out.sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(b.grad.data, [0.0, 0.0, np.log(2.0)], rtol=1e-6)


# -- maximum, minimum ---------------------------------------------------------------------------

# values on two disjoint grids: a and b never tie, so max/min are smooth at every example
EVEN = st.integers(-4, 4).map(lambda k: 0.5 * k)
ODD = st.integers(-4, 3).map(lambda k: 0.5 * k + 0.25)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@GRAD
@given(data=st.data())
def test_maximum_minimum_forward_and_gradcheck(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(shape=shape_a, elements=EVEN))
    b = data.draw(arrays(shape=shape_b, elements=ODD))
    fn = getattr(mg, name)
    assert_tensor(fn(as_tensor(a), as_tensor(b)), getattr(np, name)(a, b))
    check_grad(fn, a, b)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_ties_evenly(name):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([1.0, 0.0, 4.0], requires_grad=True)
    out = getattr(mg, name)(a, b)
    out.backward(mg.tensor([2.0, 1.0, 1.0]))
    wins = [0.0, 1.0, 0.0] if name == "maximum" else [0.0, 0.0, 1.0]
    assert a.grad.tolist() == [1.0, wins[1], wins[2]]
    assert b.grad.tolist() == [1.0, 1 - wins[1], 1 - wins[2]]


# -- remainder and rounded division -------------------------------------------------------------


@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_remainder_has_the_sign_of_the_divisor(data, dtype):
    a, b = _pair(data, dtype, **AWAY_FROM_ZERO)
    out = as_tensor(a) % as_tensor(b)
    assert_tensor(out, np.remainder(a, b), atol=1e-5)
    assert ((out.data * np.broadcast_to(b, out.shape)) >= 0).all()


def test_remainder_gradcheck_away_from_the_jumps():
    b = np.array([2.0, -1.5, 0.75, 3.0])
    a = b * np.array([1.3, -2.6, 4.5, 0.2])  # a / b is never an integer
    check_grad(lambda x, y: x % y, a, b)
    check_grad(lambda x: mg.remainder(x, 0.7), a)
    check_grad(lambda y: 5.0 % y, b)


def test_integer_remainder_and_floor_division():
    x = mg.tensor([-7, -3, 0, 4, 9])
    assert_tensor(x % 3, np.array([2, 0, 0, 1, 0]))
    assert_tensor(x // 2, np.array([-4, -2, 0, 2, 4]))
    assert_tensor(mg.div(x, 2, rounding_mode="trunc"), np.array([-3, -1, 0, 2, 4]))
    assert_tensor(mg.div(x, 2, rounding_mode="floor"), np.array([-4, -2, 0, 2, 4]))
    assert_tensor(mg.div(mg.tensor([-3.5, 3.5]), 2.0, rounding_mode="trunc"),
                  np.array([-1.0, 1.0], np.float32))
    assert_tensor(7 // mg.tensor([2, -2]), np.array([3, -4]))


def test_div_rejects_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode must be None, 'floor' or 'trunc'"):
        mg.div(mg.ones(2), 2, rounding_mode="round")


# -- dtype promotion ------------------------------------------------------------------------


@pytest.mark.parametrize("make,expected", [
    (lambda: mg.ones(2) * 2.5, mg.float32),
    (lambda: mg.ones(2) + 1, mg.float32),
    (lambda: mg.ones(2, dtype=mg.float64) * 2.5, mg.float64),
    (lambda: mg.ones(2, dtype=mg.float16) * 2.5, mg.float16),
    (lambda: mg.tensor([1, 2]) + 2.5, mg.float32),
    (lambda: 2.5 * mg.tensor([1, 2]), mg.float32),
    (lambda: mg.tensor([1, 2]) * 3, mg.int64),
    (lambda: mg.tensor([1, 2]) / 2, mg.float32),
    (lambda: mg.tensor([1, 2]) / mg.tensor([2, 4]), mg.float32),
    (lambda: 1 / mg.tensor([2, 4]), mg.float32),
    (lambda: mg.tensor([1, 2], dtype=mg.int32) / mg.tensor([2, 4], dtype=mg.int32), mg.float32),
    (lambda: mg.tensor([1, 2]) + mg.ones(2), mg.float32),
    (lambda: mg.ones(2, dtype=mg.int32) + mg.ones(2, dtype=mg.int64), mg.int64),
    (lambda: mg.ones(2, dtype=mg.uint8) + mg.ones(2, dtype=mg.int8), mg.int16),
    (lambda: mg.ones(2) + mg.ones(2, dtype=mg.float64), mg.float64),
    (lambda: mg.ones(2) * mg.tensor(2.0, dtype=mg.float64), mg.float32),  # 0-d: lower priority
    (lambda: mg.ones(2, dtype=mg.int32) * mg.tensor(3), mg.int32),
    (lambda: mg.tensor([1, 2]) * mg.tensor(2.0, dtype=mg.float64), mg.float64),
    (lambda: mg.tensor(1.0) * mg.tensor(2.0, dtype=mg.float64), mg.float64),
    (lambda: mg.tensor([True, False]) + 1, mg.int64),
    (lambda: mg.tensor([True, False]) * 1.5, mg.float32),
    (lambda: mg.tensor([1, 2]) ** 2, mg.int64),
    (lambda: mg.tensor([1, 4]) ** 0.5, mg.float32),
    (lambda: mg.maximum(mg.tensor([1, 2]), mg.ones(2)), mg.float32),
    (lambda: mg.tensor([3, 4]) % 2.5, mg.float32),
    (lambda: mg.add(2, 3.5), mg.float32),
    (lambda: mg.ones(2) * np.float64(2.0), mg.float32),
], ids=lambda v: "" if callable(v) else str(v))
def test_dtype_promotion_follows_pytorch(make, expected):
    assert make().dtype == expected


def test_integer_true_division_values():
    assert_tensor(mg.tensor([1, 3]) / mg.tensor([2, 4]), np.array([0.5, 0.75], np.float32))


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "remainder"])
def test_shape_mismatch_names_the_op_and_both_shapes(op):
    with pytest.raises(RuntimeError, match=rf"{op}: shapes \(2, 3\) and \(4,\) can't be broadcast"):
        getattr(mg, op)(mg.ones(2, 3), mg.ones(4))


def test_operator_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"mul: shapes \(3,\) and \(2, 2\)"):
        mg.ones(3) * mg.ones(2, 2)


def test_other_numpy_errors_keep_their_message():
    """Only a real broadcasting failure is reported as one (PyTorch words this one the same)."""
    with pytest.raises(RuntimeError, match="pow: Integers to negative integer powers are not "
                                           "allowed"):
        mg.tensor([2]) ** -1


# -- in-place arithmetic --------------------------------------------------------------------

INPLACE = {
    "add_": (lambda t, v: t.add_(v), np.add),
    "sub_": (lambda t, v: t.sub_(v), np.subtract),
    "mul_": (lambda t, v: t.mul_(v), np.multiply),
    "div_": (lambda t, v: t.div_(v), np.true_divide),
    "+=": (lambda t, v: t.__iadd__(v), np.add),
    "-=": (lambda t, v: t.__isub__(v), np.subtract),
    "*=": (lambda t, v: t.__imul__(v), np.multiply),
    "/=": (lambda t, v: t.__itruediv__(v), np.true_divide),
}


@pytest.mark.parametrize("name", INPLACE)
@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
def test_inplace_arithmetic_values_and_version(name, grad):
    method, ufunc = INPLACE[name]
    start = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], np.float32)
    other = np.array([2.0, -0.5, 4.0], np.float32)
    x = mg.tensor(start, requires_grad=grad)
    t = x * 1.0 if grad else mg.tensor(start)
    before = t._version
    out = method(t, mg.tensor(other))
    assert out is t
    assert t._version == before + 1
    assert_tensor(t, ufunc(start, other))
    out = method(t, 2.0)
    assert t._version == before + 2
    assert_tensor(t, ufunc(ufunc(start, other), 2.0))


@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_"])
def test_inplace_arithmetic_gradcheck_on_non_leaf(name):
    method, _ = INPLACE[name]

    def fn(x, y):
        t = x * 1.5  # a non-leaf: in-place on it is recorded in the graph
        method(t, y + 3.0)
        return t * x

    check_grad(fn, np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), np.array([0.3, -0.6, 1.2]))


def test_inplace_on_a_view_writes_through_to_the_base():
    base = mg.zeros(2, 3)
    row = base[1]
    row.add_(mg.tensor([1.0, 2.0, 3.0]))
    row *= 2
    assert base.tolist() == [[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]]
    assert base._version == row._version == 2


def test_inplace_on_leaf_that_requires_grad_raises():
    x = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.add_(1.0)
    with mg.no_grad():
        x.add_(1.0)
    assert x.tolist() == [2.0, 2.0, 2.0]


def test_inplace_modification_of_saved_value_is_detected():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y * y  # saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_operand_no_needed_gradient_reads_may_change_in_place():
    """Like PyTorch, an op saves only what its needed gradients read (no false positives)."""
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    y = h * 2  # dL/dh reads only the 2
    h.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h / mg.tensor([2.0, 4.0])  # dL/dh = grad / divisor reads only the divisor
    h.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [0.5, 0.25]

    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * 1) ** 2  # the exponent needs no gradient: its output is not saved
    y.mul_(2)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]  # d(2 x^2)/dx


@pytest.mark.parametrize("make", [
    lambda h, w: h * w,  # dL/dw reads h
    lambda h, w: w / h,  # dL/dw and dL/dh read h
    lambda h, w: h ** w,  # dL/dh reads h
], ids=["mul", "div", "pow"])
def test_operand_a_needed_gradient_reads_is_still_guarded(make):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    h = x * 1
    y = make(h, w)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_pow_output_is_guarded_when_the_exponent_needs_its_gradient():
    x = mg.tensor([1.0, 2.0])
    b = mg.tensor(2.0, requires_grad=True)
    y = x ** b  # dL/db = grad x^b log(x) reads the output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
def test_inplace_result_must_fit_the_tensor(grad):
    """An int tensor can't take a float result; a tensor can't grow by broadcasting."""
    source = mg.ones(3, requires_grad=True) if grad else mg.ones(3)
    with pytest.raises(RuntimeError, match="can't be cast to the tensor's dtype .*int64"):
        mg.tensor([1, 2, 3]).add_(source)
    with pytest.raises(RuntimeError, match="can't be cast to the tensor's dtype .*int64"):
        t = mg.tensor([1, 2, 3])
        t /= 2
    small = source * 1.0 if grad else mg.ones(3)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)|\(2, 3\).*\(3,\)"):
        small.add_(mg.ones(2, 3))
    assert small.tolist() == [1.0, 1.0, 1.0]


@GRAD
@given(x=arrays(shape=(2, 3)), y=arrays(shape=(3,)), scale=floats(0.5, 2.0))
def test_inplace_chain_matches_out_of_place(x, y, scale):
    a, b = as_tensor(x.copy(), requires_grad=True), as_tensor(y.copy(), requires_grad=True)
    t = a * 1.0
    t += b
    t *= scale
    t -= b * b
    t.sum().backward()
    expected = (x + y) * scale - y * y
    assert_tensor(t, expected)
    assert_tensor(a.grad, np.full(x.shape, scale))
    assert_tensor(b.grad, 2 * (scale - 2 * y))
