"""Arithmetic with broadcasting: + - * / ** and their gradients, maximum, minimum.

Either operand may be a Tensor, a NumPy array or a Python number. The result dtype follows
PyTorch's promotion: float32 op Python float stays float32, and an integer tensor meeting a
float (tensor or number) becomes float, never float64 by accident.

Every backward hands its gradient to `unbroadcast`, which sums it back down to the shape of
the input it belongs to.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function, unbroadcast
from minigrad.tensor import Tensor


def promote(a, b):
    """Cast the arrays `a`, `b` (either may be a Python number) as PyTorch's promotion would."""
    a_arr = isinstance(a, np.ndarray)
    b_arr = isinstance(b, np.ndarray)
    if a_arr and b_arr:
        if a.dtype is b.dtype:
            return a, b
        ka, kb = a.dtype.kind, b.dtype.kind
        if ka == "f" and kb != "f":
            return a, b.astype(a.dtype)
        if kb == "f" and ka != "f":
            return a.astype(b.dtype), b
        return a, b
    if a_arr:
        if isinstance(b, float) and a.dtype.kind != "f":
            return a.astype(np.float32), b
        return a, b
    if b_arr:
        if isinstance(a, float) and b.dtype.kind != "f":
            return a, b.astype(np.float32)
        return a, b
    return np.asarray(a, dtype=np.float32 if isinstance(a, float) else None), b


def _grad_like(grad: np.ndarray, meta) -> np.ndarray:
    """`grad` summed to the input's shape and cast to its dtype; `meta` = (shape, dtype)."""
    shape, dtype = meta
    grad = unbroadcast(grad, shape)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _meta(x):
    return (x.shape, x.dtype) if isinstance(x, np.ndarray) else None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        ma, mb = ctx.metas
        return (_grad_like(grad, ma) if ma else None, _grad_like(grad, mb) if mb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        return a - b

    @staticmethod
    def backward(ctx, grad):
        ma, mb = ctx.metas
        return (_grad_like(grad, ma) if ma else None, _grad_like(-grad, mb) if mb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ma, mb = ctx.metas
        ga = _grad_like(grad * b, ma) if ctx.parents[0] is not None else None
        gb = _grad_like(grad * a, mb) if ctx.parents[1] is not None else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        if np.asarray(a).dtype.kind != "f" and np.asarray(b).dtype.kind != "f":
            a = np.asarray(a, dtype=np.float32)  # true division, as in PyTorch
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ma, mb = ctx.metas
        ga = _grad_like(grad / b, ma) if ctx.parents[0] is not None else None
        gb = _grad_like(-grad * a / (b * b), mb) if ctx.parents[1] is not None else None
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        ma, mb = ctx.metas
        ga = gb = None
        if ctx.parents[0] is not None:
            # d(a^b)/da = b a^(b-1); PyTorch defines it as 0 where b == 0 (even at a == 0)
            ga = np.where(b == 0, 0.0, grad * b * a ** np.where(b == 0, 1, b - 1))
            ga = _grad_like(ga.astype(grad.dtype, copy=False), ma)
        if ctx.parents[1] is not None:
            # d(a^b)/db = a^b log(a); taken as 0 where a == 0 and b >= 0, as PyTorch does
            safe_log = np.log(np.where(a == 0, 1, a))
            gb = _grad_like(np.where((a == 0) & (b >= 0), 0.0, grad * out * safe_log), mb)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Maximum(Function):
    """Elementwise max; on ties each input gets half the gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _split_tie_grad(ctx, grad, a > b, a == b)


class Minimum(Function):
    """Elementwise min; on ties each input gets half the gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = (_meta(a), _meta(b))
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _split_tie_grad(ctx, grad, a < b, a == b)


def _split_tie_grad(ctx, grad, a_wins, tie):
    share_a = np.where(tie, 0.5, a_wins.astype(grad.dtype)).astype(grad.dtype)
    ma, mb = ctx.metas
    ga = _grad_like(grad * share_a, ma) if ctx.parents[0] is not None else None
    gb = _grad_like(grad * (1 - share_a), mb) if ctx.parents[1] is not None else None
    return ga, gb


def add(input, other, alpha=1) -> Tensor:
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(input, other)


def sub(input, other, alpha=1) -> Tensor:
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(input, other)


def mul(input, other) -> Tensor:
    return Mul.apply(input, other)


def div(input, other, rounding_mode: str | None = None) -> Tensor:
    """True division; `rounding_mode="floor"` or `"trunc"` gives a result without gradient."""
    if rounding_mode is None:
        return Div.apply(input, other)
    a = input.data if isinstance(input, Tensor) else np.asarray(input)
    b = other.data if isinstance(other, Tensor) else other
    a, b = promote(a, b)
    if rounding_mode == "floor":
        return Tensor._wrap(np.floor_divide(a, b))
    if rounding_mode == "trunc":
        q = np.trunc(a / b)
        return Tensor._wrap(q.astype(np.result_type(a, b)) if np.asarray(a).dtype.kind != "f" else q)
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def pow(input, exponent) -> Tensor:  # noqa: A001 - the PyTorch name
    return Pow.apply(input, exponent)


def neg(input) -> Tensor:
    return Neg.apply(input)


def maximum(input, other) -> Tensor:
    return Maximum.apply(input, other)


def minimum(input, other) -> Tensor:
    return Minimum.apply(input, other)


def remainder(input, other) -> Tensor:
    """Python-style modulo (sign of the divisor); no gradient."""
    a = input.data if isinstance(input, Tensor) else input
    b = other.data if isinstance(other, Tensor) else other
    return Tensor._wrap(np.remainder(*promote(a, b)))


def true_divide(input, other) -> Tensor:
    return Div.apply(input, other)


subtract, multiply, divide = sub, mul, div
