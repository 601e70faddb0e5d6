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


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating point


def _kind(x) -> tuple:
    """(category, priority) of an operand: dimensioned arrays outrank 0-d arrays, which
    outrank Python numbers (PyTorch's rule: a lower-priority operand only decides the dtype
    when its category is higher, e.g. int tensor * 2.5 is float)."""
    if isinstance(x, np.ndarray):
        return _CATEGORY.get(x.dtype.kind, 2), 2 if x.ndim else 1
    return (0 if isinstance(x, (bool, np.bool_)) else 1 if isinstance(x, (int, np.integer))
            else 2), 0


def _own_dtype(x) -> np.dtype:
    """The dtype an operand would have alone (Python float -> float32, int -> int64)."""
    if isinstance(x, np.ndarray):
        return x.dtype
    category = _kind(x)[0]
    return np.dtype((np.bool_, np.int64, np.float32)[category])


def promote_types(da: np.dtype, db: np.dtype) -> np.dtype:
    """PyTorch's promotion of two tensor dtypes: the higher category wins (int64 with float32
    is float32, not NumPy's float64); equal categories widen (int32 with int64 is int64)."""
    ca, cb = _CATEGORY.get(da.kind, 2), _CATEGORY.get(db.kind, 2)
    if ca == cb:
        return np.result_type(da, db)
    return da if ca > cb else db


def result_type(a, b) -> np.dtype:
    """The dtype of `a op b` under PyTorch's promotion rules (either may be a Python number).

    Within one priority level the higher category wins (int64 + float32 -> float32, not
    NumPy's float64), and equal categories widen (int32 + int64 -> int64). Across levels the
    higher-priority operand decides unless the other has a higher category:
    float32 tensor * float64 0-d tensor -> float32; int tensor + 2.5 -> float32.
    """
    (ca, pa), (cb, pb) = _kind(a), _kind(b)
    da, db = _own_dtype(a), _own_dtype(b)
    if pa == pb:
        return promote_types(da, db)
    hi_cat, lo_cat, hi_dtype, lo_dtype = (ca, cb, da, db) if pa > pb else (cb, ca, db, da)
    return lo_dtype if lo_cat > hi_cat else hi_dtype


def promote(a, b, dtype=None):
    """Cast the operands `a`, `b` (arrays or Python numbers) to `dtype`, by default their
    PyTorch result dtype.

    Arrays are cast; Python numbers stay numbers (NumPy keeps the array's dtype for them),
    except that two numbers become one 0-d array so the result still has the right dtype.
    """
    if dtype is None:
        # fast paths for the common cases: nothing to cast
        if type(a) is np.ndarray and (type(b) is np.ndarray and a.dtype == b.dtype or
                                      type(b) is float and a.dtype.kind == "f"):
            return a, b
        dtype = result_type(a, b)
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        return np.asarray(a, dtype=dtype), b
    return _cast(a, dtype), _cast(b, dtype)


def _cast(x, dtype: np.dtype):
    if isinstance(x, np.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    if isinstance(x, np.generic):
        return x.item()
    return x


def elementwise(op: str, ufunc, a, b) -> np.ndarray:
    """`ufunc(a, b)`, with NumPy's ValueErrors as RuntimeErrors that name the op.

    Operands that don't broadcast get an error naming both shapes; any other ValueError (such
    as "Integers to negative integer powers are not allowed") keeps NumPy's own message.
    """
    try:
        return ufunc(a, b)
    except ValueError as e:
        try:
            np.broadcast_shapes(np.shape(a), np.shape(b))
        except ValueError:
            raise RuntimeError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} can't be broadcast "
                               "together (sizes must match or be 1, aligned from the "
                               "right)") from None
        raise RuntimeError(f"{op}: {e}") from None


def _grad_like(grad: np.ndarray, meta) -> np.ndarray:
    """`grad` summed to the input's shape and cast to its dtype; `meta` = (shape, dtype)."""
    shape, dtype = meta
    grad = unbroadcast(grad, shape)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _meta(x):
    return (x.shape, x.dtype) if isinstance(x, np.ndarray) else None


def _metas(ctx, a, b):
    """The inputs' (shape, dtype), which backward needs to fit each gradient; only recorded."""
    return (_meta(a), _meta(b)) if ctx._recording else None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        return elementwise("add", np.add, a, b)

    @staticmethod
    def backward(ctx, grad):
        ma, mb = ctx.metas
        return (_grad_like(grad, ma) if ma else None, _grad_like(grad, mb) if mb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        return elementwise("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, grad):
        ma, mb = ctx.metas
        return (_grad_like(grad, ma) if ma else None, _grad_like(-grad, mb) if mb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        # save only what the needed gradients read (dL/da = grad b, dL/db = grad a), as PyTorch
        # does: then an in-place change of an operand that no gradient reads is no error
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return elementwise("mul", np.multiply, a, b)

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
        ctx.metas = _metas(ctx, a, b)
        dtype = result_type(a, b)
        a, b = promote(a, b, dtype if dtype.kind == "f" else np.dtype(np.float32))  # true division
        # save only what the needed gradients read: dL/da = grad / b, dL/db = -grad a / b^2
        need_b = ctx.needs_input_grad[1]
        ctx.save_for_backward(a if need_b else None, b)
        return elementwise("div", np.true_divide, a, b)

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
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        out = elementwise("pow", np.power, a, b)
        # both gradients read a and b; only dL/db = grad a^b log(a) reads the output
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
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
            with np.errstate(invalid="ignore"):  # log of a negative base: NaN, as in PyTorch
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


class Remainder(Function):
    """a - b * floor(a / b): Python's modulo, with the sign of the divisor.

    Away from the jumps (where a / b is an integer) it is a - b * constant, so
    d/da = 1 and d/db = -floor(a / b), as PyTorch defines them.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return elementwise("remainder", np.remainder, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ma, mb = ctx.metas
        ga = _grad_like(grad, ma) if ctx.parents[0] is not None else None
        gb = _grad_like(-grad * np.floor_divide(a, b), mb) if ctx.parents[1] is not None else None
        return ga, gb


class Maximum(Function):
    """Elementwise max; on ties each input gets half the gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return elementwise("maximum", np.maximum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _split_tie_grad(ctx, grad, a > b, a == b)


class Minimum(Function):
    """Elementwise min; on ties each input gets half the gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.metas = _metas(ctx, a, b)
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return elementwise("minimum", np.minimum, a, b)

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
    """input * other, elementwise, broadcasting; dtypes promote as in PyTorch (int tensor * 2.5
    is float32).

    Gradients: grad * other for input and grad * input for other, each summed back to its
    operand's shape. `multiply` is the same function.
    """
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
    """input ** exponent, elementwise, broadcasting; either may be a tensor or a number.

    Gradients, as PyTorch defines them: exponent * input^(exponent - 1) for input, 0 where
    exponent == 0; input^exponent * log(input) for exponent, 0 where input == 0 and
    exponent >= 0 (NaN for a negative base).
    """
    return Pow.apply(input, exponent)


def neg(input) -> Tensor:
    """-input, elementwise."""
    return Neg.apply(input)


def maximum(input, other) -> Tensor:
    """The elementwise maximum of input and other, broadcasting.

    The larger operand gets the gradient; where they are equal, each gets half of it
    (PyTorch's rule).
    """
    return Maximum.apply(input, other)


def minimum(input, other) -> Tensor:
    """The elementwise minimum of input and other, broadcasting.

    The smaller operand gets the gradient; where they are equal, each gets half of it
    (PyTorch's rule).
    """
    return Minimum.apply(input, other)


def remainder(input, other) -> Tensor:
    """Python-style modulo (the result has the sign of the divisor)."""
    return Remainder.apply(input, other)


def true_divide(input, other) -> Tensor:
    """input / other with true division, broadcasting: `div` without a rounding mode.

    Integer and bool operands give float32, as in PyTorch.
    """
    return Div.apply(input, other)


subtract, multiply, divide = sub, mul, div
