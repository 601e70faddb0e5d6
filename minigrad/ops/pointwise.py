"""Elementwise math and activations, each with its derivative next to it.

Where the derivative is cheapest from the output (exp, tanh, sigmoid, sqrt), the op saves its
output rather than its input.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.reference.activation import erf
from minigrad.autograd.function import Function, unbroadcast
from minigrad.backend import kernel, uses_numba
from minigrad.tensor import Tensor


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 + a)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * 0.5 / out


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = 1 / np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * -0.5 * out * out * out


class Reciprocal(Function):
    @staticmethod
    def forward(ctx, a):
        out = 1 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -grad * out * out


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * np.sign(a)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * np.cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * np.sin(a)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a) without overflow: with e = e^-|a| <= 1, it is 1/(1+e) for a >= 0 and
    e/(1+e) for a < 0 (multiply top and bottom by e^a)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1, e) / (1 + e)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out > 0)


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a)
        ctx.negative_slope = negative_slope
        return np.where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return np.where(a > 0, grad, grad * ctx.negative_slope)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _gelu_tanh_inner(a: np.ndarray) -> np.ndarray:
    """sqrt(2/pi) (a + 0.044715 a^3) = a (sqrt(2/pi) 0.044715 a^2 + sqrt(2/pi)), in a fresh
    buffer, four passes; a*a, not a**3, which NumPy evaluates with a general pow per element
    (60x slower). `out=` keeps 0-d results arrays, so the in-place steps work for them too."""
    inner = np.multiply(a, a, out=np.empty_like(a))
    inner *= _SQRT_2_OVER_PI * 0.044715
    inner += _SQRT_2_OVER_PI
    inner *= a
    return inner


class Gelu(Function):
    """GELU (Hendrycks & Gimpel 2016): x Phi(x), exactly or with the tanh approximation
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) that GPT-2 used.

    On the Numba backend both directions are one fused elementwise kernel
    (`kernels.cpu.fused`), the backward recomputing tanh or erf from the input; otherwise the
    NumPy code below, which keeps tanh(inner) from the forward instead.
    """

    @staticmethod
    def forward(ctx, a, approximate):
        ctx.approximate = approximate
        ctx.fused = uses_numba("gelu_forward")
        if ctx.fused:
            ctx.save_for_backward(a, None)
            return kernel("gelu_forward")(a, approximate)
        if approximate == "tanh":
            th = _gelu_tanh_inner(a)
            np.tanh(th, out=th)
            # keep tanh(inner) for backward: one array more than PyTorch keeps, but it saves
            # recomputing the cubic and the tanh (half of the backward's time)
            ctx.save_for_backward(a, th)
            out = th + 1.0
            out *= a
            out *= 0.5
            return out
        ctx.save_for_backward(a, None)
        return 0.5 * a * (1 + erf(a * _INV_SQRT_2))

    @staticmethod
    def backward(ctx, grad):
        a, th = ctx.saved_tensors
        if ctx.fused:
            return kernel("gelu_backward")(grad, a, ctx.approximate)
        if ctx.approximate == "tanh":
            # d/da = (1 + th)/2 + a/2 (1 - th^2) sqrt(2/pi) (1 + 3 * 0.044715 a^2)
            d_inner = np.multiply(a, a, out=np.empty_like(a))
            d_inner *= 3 * 0.044715
            d_inner += 1.0
            d_inner *= _SQRT_2_OVER_PI
            slope = np.multiply(th, th, out=np.empty_like(a))
            np.subtract(1.0, slope, out=slope)
            slope *= d_inner
            slope *= a
            slope += th
            slope += 1.0
            slope *= 0.5
            slope *= grad
            return slope
        cdf = 0.5 * (1 + erf(a * _INV_SQRT_2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * a * a)
        return grad * (cdf + a * pdf)


class Silu(Function):
    """SiLU / swish: x sigmoid(x)."""

    @staticmethod
    def forward(ctx, a):
        s = stable_sigmoid(a)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, grad):
        a, s = ctx.saved_tensors
        return grad * s * (1 + a * (1 - s))


class Clamp(Function):
    """min(max(a, lo), hi), where each bound is None, a number or an array (broadcasting).

    Gradient, as in PyTorch: to `a` where lo <= a <= hi (both ends inclusive), to `lo` where
    a < lo <= hi, and to `hi` where max(a, lo) > hi (when lo > hi every output is hi).
    """

    @staticmethod
    def forward(ctx, a, lo, hi):
        arrays = [b if isinstance(b, np.ndarray) else None for b in (lo, hi)]
        ctx.numbers = tuple(None if isinstance(b, np.ndarray) else b for b in (lo, hi))
        ctx.metas = tuple(None if b is None else (b.shape, b.dtype) for b in [a] + arrays)
        ctx.save_for_backward(a, *arrays)
        out = a if lo is None else np.maximum(a, lo)
        out = out if hi is None else np.minimum(out, hi)
        if arrays[0] is None and arrays[1] is None:  # number bounds keep the input's dtype
            return out.astype(a.dtype, copy=False)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, lo_array, hi_array = ctx.saved_tensors
        lo_number, hi_number = ctx.numbers
        lo = lo_array if lo_array is not None else lo_number
        hi = hi_array if hi_array is not None else hi_number
        raised = a if lo is None else np.maximum(a, lo)
        to_a = np.ones(np.shape(grad), dtype=bool)
        if lo is not None:
            to_a = to_a & (a >= lo)
        if hi is not None:
            to_a = to_a & (a <= hi)
        grads = [np.where(to_a, grad, 0)]
        if ctx.parents[1] is not None:
            from_lo = (a < lo) if hi is None else (a < lo) & (raised <= hi)
            grads.append(np.where(from_lo, grad, 0))
        else:
            grads.append(None)
        grads.append(np.where(raised > hi, grad, 0) if ctx.parents[2] is not None else None)
        return tuple(None if g is None else _fit(g, meta) for g, meta in zip(grads, ctx.metas))


def _fit(grad: np.ndarray, meta) -> np.ndarray:
    """The gradient summed to the input's shape (undoing broadcasting) in the input's dtype."""
    shape, dtype = meta
    return unbroadcast(grad, shape).astype(dtype, copy=False)


class ZeroGradient(Function):
    """Piecewise-constant ops (floor, ceil, round, sign, trunc): derivative 0 almost everywhere."""

    @staticmethod
    def forward(ctx, a, fn):
        return fn(a)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


def _floating(input):
    """Integer and bool tensors go into float math as float32, as in PyTorch (not float64)."""
    if isinstance(input, Tensor) and input.data.dtype.kind in "biu":
        return input.float()
    return input


def exp(input) -> Tensor:
    """e^input, elementwise; integer and bool tensors are computed in float32."""
    return Exp.apply(_floating(input))


def log(input) -> Tensor:
    """The natural logarithm, elementwise (-inf at 0, NaN below 0); integer and bool tensors
    are computed in float32. Gradient: 1 / input.
    """
    return Log.apply(_floating(input))


def log1p(input) -> Tensor:
    """log(1 + input), elementwise, accurate for small |input|; integer and bool tensors are
    computed in float32. Gradient: 1 / (1 + input).
    """
    return Log1p.apply(_floating(input))


def sqrt(input) -> Tensor:
    """The square root, elementwise; integer and bool tensors are computed in float32.
    Gradient: 0.5 / sqrt(input), infinite at 0.
    """
    return Sqrt.apply(_floating(input))


def rsqrt(input) -> Tensor:
    """1 / sqrt(input), elementwise; integer and bool tensors are computed in float32.
    Gradient: -0.5 * input^(-3/2).
    """
    return Rsqrt.apply(_floating(input))


def reciprocal(input) -> Tensor:
    """1 / input, elementwise; integer and bool tensors are computed in float32.
    Gradient: -1 / input^2.
    """
    return Reciprocal.apply(_floating(input))


def abs(input) -> Tensor:  # noqa: A001 - the PyTorch name
    """|input|, elementwise; the dtype is kept. Gradient: sign(input), so 0 at 0."""
    return Abs.apply(input)


def sin(input) -> Tensor:
    """The sine (of radians), elementwise; integer and bool tensors are computed in float32."""
    return Sin.apply(_floating(input))


def cos(input) -> Tensor:
    """The cosine (of radians), elementwise; integer and bool tensors are computed in float32."""
    return Cos.apply(_floating(input))


def tanh(input) -> Tensor:
    """The hyperbolic tangent, elementwise; integer and bool tensors are computed in float32.
    Gradient: 1 - tanh(input)^2, from the saved output.
    """
    return Tanh.apply(_floating(input))


def sigmoid(input) -> Tensor:
    """1 / (1 + e^-input), elementwise, without overflow for large |input| (`stable_sigmoid`);
    integer and bool tensors are computed in float32. Gradient: s (1 - s) with s the output.
    """
    return Sigmoid.apply(_floating(input))


def relu(input) -> Tensor:
    """max(input, 0), elementwise; the dtype is kept. Gradient: 1 where input > 0, else 0
    (0 at 0, as in PyTorch).
    """
    return Relu.apply(input)


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    """input where input > 0, else negative_slope * input, elementwise.

    Gradient: 1 where input > 0, else negative_slope (also at 0, as in PyTorch).
    """
    return LeakyRelu.apply(input, negative_slope)


def gelu(input, approximate: str = "none") -> Tensor:
    """GELU; `approximate="tanh"` uses 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(input, approximate)


def silu(input) -> Tensor:
    """SiLU (swish): input * sigmoid(input), elementwise.

    Gradient: s (1 + input (1 - s)) with s = sigmoid(input).
    """
    return Silu.apply(input)


def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002 - the PyTorch names
    """Limit values to [min, max]; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if input.data.dtype.kind != "f":
        bounds = [b.data if isinstance(b, Tensor) else b for b in (min, max)]
        float_bounds = [b for b in bounds if isinstance(b, float) or
                        isinstance(b, np.ndarray) and b.dtype.kind == "f"]
        if float_bounds:  # int tensor, float bound: the result is float, as in PyTorch
            array_bounds = [b for b in float_bounds if isinstance(b, np.ndarray)]
            input = input.to(array_bounds[0].dtype if array_bounds else np.float32)
    shapes = [np.shape(b.data if isinstance(b, Tensor) else b) for b in (input, min, max)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"clamp: the input's shape {shapes[0]} and the bounds' shapes "
                           f"{shapes[1]} and {shapes[2]} do not broadcast together") from None
    return Clamp.apply(input, min, max)


def floor(input) -> Tensor:
    """The largest integer <= input, elementwise. Gradient: 0 (piecewise constant)."""
    return ZeroGradient.apply(input, np.floor)


def ceil(input) -> Tensor:
    """The smallest integer >= input, elementwise. Gradient: 0 (piecewise constant)."""
    return ZeroGradient.apply(input, np.ceil)


def round(input, *, decimals: int = 0) -> Tensor:  # noqa: A001 - the PyTorch name
    """Round half to even (as NumPy and PyTorch), to `decimals` decimal places."""
    if decimals == 0:
        return ZeroGradient.apply(input, np.round)
    return ZeroGradient.apply(input, lambda a: np.round(a, decimals))


def trunc(input) -> Tensor:
    """input rounded toward zero, elementwise. Gradient: 0 (piecewise constant)."""
    return ZeroGradient.apply(input, np.trunc)


def sign(input) -> Tensor:
    """-1, 0 or 1 by the sign of input, elementwise. Gradient: 0 (piecewise constant)."""
    return ZeroGradient.apply(input, np.sign)


def square(input) -> Tensor:
    """input * input, elementwise (`mul(input, input)`), so the gradient is 2 * input; the
    dtype is kept.
    """
    from minigrad.ops.arithmetic import mul

    return mul(input, input)


clip = clamp
