"""Activations and softmax with the signatures of `torch.nn.functional`.

The math (and each derivative) lives in `minigrad.ops` (`pointwise.py`, `softmax.py`); this
module adds what the functional API has on top: `inplace=True`, which overwrites the input
(through the same in-place machinery as `t.relu_()`, so autograd stays correct), and
softmax's legacy implicit `dim`.
"""

from __future__ import annotations

import warnings

from minigrad import ops
from minigrad.tensor import Tensor


def _apply(input: Tensor, fn, inplace: bool) -> Tensor:
    return input._write_inplace(fn) if inplace else fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), elementwise; the gradient is 1 where x > 0 and 0 elsewhere.

    Args:
        input: (*) tensor.
        inplace: overwrite `input` with the result.

    Returns:
        (*) tensor.
    """
    return _apply(input, ops.relu, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, negative_slope x elsewhere.

    Args:
        input: (*) float tensor.
        negative_slope: the slope for negative inputs.
        inplace: overwrite `input` with the result.

    Returns:
        (*) tensor.
    """
    return _apply(input, lambda x: ops.leaky_relu(x, negative_slope), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, x Phi(x) with Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    Args:
        input: (*) float tensor.
        approximate: 'none' (exact, via erf) or 'tanh'
            (0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))).

    Returns:
        (*) tensor.
    """
    return ops.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish): x sigmoid(x).

    Args:
        input: (*) float tensor.
        inplace: overwrite `input` with the result.

    Returns:
        (*) tensor.
    """
    return _apply(input, ops.silu, inplace)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for any x.

    Args:
        input: (*) float tensor.

    Returns:
        (*) tensor with values in (0, 1).
    """
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent, elementwise.

    Args:
        input: (*) float tensor.

    Returns:
        (*) tensor with values in (-1, 1).
    """
    return ops.tanh(input)


def _implicit_dim(name: str, ndim: int) -> int:
    """PyTorch's legacy choice when no dim is given (deprecated there too, with this warning)."""
    warnings.warn(f"{name}: implicit dimension choice has been deprecated; pass dim= explicitly",
                  stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, stable for inputs of any magnitude.

    Args:
        input: (*) float tensor.
        dim: the dimension whose entries sum to 1. None picks one as PyTorch's deprecated
            rule does (0 for 0-, 1- and 3-D inputs, else 1) and warns.
        dtype: cast the input to this dtype first.

    Returns:
        (*) tensor.
    """
    if dim is None:
        dim = _implicit_dim("softmax", input.ndim)
    return ops.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """x - logsumexp(x) along `dim`: log-probabilities, stable for inputs of any magnitude.

    Use it (not log(softmax(x))) for losses: softmax underflows to 0 for very negative
    logits, and log(0) is -inf.

    Args:
        input: (*) float tensor.
        dim: the dimension to normalise. None picks one as PyTorch's deprecated rule does
            (0 for 0-, 1- and 3-D inputs, else 1) and warns.
        dtype: cast the input to this dtype first.

    Returns:
        (*) tensor.
    """
    if dim is None:
        dim = _implicit_dim("log_softmax", input.ndim)
    return ops.log_softmax(input, dim, dtype=dtype)
