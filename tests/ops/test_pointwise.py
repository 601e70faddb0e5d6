"""Tests of minigrad/ops/pointwise.py: elementwise math and activations, clamp, rounding."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from tests.ops.helpers import FAST, GRAD, assert_tensor, check_grad
from tests.strategies import arrays, as_tensor, float_dtypes

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(a):
    return 0.5 * a * (1 + _erf(a.astype(np.float64) / math.sqrt(2)))


def _gelu_tanh(a):
    a = a.astype(np.float64)
    return 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))


# name: (minigrad function, NumPy reference, value range and kinks to keep away from)
SMOOTH = {
    "exp": (mg.exp, np.exp, {}),
    "log": (mg.log, np.log, {"low": 0.1, "high": 3.0}),
    "log1p": (mg.log1p, np.log1p, {"low": -0.9, "high": 3.0}),
    "sqrt": (mg.sqrt, np.sqrt, {"low": 0.1, "high": 3.0}),
    "rsqrt": (mg.rsqrt, lambda a: 1 / np.sqrt(a), {"low": 0.1, "high": 3.0}),
    "reciprocal": (mg.reciprocal, lambda a: 1 / a, {"away_from": (0.0,), "min_distance": 0.2}),
    "sin": (mg.sin, np.sin, {}),
    "cos": (mg.cos, np.cos, {}),
    "tanh": (mg.tanh, np.tanh, {}),
    "sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a.astype(np.float64))), {"low": -8.0,
                                                                                  "high": 8.0}),
    "silu": (mg.silu, lambda a: a / (1 + np.exp(-a.astype(np.float64))), {}),
    "gelu": (mg.gelu, _gelu, {"low": -4.0, "high": 4.0}),
    "gelu_tanh": (lambda x: mg.gelu(x, approximate="tanh"), _gelu_tanh, {"low": -4.0,
                                                                          "high": 4.0}),
    "square": (mg.square, np.square, {}),
    "abs": (mg.abs, np.abs, {"away_from": (0.0,)}),
    "relu": (mg.relu, lambda a: np.maximum(a, 0), {"away_from": (0.0,)}),
    "leaky_relu": (lambda x: mg.leaky_relu(x, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
                   {"away_from": (0.0,)}),
}


@pytest.mark.parametrize("name", SMOOTH)
@FAST
@given(data=st.data(), dtype=float_dtypes())
def test_forward_matches_numpy(name, data, dtype):
    fn, reference, bounds = SMOOTH[name]
    x = data.draw(arrays(dtype=dtype, **bounds))
    out = fn(as_tensor(x))
    assert_tensor(out, reference(x).astype(dtype), atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", SMOOTH)
@GRAD
@given(data=st.data())
def test_gradcheck(name, data):
    fn, _, bounds = SMOOTH[name]
    check_grad(fn, data.draw(arrays(**bounds)))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "relu", "abs"])
def test_tensor_method_is_the_function(name):
    x = mg.tensor([0.5, 1.5, 2.0])
    assert getattr(x, name)().tolist() == getattr(mg, name)(x).tolist()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_known_values(approximate):
    x = mg.tensor([-3.0, -1.0, 0.0, 1.0, 3.0], dtype=mg.float64)
    expected = {"none": [-0.0040496, -0.1586553, 0.0, 0.8413447, 2.9959503],
                "tanh": [-0.0036374, -0.1588080, 0.0, 0.8411920, 2.9963626]}[approximate]
    np.testing.assert_allclose(mg.gelu(x, approximate=approximate).data, expected, atol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        mg.gelu(mg.ones(2), approximate="fast")


def test_sigmoid_and_silu_do_not_overflow():
    x = mg.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0])
    with np.errstate(over="raise"):
        s = mg.sigmoid(x)
        silu = mg.silu(x)
    assert s.tolist() == [0.0, pytest.approx(0.0, abs=1e-40), 0.5, 1.0, 1.0]
    assert silu.data[-1] == 1000.0 and silu.data[0] == 0.0
    assert s.dtype == mg.float32


@pytest.mark.parametrize("fn,expected", [
    (mg.relu, [0.0, 0.0, 1.0]),  # relu'(0) = 0
    (mg.abs, [-1.0, 0.0, 1.0]),  # abs'(0) = sign(0) = 0
    (lambda x: mg.leaky_relu(x, 0.2), [0.2, 0.2, 1.0]),  # the negative slope at 0, as PyTorch
], ids=["relu", "abs", "leaky_relu"])
def test_gradients_at_the_kink(fn, expected):
    x = mg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    fn(x).sum().backward()
    assert x.grad.tolist() == pytest.approx(expected)


# -- clamp ----------------------------------------------------------------------------------

CLAMP_BOUNDS = [(-0.5, 0.5), (-0.5, None), (None, 0.5), (1.0, -1.0)]


@pytest.mark.parametrize("lo,hi", CLAMP_BOUNDS, ids=str)
@FAST
@given(x=arrays(dtype=float_dtypes()))
def test_clamp_forward(lo, hi, x):
    expected = np.minimum(np.maximum(x, lo if lo is not None else -np.inf),
                          hi if hi is not None else np.inf)
    assert_tensor(mg.clamp(as_tensor(x), lo, hi), expected.astype(x.dtype))
    assert_tensor(as_tensor(x).clip(min=lo, max=hi), expected.astype(x.dtype))


@pytest.mark.parametrize("lo,hi", CLAMP_BOUNDS[:3], ids=str)
@GRAD
@given(data=st.data())
def test_clamp_gradcheck_away_from_the_bounds(lo, hi, data):
    x = data.draw(arrays(away_from=(-0.5, 0.5), min_distance=0.05))
    check_grad(lambda t: t.clamp(lo, hi), x)


def test_clamp_gradient_passes_at_the_bounds_inclusive():
    x = mg.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], requires_grad=True)
    x.clamp(-0.5, 0.5).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@GRAD
@given(x=arrays(shape=(2, 3), elements=st.integers(-4, 4).map(lambda k: 0.5 * k)),
       lo=arrays(shape=(3,), elements=st.integers(-4, 3).map(lambda k: 0.5 * k + 0.25)))
def test_clamp_with_tensor_bounds(x, lo):
    hi = lo + 1.0
    expected = np.minimum(np.maximum(x, lo), hi)
    assert_tensor(mg.clamp(as_tensor(x), as_tensor(lo), as_tensor(hi)), expected)
    check_grad(lambda t, low: mg.clamp(t, min=low, max=low + 1.0), x, lo)


def test_clamp_of_integers():
    x = mg.tensor([-3, 0, 2, 5])
    assert_tensor(x.clamp(-1, 3), np.array([-1, 0, 2, 3]))
    assert_tensor(x.clamp(min=0.5), np.array([0.5, 0.5, 2.0, 5.0], np.float32))


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="at least one of min and max"):
        mg.clamp(mg.ones(2))


# -- piecewise constant ops -----------------------------------------------------------------

STEPS = {"floor": np.floor, "ceil": np.ceil, "round": np.round, "trunc": np.trunc,
         "sign": np.sign}


@pytest.mark.parametrize("name", STEPS)
@FAST
@given(x=arrays(dtype=float_dtypes(), low=-4, high=4))
def test_step_functions_forward_and_zero_gradient(name, x):
    assert_tensor(getattr(mg, name)(as_tensor(x)), STEPS[name](x))
    t = as_tensor(x.astype(np.float64), requires_grad=True)
    out = getattr(t, name)()
    out.backward(mg.ones_like(out, dtype=mg.float64))
    assert_tensor(t.grad, np.zeros(x.shape))


def test_round_half_to_even_and_decimals():
    x = mg.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 1.255])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 1.0]
    np.testing.assert_allclose(x.round(decimals=1).data, [0.5, 1.5, 2.5, -0.5, -1.5, 1.3])


# -- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin",
                                  "cos", "tanh", "sigmoid"])
def test_float_math_on_integers_gives_float32(name):
    out = getattr(mg, name)(mg.tensor([1, 2, 4]))
    assert out.dtype == mg.float32
    reference = SMOOTH[name][1]
    np.testing.assert_allclose(out.data, reference(np.array([1.0, 2.0, 4.0])), rtol=1e-6)


@pytest.mark.parametrize("name", ["abs", "relu", "sign", "square", "neg"])
def test_integer_preserving_ops_keep_int64(name):
    out = getattr(mg, name)(mg.tensor([-2, 0, 3]))
    assert out.dtype == mg.int64
    expected = {"abs": [2, 0, 3], "relu": [0, 0, 3], "sign": [-1, 0, 1], "square": [4, 0, 9],
                "neg": [2, 0, -3]}[name]
    assert out.tolist() == expected


@pytest.mark.parametrize("dtype", [mg.float16, mg.float32, mg.float64])
@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "gelu", "silu", "sqrt", "relu"])
def test_float_dtype_is_preserved(name, dtype):
    out = getattr(mg, name)(mg.tensor([0.5, 1.0, 2.0], dtype=dtype))
    assert out.dtype == dtype


# -- in-place pointwise ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu_", "exp_", "sigmoid_", "tanh_", "neg_", "abs_", "sqrt_",
                                  "clamp_"])
@pytest.mark.parametrize("grad", [False, True], ids=["no_graph", "graph"])
def test_inplace_pointwise(name, grad):
    start = np.array([0.25, 1.0, 2.0, 0.5]) if name == "sqrt_" else np.array([0.25, -1.0, 2.0,
                                                                                 0.5])
    args = (-0.5, 0.5) if name == "clamp_" else ()
    out_of_place = getattr(mg, name[:-1])(mg.tensor(start), *args)
    leaf = mg.tensor(start, requires_grad=grad)
    t = leaf * 1.0 if grad else leaf
    version = t._version
    assert getattr(t, name)(*args) is t
    assert t._version == version + 1
    np.testing.assert_allclose(t.data, out_of_place.data, rtol=1e-12)
    if grad:
        t.sum().backward()
        assert leaf.grad is not None and leaf.grad.shape == (4,)


@pytest.mark.parametrize("name", ["relu_", "exp_", "tanh_", "sigmoid_"])
def test_inplace_pointwise_gradcheck(name):
    def fn(x):
        t = x * 2.0
        getattr(t, name)()
        return t * x

    check_grad(fn, np.array([[0.3, -0.7], [1.1, -0.2]]))


def test_clamp_with_tensor_bounds_matches_the_gradient_rules():
    x = mg.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    lo = mg.tensor([0.0, 0.0, 0.0, 1.0], requires_grad=True)
    hi = mg.tensor([2.0, 2.0, 2.0, 0.0], requires_grad=True)  # last: lo > hi, so the result is hi
    out = mg.clamp(x, lo, hi)
    assert out.tolist() == [1.0, 0.0, 2.0, 0.0]
    (out * mg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert lo.grad.tolist() == [0.0, 2.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 3.0, 4.0]


def test_clamp_with_broadcast_tensor_bounds_gradcheck():
    x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    lo = (mg.randn(4, dtype=mg.float64) - 1).requires_grad_()
    hi = (mg.randn(3, 1, dtype=mg.float64) + 1).requires_grad_()
    assert mg.autograd.gradcheck(lambda a, b, c: mg.clamp(a, b, c), (x, lo, hi))


def test_clamp_inplace_with_tensor_bounds_on_a_non_leaf():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 1
    y.clamp_(min=mg.zeros(3), max=mg.full((3,), 2.0))
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]
