"""PyTorch parity of the whole op set in `minigrad/ops`: forward values, dtypes and gradients.

Each case runs the same computation in both frameworks through `helper_test_op`. Cases written
as `lambda lib, x, ...: lib.where(...)` are called with `lib=minigrad` and `lib=torch`, for the
functions both expose under the same name at the top level.
"""

import math

import numpy as np
import pytest

import minigrad as mg

from tests.parity.helper import helper_test_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.parity


def check(inputs, fn, **kwargs):
    """`helper_test_op` with one function `fn(lib, *tensors)` used for both frameworks."""
    return helper_test_op(inputs, lambda *a: fn(mg, *a), lambda *a: fn(torch, *a), **kwargs)


def arr(values, dtype=np.float32):
    return np.array(values, dtype=dtype)


POSITIVE = {"low": 0.5, "high": 2.0}
TIES = arr([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0], [-5.0, -5.0, -5.0, -5.0]])


# -- arithmetic -------------------------------------------------------------------------------

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)), ((3, 1), (4,)), ((1, 4), (3, 1)), ((), (2, 3)), ((2, 3), ()),
    ((2, 1, 4), (3, 1)), ((0, 3), (3,)), ((2, 0), (1, 1)), ((1,), (5,)),
]
BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "add_alpha": lambda x, y: x.add(y, alpha=2.5),
    "sub_alpha": lambda x, y: x.sub(y, alpha=-0.5),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasting(name, shapes):
    low = 0.5 if name == "div" else -2.0  # keep the divisor away from 0
    helper_test_op(list(shapes), BINARY[name], low=low, grad_rtol=1e-4)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_pow_broadcasting(shapes):
    helper_test_op(list(shapes), lambda x, y: x**y, **POSITIVE, atol=1e-5, grad_atol=1e-4)


SCALAR_OPS = {
    "x+2": lambda x: x + 2, "2+x": lambda x: 2 + x, "x+1.5": lambda x: x + 1.5,
    "x-1.5": lambda x: x - 1.5, "1.5-x": lambda x: 1.5 - x, "x*3": lambda x: x * 3,
    "3*x": lambda x: 3 * x, "x/2": lambda x: x / 2, "2/x": lambda x: 2 / x,
    "x**2": lambda x: x**2, "x**3": lambda x: x**3, "x**0.5": lambda x: x**0.5,
    "x**-1": lambda x: x**-1, "2**x": lambda x: 2**x, "0.5**x": lambda x: 0.5**x,
    "x**0": lambda x: x**0, "-x": lambda x: -x, "+x": lambda x: +x, "neg": lambda x: x.neg(),
    "square": lambda x: x.square(),
}


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_scalar_operands(name):
    helper_test_op([(3, 4)], SCALAR_OPS[name], **POSITIVE, atol=1e-5, grad_atol=1e-4)


def test_pow_zero_base_and_zero_exponent():
    """0 ** 0 = 1 with gradient 0 for the base (PyTorch masks b == 0), 0 ** 2 has gradient 0."""
    base = arr([0.0, 0.0, 2.0, -1.5, 0.0])
    exponent = arr([0.0, 2.0, 0.0, 3.0, 1.0])
    helper_test_op([base, exponent], lambda x, y: x**y)
    helper_test_op([base], lambda x: x**2.0)
    helper_test_op([base], lambda x: x**0)


def _inplace_after_use(lib, x, pattern):
    h = x * 1
    if pattern == "mul":
        y = h * 2  # saves only the 2
        h.add_(1)
    elif pattern == "matmul":
        y = h @ lib.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))  # saves only W
        h.add_(1)
    else:
        y = h ** 2  # the exponent needs no gradient: the output is not saved
        y.mul_(2)
    return y


@pytest.mark.parametrize("pattern", ["mul", "matmul", "pow"])
def test_inplace_change_of_a_value_no_gradient_reads(pattern):
    check([(2, 4)], lambda lib, x: _inplace_after_use(lib, x, pattern), atol=1e-5)


@pytest.mark.parametrize("fn", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_gradient(fn):
    x = arr([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    y = arr([[1.0, 0.0, 3.0], [0.5, 2.0, -4.0]])  # three ties
    check([x, y], lambda lib, a, b: getattr(lib, fn)(a, b))
    check([(3, 1), (4,)], lambda lib, a, b: getattr(lib, fn)(a, b))
    reduction = "max" if fn == "maximum" else "min"  # torch.max(a, b) is the elementwise max
    check([(2, 3), (2, 3)], lambda lib, a, b: getattr(lib, reduction)(a, b))


def test_remainder_and_floor_division():
    x = arr([-3.5, -2.0, -0.4, 0.5, 2.2, 7.25])
    y = arr([2.0, -1.5, 3.0, -2.0, 0.75, 2.0])
    # PyTorch implements the gradient for the dividend only (minigrad's for the divisor is
    # checked by gradcheck in tests/ops/test_arithmetic.py)
    helper_test_op([x, y], lambda a, b: a % b, requires_grad=[True, False])
    helper_test_op([x, y], lambda a, b: a.remainder(b), requires_grad=[True, False])
    helper_test_op([x], lambda a: a % 1.5)
    helper_test_op([x], lambda a: 5 % a, forward_only=True)
    helper_test_op([(3, 1), (4,)], lambda a, b: a % b, **POSITIVE, requires_grad=[True, False])
    helper_test_op([x, y], lambda a, b: a // b, forward_only=True)
    ints = np.array([-7, -3, 0, 4, 9], dtype=np.int64)
    helper_test_op([ints], lambda a: a // 2)
    helper_test_op([ints], lambda a: a % 3)
    helper_test_op([ints], lambda a: -a % 4)


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_div_rounding_modes(mode):
    x = arr([-3.5, -2.0, -0.5, 0.5, 2.0, 7.25])
    check([x, arr([2.0, -1.5, 3.0, -2.0, 0.75, 2.0])],
          lambda lib, a, b: lib.div(a, b, rounding_mode=mode), forward_only=True)
    ints = np.array([-7, -3, 0, 4, 9], dtype=np.int64)
    check([ints, np.array([2, 2, 3, -3, 4])], lambda lib, a, b: lib.div(a, b, rounding_mode=mode))


PROMOTIONS = [
    ("int64+float", np.int64, None, lambda x, y: x + 2.5),
    ("int64*int", np.int64, None, lambda x, y: x * 3),
    ("int64/int", np.int64, None, lambda x, y: x / 2),
    ("int64/int64", np.int64, np.int64, lambda x, y: x / y),
    ("int32+int64", np.int32, np.int64, lambda x, y: x + y),
    ("int64+float32", np.int64, np.float32, lambda x, y: x + y),
    ("float32+float64", np.float32, np.float64, lambda x, y: x + y),
    ("float16+float32", np.float16, np.float32, lambda x, y: x + y),
    ("uint8+int8", np.uint8, np.int8, lambda x, y: x + y),
    ("bool+int", np.bool_, None, lambda x, y: x + 1),
    ("bool*float", np.bool_, None, lambda x, y: x * 1.5),
    ("float32*2.0", np.float32, None, lambda x, y: x * 2.0),
    ("float16*2.0", np.float16, None, lambda x, y: x * 2.0),
    ("float64-1", np.float64, None, lambda x, y: x - 1),
    ("float32*0d_float64", np.float32, "0d64", lambda x, y: x * y),
    ("int32*0d_int64", np.int32, "0d_int64", lambda x, y: x * y),
    ("int64*0d_float64", np.int64, "0d64", lambda x, y: x * y),
    ("int64**2", np.int64, None, lambda x, y: x**2),
    ("2**int64", np.int64, None, lambda x, y: 2**x),
    ("int64**0.5", np.int64, None, lambda x, y: x**0.5),
    ("int64//2", np.int64, None, lambda x, y: x // 2),
]


@pytest.mark.parametrize("case", PROMOTIONS, ids=[c[0] for c in PROMOTIONS])
def test_dtype_promotion(case):
    _, dtype_x, dtype_y, fn = case
    x = np.array([[1, 2, 3], [4, 5, 6]]).astype(dtype_x)
    if dtype_y == "0d64":
        y = np.array(2.0, dtype=np.float64)
    elif dtype_y == "0d_int64":
        y = np.array(3, dtype=np.int64)
    else:
        y = np.array([[2, 1, 2], [3, 2, 1]]).astype(dtype_y or np.float32)
    helper_test_op([x, y], fn, forward_only=True, atol=1e-3)


# -- pointwise --------------------------------------------------------------------------------

UNARY = {
    "exp": (lambda x: x.exp(), {}),
    "log": (lambda x: x.log(), POSITIVE),
    "log1p": (lambda x: x.log1p(), {"low": -0.5, "high": 2.0}),
    "sqrt": (lambda x: x.sqrt(), POSITIVE),
    "rsqrt": (lambda x: x.rsqrt(), POSITIVE),
    "reciprocal": (lambda x: x.reciprocal(), POSITIVE),
    "abs": (lambda x: x.abs(), {}),
    "sin": (lambda x: x.sin(), {}),
    "cos": (lambda x: x.cos(), {}),
    "tanh": (lambda x: x.tanh(), {}),
    "sigmoid": (lambda x: x.sigmoid(), {"low": -8.0, "high": 8.0}),
    "relu": (lambda x: x.relu(), {}),
    "floor": (lambda x: x.floor(), {}),
    "ceil": (lambda x: x.ceil(), {}),
    "round": (lambda x: x.round(), {}),
    "trunc": (lambda x: x.trunc(), {}),
    "sign": (lambda x: x.sign(), {}),
    "square": (lambda x: x.square(), {}),
    "round_decimals": (lambda x: x.round(decimals=2), {}),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary(name, dtype):
    fn, kwargs = UNARY[name]
    helper_test_op([(3, 5)], fn, dtype=dtype, atol=1e-6, rtol=1e-5, **kwargs)


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin",
                                  "cos", "tanh", "sigmoid", "abs", "neg", "relu", "square",
                                  "floor", "sign"])
def test_unary_on_integer_and_bool_tensors(name):
    """Float math on an int tensor gives float32 (not float64); abs/neg/relu keep the int."""
    check([np.array([[1, 2, 3], [4, 5, 6]])], lambda lib, x: getattr(lib, name)(x))
    if name in ("exp", "sigmoid", "sqrt", "tanh"):
        check([np.array([True, False])], lambda lib, x: getattr(lib, name)(x))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "exp", "relu", "silu", "gelu"])
def test_activations_at_kinks_and_large_magnitude(name):
    x = arr([-100.0, -30.0, -1e-3, 0.0, 1e-3, 1.5, 30.0, 88.0])
    fn = {"silu": lambda lib, a: lib.nn.functional.silu(a) if lib is torch else lib.silu(a),
          "gelu": lambda lib, a: lib.nn.functional.gelu(a) if lib is torch else lib.gelu(a)}
    check([x], fn.get(name, lambda lib, a: getattr(lib, name)(a)), rtol=1e-5, atol=1e-6)


def test_relu_abs_sign_gradients_at_zero():
    x = arr([-1.0, 0.0, 0.0, 2.0])
    helper_test_op([x], lambda a: a.relu())
    helper_test_op([x], lambda a: a.abs())
    helper_test_op([x], lambda a: a.sign())


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu(approximate, dtype):
    helper_test_op([(4, 6)], lambda x: mg.gelu(x, approximate=approximate),
                   lambda x: torch.nn.functional.gelu(x, approximate=approximate),
                   low=-5, high=5, dtype=dtype, atol=1e-6, rtol=1e-5)


def test_gelu_of_0d_tensor():
    helper_test_op([()], mg.gelu, torch.nn.functional.gelu, dtype=np.float64)


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_and_silu(slope):
    x = arr([-2.0, -0.5, 0.0, 0.5, 3.0])
    helper_test_op([x], lambda a: mg.leaky_relu(a, slope),
                   lambda a: torch.nn.functional.leaky_relu(a, slope))
    helper_test_op([(3, 4)], lambda a: mg.leaky_relu(a, slope),
                   lambda a: torch.nn.functional.leaky_relu(a, slope))
    helper_test_op([(3, 4)], mg.silu, torch.nn.functional.silu)


CLAMPS = {
    "min": lambda x: x.clamp(min=-0.5),
    "max": lambda x: x.clamp(max=0.5),
    "both": lambda x: x.clamp(-0.5, 0.5),
    "clip": lambda x: x.clip(-1.0, 0.25),
    "min>max": lambda x: x.clamp(1.0, -1.0),
}


@pytest.mark.parametrize("name", CLAMPS)
def test_clamp(name):
    helper_test_op([(4, 5)], CLAMPS[name])
    # values exactly on the bounds: the gradient passes (both ends inclusive)
    helper_test_op([arr([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0])], CLAMPS[name])


def test_clamp_tensor_bounds_and_int():
    check([(3, 4), (4,), (3, 1)], lambda lib, x, lo, hi: lib.clamp(x, lo, hi + 1.0))
    check([(3, 4), (4,)], lambda lib, x, lo: lib.clamp(x, min=lo))
    ints = np.array([-3, 0, 2, 5])
    check([ints], lambda lib, x: lib.clamp(x, -1, 3))
    check([ints], lambda lib, x: lib.clamp(x, min=0.5))


# -- reductions -------------------------------------------------------------------------------

REDUCE_DIMS = [None, 0, 1, -1, (0, 2), (2, 0), (-1, -3), (0, 1, 2)]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", REDUCE_DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp",
                                "norm"])
def test_reductions(op, dim, keepdim):
    if dim is None and op in ("amax", "amin", "logsumexp"):
        dim = () if op != "logsumexp" else (0, 1, 2)
    fn = lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)  # noqa: E731
    torch_fn = None
    if op == "norm":  # torch.norm only takes 1 or 2 dims; vector_norm is the same thing
        torch_fn = lambda x: torch.linalg.vector_norm(x, 2, dim, keepdim)  # noqa: E731
    helper_test_op([(2, 3, 4)], fn, torch_fn, atol=1e-5, rtol=1e-5, grad_atol=1e-5)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0,)], ids=str)
def test_reductions_of_empty_tensors(shape):
    helper_test_op([shape], lambda x: x.sum())
    helper_test_op([shape], lambda x: x.sum(0))
    helper_test_op([shape], lambda x: x.prod())
    helper_test_op([shape], lambda x: x.mean(-1), forward_only=True)
    helper_test_op([shape], lambda x: x.logsumexp(-1))
    helper_test_op([shape], lambda x: x.norm())


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin", "norm"])
def test_empty_dim_tuple_reduces_everything(op):
    if op == "norm":
        check([(2, 3)], lambda lib, x: x.norm(dim=()) if lib is mg
              else torch.linalg.vector_norm(x, dim=()))
    else:
        # PyTorch's var/std backward for dim=() is wrong (inf); their gradient is gradchecked
        # in tests/ops/test_reduce.py
        helper_test_op([(2, 3)], lambda x: getattr(x, op)(()), forward_only=op in ("var", "std"))


def test_sum_dtypes():
    ints = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    helper_test_op([ints], lambda x: x.sum())
    helper_test_op([ints], lambda x: x.sum(1, keepdim=True))
    helper_test_op([ints > 2], lambda x: x.sum(0))
    check([(2, 3)], lambda lib, x: x.sum(dtype=lib.float64))
    check([ints], lambda lib, x: x.sum(dtype=lib.float32))


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_correction(op, correction):
    helper_test_op([(3, 5)], lambda x: getattr(x, op)(dim=1, correction=correction))
    helper_test_op([(3, 5)], lambda x: getattr(x, op)(correction=correction))
    helper_test_op([(3, 5)], lambda x: getattr(x, op)(0, unbiased=False))


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:var\\(\\). degrees of freedom:UserWarning")
def test_var_of_one_element_is_nan():
    helper_test_op([(1, 3)], lambda x: x.var(0))  # the gradient too: 2 / 0 * 0 = NaN
    helper_test_op([(1, 3)], lambda x: x.var(0, correction=0))
    helper_test_op([(2, 3)], lambda x: x.var(0, correction=2))  # 2 / 0 * (x - mean) = inf


HALF_VALUES = (np.random.default_rng(0).standard_normal(1000) * 300).astype(np.float16)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "norm", "logsumexp", "softmax",
                                "log_softmax"])
def test_float16_accumulates_in_float32(op):
    """1000 values of 300 randn: float16 running sums and squares overflow; PyTorch
    accumulates in float32 and rounds once (var itself, ~9e4, is inf in float16 in both)."""
    fn = (lambda x: getattr(x, op)(0)) if op in ("logsumexp", "softmax", "log_softmax") \
        else (lambda x: getattr(x, op)())
    # 1 ulp: PyTorch rounds some half-precision log_softmax intermediates to float16
    helper_test_op([HALF_VALUES], fn, atol=1e-3, rtol=1e-3, grad_atol=1e-3, grad_rtol=1e-2)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_full_reduction_shares_ties(op):
    helper_test_op([TIES], lambda x: getattr(x, op)())
    helper_test_op([(3, 4)], lambda x: getattr(x, op)())


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_return_first_index(op, dim, keepdim):
    """(values, indices); on ties the index is the first one, and it alone gets the gradient."""
    helper_test_op([TIES], lambda x: getattr(x, op)(dim=dim, keepdim=keepdim))
    helper_test_op([(2, 3, 4)], lambda x: getattr(x, op)(dim, keepdim))


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_share_ties(op):
    helper_test_op([TIES], lambda x: getattr(x, op)(1))
    helper_test_op([TIES], lambda x: getattr(x, op)((0, 1)))
    helper_test_op([TIES], lambda x: getattr(x, op)(0, keepdim=True))


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op):
    for kwargs in ({}, {"dim": 0}, {"dim": 1}, {"dim": -1, "keepdim": True}, {"keepdim": True}):
        helper_test_op([TIES], lambda x: getattr(x, op)(**kwargs))
        helper_test_op([(3, 4)], lambda x: getattr(x, op)(**kwargs))


def test_logsumexp_large_magnitude():
    x = arr([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4 + 2, -1e4 - 5], [0.0, 1.0, 2.0]])
    helper_test_op([x], lambda a: a.logsumexp(1), atol=1e-3, rtol=1e-6)
    helper_test_op([x], lambda a: a.logsumexp((0, 1)), atol=1e-3, rtol=1e-6)
    helper_test_op([x], lambda a: a.logsumexp(0, keepdim=True), atol=1e-3, rtol=1e-6)
    neg_inf = arr([[-np.inf, -np.inf], [-np.inf, 0.0]])
    helper_test_op([neg_inf], lambda a: a.logsumexp(1), forward_only=True)


@pytest.mark.parametrize("zeros", [0, 1, 2])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_with_zeros(dim, zeros):
    x = np.random.default_rng(zeros).uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    x[0, 1] = 0.0 if zeros >= 1 else x[0, 1]
    x[0, 3] = 0.0 if zeros >= 2 else x[0, 3]
    x[2, 1] = 0.0 if zeros >= 2 else x[2, 1]
    helper_test_op([x], lambda a: a.prod() if dim is None else a.prod(dim))
    if dim is not None:
        helper_test_op([x], lambda a: a.prod(dim, keepdim=True))


@pytest.mark.parametrize("p", [1, 2, math.inf, 3, "fro", 0.5])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)], ids=str)
def test_norm(p, dim):
    helper_test_op([(3, 4)], lambda x: x.norm(p=p, dim=dim), atol=1e-5, grad_atol=1e-5)
    helper_test_op([TIES], lambda x: x.norm(p=p, dim=dim), atol=1e-5, grad_atol=1e-5)


def test_norm_of_zero_vector_has_zero_gradient():
    z = np.zeros((2, 3), dtype=np.float32)
    for p in (1, 2, math.inf):
        helper_test_op([z], lambda x: x.norm(p=p))
        helper_test_op([z], lambda x: x.norm(p=p, dim=1, keepdim=True))


def test_any_all():
    b = np.array([[True, False, False], [True, True, True]])
    for fn in (lambda x: x.any(), lambda x: x.all(), lambda x: x.any(1), lambda x: x.all(0),
               lambda x: x.any(dim=1, keepdim=True)):
        helper_test_op([b], fn)
    helper_test_op([arr([[0.0, 1.0], [0.0, 0.0]])], lambda x: x.any(1))


# -- shape ------------------------------------------------------------------------------------

SHAPE_OPS = {
    "reshape": ((2, 3, 4), lambda x: x.reshape(4, -1)),
    "reshape_tuple": ((2, 3, 4), lambda x: x.reshape((6, 4))),
    "reshape_0d": ((1, 1), lambda x: x.reshape(())),
    "reshape_empty": ((0, 3), lambda x: x.reshape(3, 0, 1)),
    "view": ((2, 3, 4), lambda x: x.view(-1)),
    "flatten": ((2, 3, 4), lambda x: x.flatten()),
    "flatten_1_2": ((2, 3, 4), lambda x: x.flatten(1)),
    "flatten_0d": ((), lambda x: x.flatten()),
    "unflatten": ((2, 12), lambda x: x.unflatten(1, (3, 4))),
    "squeeze": ((1, 3, 1, 2), lambda x: x.squeeze()),
    "squeeze_dim": ((1, 3, 1, 2), lambda x: x.squeeze(2)),
    "squeeze_tuple": ((1, 3, 1, 2), lambda x: x.squeeze((0, 1))),
    "squeeze_not_1": ((2, 3), lambda x: x.squeeze(0)),
    "unsqueeze": ((2, 3), lambda x: x.unsqueeze(1)),
    "unsqueeze_neg": ((2, 3), lambda x: x.unsqueeze(-1)),
    "unsqueeze_0d": ((), lambda x: x.unsqueeze(0)),
    "permute": ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    "permute_tuple": ((2, 3, 4), lambda x: x.permute((1, -1, 0))),
    "transpose": ((2, 3, 4), lambda x: x.transpose(0, 2)),
    "transpose_0d": ((), lambda x: x.transpose(0, -1)),
    "swapaxes": ((2, 3, 4), lambda x: x.swapaxes(-1, 1)),
    "t": ((2, 3), lambda x: x.t()),
    "t_1d": ((3,), lambda x: x.t()),
    "T": ((2, 3), lambda x: x.T),
    "mT": ((2, 3, 4), lambda x: x.mT),
    "expand": ((3, 1), lambda x: x.expand(2, 3, 4)),
    "expand_minus1": ((3, 1), lambda x: x.expand(-1, 5)),
    "expand_0d": ((), lambda x: x.expand(2, 2)),
    "broadcast_to": ((1, 4), lambda x: x.broadcast_to((3, 4))),
    "contiguous": ((3, 4), lambda x: x.t().contiguous()),
    "repeat": ((2, 3), lambda x: x.repeat(2, 1, 3)),
    "repeat_1d": ((3,), lambda x: x.repeat(4)),
    "tile": ((2, 3), lambda x: x.tile((2,))),
    "tile_more": ((2, 3), lambda x: x.tile((2, 1, 2))),
    "narrow": ((4, 5), lambda x: x.narrow(1, 1, 3)),
    "narrow_neg": ((4, 5), lambda x: x.narrow(0, -3, 2)),
    "split": ((5, 4), lambda x: x.split(2)),
    "split_sizes": ((5, 4), lambda x: x.split([1, 3], dim=1)),
    "chunk": ((5, 4), lambda x: x.chunk(3)),
    "chunk_more": ((6, 2), lambda x: x.chunk(4)),
    "chunk_uneven": ((7, 2), lambda x: x.chunk(4)),
    "chunk_empty": ((0, 2), lambda x: x.chunk(3)),
    "split_empty": ((0, 2), lambda x: x.split(2)),
    "unbind": ((3, 2), lambda x: x.unbind(1)),
}


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_ops(name):
    shape, fn = SHAPE_OPS[name]
    helper_test_op([shape], fn)


def test_shape_ops_on_non_contiguous_input():
    x = np.arange(24, dtype=np.float32).reshape(4, 6).T  # (6, 4), F-ordered
    for fn in (lambda a: a.reshape(-1), lambda a: a.flatten(), lambda a: a.permute(1, 0),
               lambda a: a.expand(2, 6, 4), lambda a: a.split(4), lambda a: a[1:, ::2],
               lambda a: a.contiguous().view(2, 12), lambda a: a.repeat(1, 2)):
        helper_test_op([x], fn)


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_cat_stack(dim):
    check([(2, 3), (2, 3), (2, 3)], lambda lib, a, b, c: lib.cat([a, b, c], dim))
    check([(2, 3), (2, 3)], lambda lib, a, b: lib.stack((a, b), dim))
    check([(2, 3), (2, 3)], lambda lib, a, b: lib.stack([a, b], dim - 1 if dim < 0 else dim + 1))


def test_cat_stack_promote_dtypes():
    ints, floats = np.array([1, 2]), arr([1.5, 2.5])
    check([ints, floats], lambda lib, a, b: lib.cat([a, b]))
    check([ints, floats], lambda lib, a, b: lib.stack([a, b], 1))
    check([floats, np.array([0.5, 1.0])], lambda lib, a, b: lib.cat([a, b]))
    check([np.array([True]), np.array([3], np.int32)], lambda lib, a, b: lib.cat([a, b]))


def test_cat_uneven_and_empty():
    check([(2, 3), (1, 3), (0, 3)], lambda lib, a, b, c: lib.cat([a, b, c]))
    check([(2, 1), (2, 4)], lambda lib, a, b: lib.cat([a, b], dim=1))
    check([(2, 3), (4, 3)], lambda lib, a, b: lib.concat((a, b)))


PADS = [
    ("constant", (1, 2), (3, 4)),
    ("constant", (0, 1, 2, 0), (2, 3, 4)),
    ("constant", (1, 1, 1, 1, 1, 1), (2, 3, 4)),
    ("reflect", (2, 1), (2, 5)),
    ("reflect", (1, 2, 2, 1), (1, 4, 5)),
    ("replicate", (2, 3), (2, 4)),
    ("replicate", (1, 0, 2, 3), (2, 3, 4)),
    ("circular", (2, 1), (2, 4)),
    ("circular", (1, 2, 3, 0), (1, 3, 4)),
]


@pytest.mark.parametrize("mode,pad,shape", PADS, ids=[f"{m}{p}" for m, p, _ in PADS])
def test_pad(mode, pad, shape):
    helper_test_op([shape], lambda x: mg.pad(x, pad, mode=mode),
                   lambda x: torch.nn.functional.pad(x, pad, mode=mode))


def test_pad_constant_value():
    helper_test_op([(2, 3)], lambda x: mg.pad(x, (1, 1, 2, 0), value=-3.5),
                   lambda x: torch.nn.functional.pad(x, (1, 1, 2, 0), value=-3.5))


# -- indexing ---------------------------------------------------------------------------------

INDEXES = {
    "int": lambda x: x[1],
    "neg_int": lambda x: x[-1, 2],
    "slice": lambda x: x[1:3],
    "step": lambda x: x[::2, 1::2],
    "ellipsis": lambda x: x[..., 1],
    "none": lambda x: x[None, :, None, 1],
    "empty_slice": lambda x: x[2:2],
    "list": lambda x: x[[0, 2, 2, 0]],
    "repeated_2d": lambda x: x[[0, 0, 1], [1, 1, 1]],
    "array_in_dim1": lambda x: x[:, [3, 0, 3]],
    "array_then_slice": lambda x: x[[2, 1], 1:],
    "empty_list": lambda x: x[[]],
    "negative_index_array": lambda x: x[[-1, -3, -1]],
    "mask_full": lambda x: x[x > 0],
    "mask_rows": lambda x: x[x.sum(1) > 0],
}


@pytest.mark.parametrize("name", INDEXES)
def test_getitem(name):
    helper_test_op([(4, 5)], INDEXES[name])


def test_getitem_with_index_tensors():
    idx = np.array([[0, 3], [3, 3]], dtype=np.int64)
    helper_test_op([(4, 5), idx], lambda x, i: x[i])
    helper_test_op([(4, 5), idx], lambda x, i: x[i, 1])
    helper_test_op([(4, 5), np.array([1, 1, 0])], lambda x, i: x[:, i])
    mask = np.array([True, False, True, True])
    helper_test_op([(4, 5), mask], lambda x, m: x[m])


def _setitem(x, v, index):
    y = x * 1.0
    y[index] = v
    return y


@pytest.mark.parametrize("index,value_shape", [
    ((1,), (5,)), ((slice(1, 3),), (1, 5)), ((slice(None), 2), ()),
    (([0, 2],), (2, 5)), ((Ellipsis, slice(0, 2)), (4, 1)),
], ids=str)
def test_setitem_non_leaf(index, value_shape):
    helper_test_op([(4, 5), value_shape], lambda x, v: _setitem(x, v, index))


def test_setitem_scalar_and_mask():
    helper_test_op([(4, 5)], lambda x: _setitem(x, 7.0, (slice(None), 1)))

    def masked(lib):
        def fn(x):
            y = x.clone()
            y[y > 0.5] = 0.0
            return y
        return fn

    helper_test_op([(4, 5)], masked(mg), masked(torch))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_repeated(dim):
    idx = np.array([2, 0, 2, 2], dtype=np.int64)
    check([(3, 4, 3), idx], lambda lib, x, i: lib.index_select(x, dim, i))
    check([(3, 4, 3), np.array([], dtype=np.int64)], lambda lib, x, i: x.index_select(dim, i))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    rng = np.random.default_rng(dim + 3)
    shape = (3, 4)
    index_shape = [2, 3]
    index_shape[dim] = 5
    idx = rng.integers(0, shape[dim], size=index_shape).astype(np.int64)
    check([shape, idx], lambda lib, x, i: lib.gather(x, dim, i))
    check([shape, idx], lambda lib, x, i: x.gather(dim, i))


def test_where():
    cond = np.array([[True, False, True], [False, False, True]])
    check([cond, (2, 3), (2, 3)], lambda lib, c, x, y: lib.where(c, x, y))
    check([cond, (1, 3), (2, 1)], lambda lib, c, x, y: lib.where(c, x, y))
    check([cond[0], (2, 3), ()], lambda lib, c, x, y: lib.where(c, x, y))
    check([cond, (2, 3)], lambda lib, c, x: lib.where(c, x, 0.5))
    check([cond, (2, 3)], lambda lib, c, x: lib.where(c, -1.0, x))
    check([(2, 3), (2, 3)], lambda lib, x, y: x.where(x > 0, y))
    check([cond, np.array([1, 2, 3])], lambda lib, c, x: lib.where(c, x, 2.5))


def test_masked_fill():
    mask = np.array([[True, False, True, False]])
    check([(3, 4), mask], lambda lib, x, m: x.masked_fill(m, -1.5))
    check([(3, 4), mask[0]], lambda lib, x, m: lib.masked_fill(x, m, float("-inf")).exp())
    check([(3, 4), np.array([[True], [False], [True]]), ()],
          lambda lib, x, m, v: x.masked_fill(m, v))
    check([np.arange(6).reshape(2, 3), np.array([True, False, True])],
          lambda lib, x, m: x.masked_fill(m, 7))


# -- linear algebra ---------------------------------------------------------------------------

MATMULS = [
    ((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((2, 4), (4, 3)), ((5, 2, 4), (4, 3)),
    ((2, 4), (5, 4, 3)), ((4,), (5, 4, 3)), ((5, 2, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
    ((5, 2, 4), (5, 4, 3)), ((0, 4), (4, 3)), ((2, 0), (0, 3)),
]


@pytest.mark.parametrize("shapes", MATMULS, ids=str)
def test_matmul(shapes):
    helper_test_op(list(shapes), lambda x, y: x @ y, atol=1e-5, grad_atol=1e-5)
    helper_test_op(list(shapes), lambda x, y: x.matmul(y), atol=1e-5, grad_atol=1e-5,
                   dtype=np.float64)


def test_mm_bmm_dot_outer():
    check([(2, 4), (4, 3)], lambda lib, a, b: lib.mm(a, b), atol=1e-5)
    check([(3, 2, 4), (3, 4, 5)], lambda lib, a, b: lib.bmm(a, b), atol=1e-5)
    check([(4,), (4,)], lambda lib, a, b: lib.dot(a, b), atol=1e-5)
    check([(4,), (3,)], lambda lib, a, b: lib.outer(a, b), atol=1e-5)
    check([(2, 4), (4, 3)], lambda lib, a, b: a.mm(b), atol=1e-5)


def test_rmatmul_with_numpy_array():
    w = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    helper_test_op([(4, 2)], lambda x: w @ x, lambda x: torch.from_numpy(w) @ x, atol=1e-5)


# -- softmax ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(op, dim):
    helper_test_op([(3, 4, 5)], lambda x: getattr(x, op)(dim), atol=1e-6, grad_atol=1e-6)
    helper_test_op([(3, 4, 5)], lambda x: getattr(x, op)(dim), dtype=np.float64)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_large_magnitude(op):
    x = arr([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4 + 2, -1e4 - 5], [3e4, 0.0, -3e4]])
    helper_test_op([x], lambda a: getattr(a, op)(1), atol=1e-5, grad_atol=1e-5)
    helper_test_op([x], lambda a: getattr(a, op)(0), atol=1e-5, grad_atol=1e-5)
    with_inf = arr([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, 2.0]])
    helper_test_op([with_inf], lambda a: getattr(a, op)(1), forward_only=True)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_empty_and_0d_tensors(op):
    helper_test_op([(0, 3)], lambda a: getattr(a, op)(0))
    helper_test_op([(2, 0)], lambda a: getattr(a, op)(1))
    helper_test_op([()], lambda a: getattr(a, op)(0))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_dtype_argument(op):
    check([(2, 3)], lambda lib, x: getattr(x, op)(1, dtype=lib.float64))
    check([np.array([[1, 2, 3]])], lambda lib, x: getattr(x, op)(-1, dtype=lib.float32))


# -- comparisons and logic --------------------------------------------------------------------

COMPARISONS = {
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y,
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons(name):
    fn = COMPARISONS[name]
    x = arr([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    helper_test_op([x, arr([2.0, 2.0, 2.0])], fn)
    helper_test_op([x], lambda a: fn(a, 2.0))
    helper_test_op([x], lambda a: fn(2, a))
    helper_test_op([np.array([1, 2, 3]), arr([1.5, 2.0, 2.5])], fn)
    helper_test_op([x], lambda a: getattr(a, name)(2.0))


def test_logical_and_bitwise():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for name in ("logical_and", "logical_or", "logical_xor"):
        check([a, b], lambda lib, x, y: getattr(lib, name)(x, y))
    check([arr([0.0, 1.5, -2.0, 0.0]), b], lambda lib, x, y: lib.logical_and(x, y))
    check([a], lambda lib, x: lib.logical_not(x))
    ints = np.array([5, 3, 12, -1])
    for fn in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x):
        helper_test_op([a, b], fn)
        helper_test_op([ints, np.array([3, 6, 10, 7])], fn)


def test_isnan_isinf_isfinite_isclose():
    x = arr([1.0, np.nan, np.inf, -np.inf, 0.0])
    for name in ("isnan", "isinf", "isfinite"):
        check([x], lambda lib, a: getattr(lib, name)(a))
    y = arr([1.0 + 1e-6, np.nan, np.inf, np.inf, 1e-9])
    check([x, y], lambda lib, a, b: lib.isclose(a, b))
    check([x, y], lambda lib, a, b: lib.isclose(a, b, equal_nan=True, atol=1e-8))
    close = arr([1.0, 2.0]), arr([1.0 + 1e-7, 2.0])
    assert mg.allclose(mg.tensor(close[0]), mg.tensor(close[1])) == torch.allclose(
        torch.tensor(close[0]), torch.tensor(close[1]))
    assert mg.equal(mg.tensor(close[0]), mg.tensor(close[0])) is True
    assert mg.equal(mg.tensor([1.0]), mg.tensor([1.0, 1.0])) is False


# -- copies and casts -------------------------------------------------------------------------

CASTS = {
    "double": lambda x: x.double(), "float": lambda x: x.double().float(),
    "half": lambda x: x.half(), "long": lambda x: x.long(), "int": lambda x: x.int(),
    "bool": lambda x: x.bool(), "clone": lambda x: x.clone(),
}


@pytest.mark.parametrize("name", CASTS)
def test_casts(name):
    x = arr([[-2.7, -0.5, 0.0], [0.4, 1.5, 3.9]])
    helper_test_op([x], CASTS[name], atol=1e-3)


def test_to_and_type_as():
    check([(2, 3)], lambda lib, x: x.to(lib.float64) * 2)
    check([(2, 3)], lambda lib, x: x.to(dtype=lib.float64).to(lib.float32))
    check([(2, 3), np.ones(3, np.float64)], lambda lib, x, y: x.type_as(y) + y)
    check([np.array([1, 2, 3])], lambda lib, x: x.to(lib.float32).exp())


# -- in-place ---------------------------------------------------------------------------------

INPLACE = {
    "add_": lambda y, z: y.add_(z),
    "add_alpha": lambda y, z: y.add_(z, alpha=-2.0),
    "sub_": lambda y, z: y.sub_(z),
    "mul_": lambda y, z: y.mul_(z),
    "div_": lambda y, z: y.div_(z + 3.0),
    "iadd": lambda y, z: y.__iadd__(z),
    "imul": lambda y, z: y.__imul__(z),
    "clamp_": lambda y, z: y.clamp_(-0.5, 0.5).mul_(z),
    "relu_": lambda y, z: y.add_(z).relu_(),
    "exp_": lambda y, z: y.mul_(z).exp_(),
    "copy_": lambda y, z: y.copy_(z),
    "fill_": lambda y, z: y.fill_(2.0).mul_(z),
    "zero_": lambda y, z: y.zero_().add_(z),
    "masked_fill_": lambda y, z: y.masked_fill_(z > 0, 0.0),
}


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_on_non_leaf(name):
    """In-place methods on an intermediate result: same values and gradients as PyTorch."""
    def fn(x, z):
        y = x * 2.0
        out = INPLACE[name](y, z)
        assert out is y
        return y * x
    helper_test_op([(3, 4), (4,)], fn)


def test_setitem_through_augmented_assignment():
    def fn(x, v):
        y = x * 1.0
        y[[0, 2]] += v
        return y
    helper_test_op([(3, 4), (4,)], fn)


# -- non-contiguous inputs --------------------------------------------------------------------

NON_CONTIGUOUS = {
    "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T / 7 - 0.8,
    "strided": (np.arange(24, dtype=np.float32).reshape(4, 6) / 11 - 1.0)[:, ::2],
    "column": (np.arange(12, dtype=np.float32).reshape(4, 3) / 5 - 1.0)[:, 1:],
}
ON_NON_CONTIGUOUS = {
    "exp": lambda x: x.exp(), "gelu": lambda x: x.sigmoid() * x, "sum1": lambda x: x.sum(1),
    "var0": lambda x: x.var(0), "max1": lambda x: x.max(1), "amax": lambda x: x.amax(0),
    "prod": lambda x: x.prod(1), "norm": lambda x: x.norm(), "softmax": lambda x: x.softmax(0),
    "log_softmax": lambda x: x.log_softmax(1), "matmul": lambda x: x @ x.T,
    "add_row": lambda x: x + x[0], "index": lambda x: x[[1, 1, 0]], "mask": lambda x: x[x > 0],
    "view_reshape": lambda x: x.reshape(-1), "cat": lambda x: mg.cat([x, x], 1)
    if isinstance(x, mg.Tensor) else torch.cat([x, x], 1),
    "pad": lambda x: mg.pad(x, (1, 1), mode="reflect") if isinstance(x, mg.Tensor)
    else torch.nn.functional.pad(x, (1, 1), mode="reflect"),
    "clamp": lambda x: x.clamp(-0.3, 0.3), "logsumexp": lambda x: x.logsumexp(1),
}


@pytest.mark.parametrize("layout", NON_CONTIGUOUS)
@pytest.mark.parametrize("name", ON_NON_CONTIGUOUS)
def test_ops_on_non_contiguous_inputs(name, layout):
    x = NON_CONTIGUOUS[layout]
    assert not x.flags.c_contiguous
    helper_test_op([x], ON_NON_CONTIGUOUS[name], atol=1e-5, grad_atol=1e-5)
