"""The differentiable op set, and the Tensor methods and operators that call it.

Each module holds one family of ops, each op a `Function` subclass plus a thin function:
`arithmetic` (+ - * / **), `pointwise` (exp, tanh, relu, gelu, ...), `reduce` (sum, max,
...), `shape` (reshape, cat, pad, ...), `indexing` (t[i], gather, where, ...), `linalg`
(matmul), `softmax_ops` (softmax, log_softmax), `copying` (clone, casts) and `compare`
(bool results, no gradient).

At the bottom of this file the functions become Tensor methods (`t.exp()` is `exp(t)`),
operators (`a + b` is `add(a, b)`) and in-place methods (`t.add_(u)`), in one table.
"""

from __future__ import annotations

import numpy as np

from minigrad.ops import arithmetic, compare, copying, indexing, linalg, pointwise, reduce
from minigrad.ops import shape
from minigrad.ops.arithmetic import (add, div, divide, maximum, minimum, mul, multiply, neg,
                                     pow, remainder, sub, subtract, true_divide)
from minigrad.ops.compare import (allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor,
                                  eq, equal, ge, gt, isclose, isfinite, isinf, isnan, le,
                                  logical_and, logical_not, logical_or, logical_xor, lt, ne)
from minigrad.ops.copying import clone, to, type_as
from minigrad.ops.indexing import gather, index_select, masked_fill, where
from minigrad.ops.linalg import bmm, dot, matmul, mm, outer
from minigrad.ops.pointwise import (abs, ceil, clamp, clip, cos, exp, floor, gelu, leaky_relu,
                                    log, log1p, reciprocal, relu, round, rsqrt, sigmoid, sign,
                                    silu, sin, sqrt, square, tanh, trunc)
from minigrad.ops.reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean,
                                 min, norm, prod, std, sum, var)
from minigrad.ops.shape import (broadcast_to, cat, chunk, concat, concatenate, contiguous,
                                expand, expand_as, flatten, narrow, pad, permute, repeat,
                                reshape, split, squeeze, stack, swapaxes, swapdims, t, tile,
                                transpose, unbind, unflatten, unsqueeze, view)
from minigrad.ops.softmax_ops import log_softmax, softmax
from minigrad.random import Generator, _numpy_generator
from minigrad.tensor import Tensor

__all__ = [
    "abs", "add", "all", "allclose", "amax", "amin", "any", "argmax", "argmin",
    "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "bmm", "broadcast_to", "cat",
    "ceil", "chunk", "clamp", "clip", "clone", "concat", "concatenate", "contiguous", "cos",
    "div", "divide", "dot", "eq", "equal", "exp", "expand", "expand_as", "flatten", "floor",
    "gather", "ge", "gelu", "gt", "index_select", "isclose", "isfinite", "isinf", "isnan",
    "le", "leaky_relu", "log", "log1p", "log_softmax", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mm", "mul", "multiply", "narrow", "ne", "neg",
    "norm", "outer", "pad", "permute", "pow", "prod", "reciprocal", "relu", "remainder",
    "repeat", "reshape", "round", "rsqrt", "sigmoid", "sign", "silu", "sin", "softmax",
    "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "subtract", "sum",
    "swapaxes", "swapdims", "t", "tanh", "tile", "to", "transpose", "true_divide", "trunc",
    "type_as", "unbind", "unflatten", "unsqueeze", "var", "view", "where",
]


def _reflected(fn):
    """`other OP self` for the operators Python calls when the left operand is not a Tensor."""

    def method(self, other):
        return fn(other, self)

    method.__name__ = f"r{fn.__name__}"
    return method


def _inplace(fn, direct=None):
    """`t.op_(...)`: compute `op(t, ...)` and write it into t (see minigrad/autograd/inplace.py).

    `direct(array, *args)` is the same update done on the array in place, with NumPy's `out=`,
    for when no graph is recorded.
    """

    def method(self, *args, **kwargs):
        return self._write_inplace(lambda source, *a: fn(source, *a, **kwargs), *args,
                                   direct=(lambda d, *a: direct(d, *a, **kwargs)) if direct
                                   else None)

    method.__name__ = f"{fn.__name__}_"
    return method


def _ufunc_into(ufunc, name: str):
    """d = ufunc(d, other * alpha) in place; a result d can't hold is an error naming `name`."""

    def write(d, other, alpha=1):
        other = other if alpha == 1 else np.multiply(other, alpha)
        try:
            ufunc(d, other, out=d, casting="same_kind")
        except ValueError:
            raise RuntimeError(f"{name}: the result of shapes {d.shape} and {np.shape(other)} "
                               f"broadcast together doesn't fit the tensor's shape {d.shape}"
                               ) from None
        except TypeError:  # NumPy's UFuncTypeError: the result dtype can't be cast to d's
            raise RuntimeError(f"{name}: result type {arithmetic.result_type(d, other)} can't "
                               f"be cast to the tensor's dtype {d.dtype}") from None

    return write


def _div_into(d, other, rounding_mode=None):
    if rounding_mode is None and d.dtype.kind == "f":
        np.divide(d, other, out=d, casting="same_kind")
        return
    result = div(Tensor._wrap(d), other, rounding_mode=rounding_mode).data
    if not np.can_cast(result.dtype, d.dtype, casting="same_kind"):
        raise RuntimeError(f"div_: result type {result.dtype} can't be cast to the tensor's "
                           f"dtype {d.dtype}")
    d[...] = result


def _clamp_into(d, min=None, max=None):  # noqa: A002 - the PyTorch names
    np.clip(d, min, max, out=d)


def _masked_fill_into(d, mask, value):
    if np.asarray(mask).dtype != np.bool_:
        raise RuntimeError(f"masked_fill_: mask must be a bool tensor, got dtype "
                           f"{np.asarray(mask).dtype}")
    np.copyto(d, np.asarray(value, dtype=d.dtype), where=mask)


def _where_method(self, condition, other):
    return where(condition, self, other)


def _fill_(self, value):
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"fill_: only supports a 0-dimension value tensor, got one with "
                           f"{value.ndim} dimensions (shape {value.shape})")
    return self._write_inplace(copying.Fill.apply, value, direct=_fill_into)


def _fill_into(d, value):
    d[...] = value


def _zero_(self):
    return _fill_(self, 0)


def _copy_(self, src):
    return self._write_inplace(copying.CopyFrom.apply, src, direct=_copy_into)


def _copy_into(d, src):
    try:
        d[...] = src
    except ValueError:
        raise RuntimeError(f"copy_: source of shape {np.shape(src)} does not broadcast to "
                           f"{d.shape}") from None


def _uniform_(self, a: float = 0.0, b: float = 1.0, generator: Generator | None = None):
    values = _numpy_generator(generator).uniform(a, b, self.shape)
    return self._write_inplace(copying.CopyFrom.apply, values, direct=_fill_into)


def _normal_(self, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None):
    values = _numpy_generator(generator).normal(mean, std, self.shape)
    return self._write_inplace(copying.CopyFrom.apply, values, direct=_fill_into)


_METHODS = {
    # arithmetic and math
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg,
    "subtract": subtract, "multiply": multiply, "divide": divide, "true_divide": true_divide,
    "maximum": maximum, "minimum": minimum, "remainder": remainder,
    "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt,
    "reciprocal": reciprocal, "abs": abs, "sin": sin, "cos": cos, "tanh": tanh,
    "sigmoid": sigmoid, "relu": relu, "clamp": clamp, "clip": clip, "floor": floor,
    "ceil": ceil, "round": round, "trunc": trunc, "sign": sign, "square": square,
    # reductions
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax,
    "amin": amin, "logsumexp": logsumexp, "prod": prod, "norm": norm, "argmax": argmax,
    "argmin": argmin, "any": any, "all": all,
    # shape
    "reshape": reshape, "view": view, "flatten": flatten, "unflatten": unflatten,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose,
    "swapaxes": swapaxes, "swapdims": swapdims, "t": t, "expand": expand,
    "expand_as": expand_as, "broadcast_to": broadcast_to, "contiguous": contiguous,
    "repeat": repeat, "tile": tile, "narrow": narrow, "split": split, "chunk": chunk,
    "unbind": unbind,
    # indexing
    "index_select": index_select, "gather": gather, "masked_fill": masked_fill,
    "where": _where_method,
    # linear algebra
    "matmul": matmul, "mm": mm, "bmm": bmm, "dot": dot, "outer": outer,
    # comparisons
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "equal": equal,
    "allclose": allclose, "isclose": isclose, "isnan": isnan, "isinf": isinf,
    "isfinite": isfinite, "logical_and": logical_and, "logical_or": logical_or,
    "logical_xor": logical_xor, "logical_not": logical_not,
    # copies and casts
    "clone": clone, "to": to, "type_as": type_as, "float": copying.float,
    "double": copying.double, "half": copying.half, "long": copying.long,
    "int": copying.int, "bool": copying.bool,
    # softmax
    "softmax": softmax, "log_softmax": log_softmax,
    # operators
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div,
    "__rtruediv__": _reflected(div), "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul), "__neg__": neg,
    "__pos__": lambda self: self, "__abs__": abs,
    "__mod__": remainder, "__rmod__": _reflected(remainder),
    "__floordiv__": lambda self, other: div(self, other, rounding_mode="floor"),
    "__rfloordiv__": lambda self, other: div(other, self, rounding_mode="floor"),
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor,
    "__rand__": _reflected(bitwise_and), "__ror__": _reflected(bitwise_or),
    "__rxor__": _reflected(bitwise_xor), "__invert__": bitwise_not,
    "__getitem__": indexing.getitem, "__setitem__": indexing.setitem,
    # in-place
    "add_": _inplace(add, _ufunc_into(np.add, "add_")),
    "sub_": _inplace(sub, _ufunc_into(np.subtract, "sub_")),
    "mul_": _inplace(mul, _ufunc_into(np.multiply, "mul_")), "div_": _inplace(div, _div_into),
    "pow_": _inplace(pow), "clamp_": _inplace(clamp, _clamp_into),
    "clip_": _inplace(clamp, _clamp_into),
    "masked_fill_": _inplace(masked_fill, _masked_fill_into), "relu_": _inplace(relu),
    "sigmoid_": _inplace(sigmoid), "tanh_": _inplace(tanh), "exp_": _inplace(exp),
    "neg_": _inplace(neg), "abs_": _inplace(abs), "sqrt_": _inplace(sqrt),
    "fill_": _fill_, "zero_": _zero_, "copy_": _copy_, "uniform_": _uniform_,
    "normal_": _normal_,
    "__iadd__": _inplace(add, _ufunc_into(np.add, "add_")),
    "__isub__": _inplace(sub, _ufunc_into(np.subtract, "sub_")),
    "__imul__": _inplace(mul, _ufunc_into(np.multiply, "mul_")),
    "__itruediv__": _inplace(div, _div_into),
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: permute(self, *reversed(range(self.ndim))))
Tensor.mT = property(shape.mT)
Tensor.__hash__ = object.__hash__  # defining __eq__ above would otherwise unset it

del _name, _fn
