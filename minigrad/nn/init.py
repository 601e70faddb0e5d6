"""`minigrad.nn.init`: fill a parameter in place with values from a chosen distribution.

Why the scale matters: a layer y = W x with fan_in inputs of variance v gives outputs of
variance fan_in Var(W) v. Too large a Var(W) and activations (and gradients) grow layer after
layer; too small and they vanish. The schemes pick Var(W) to keep them steady:

- Xavier/Glorot (Glorot & Bengio 2010, Eq. 16): Var(W) = gain^2 2 / (fan_in + fan_out),
  a compromise between the forward (fan_in) and the backward (fan_out) pass.
- Kaiming/He (He et al. 2015, Eq. 10): Var(W) = gain^2 / fan, with gain sqrt(2) for ReLU
  (which zeroes half its inputs, halving the variance).

A uniform U(-bound, bound) has variance bound^2 / 3, so bound = sqrt(3) std.

Every function runs under `no_grad` (filling a parameter is not part of any graph), returns
the tensor, and draws from minigrad's global generator unless given `generator=`, so
`minigrad.manual_seed(0)` makes a model's initialisation reproducible. The numbers drawn are
not PyTorch's (another random number generator); the distributions are.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from minigrad.autograd.grad_mode import no_grad
from minigrad.random import Generator, _numpy_generator
from minigrad.tensor import Tensor

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain (std multiplier) for a nonlinearity, as PyTorch's table.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu with negative slope
    `param` (default 0.01): sqrt(2 / (1 + param^2)); selu: 3/4.

    Raises:
        ValueError: an unknown nonlinearity, or a slope that is not a number.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: for (out, in, *kernel), fan_in = in prod(kernel) and
    fan_out = out prod(kernel); a Linear weight (out, in) has no kernel dimensions.

    Raises:
        ValueError: fewer than 2 dimensions.
    """
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tensor.shape})")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with values from U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with values from N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """Fill with values from N(mean, std^2) truncated to [a, b] (a and b are absolute bounds,
    not multiples of std).

    By inverse transform sampling, as PyTorch: draw u uniformly between the normal CDF at a
    and at b, and return the inverse CDF of u (computed here with Acklam's approximation,
    relative error below 1.2e-9), clamped to [a, b] against rounding.
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    low, high = _normal_cdf((a - mean) / std), _normal_cdf((b - mean) / std)
    u = _numpy_generator(generator).uniform(low, high, tensor.shape)
    values = np.clip(mean + std * _normal_ppf(u), a, b)
    with no_grad():
        return tensor.copy_(values)


def _normal_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


# P. J. Acklam's rational approximation of the inverse standard normal CDF (2003): a central
# region and two tails, each a ratio of polynomials.
_ACKLAM_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_ACKLAM_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01, 1.0)
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00, 1.0)
_ACKLAM_TAIL = 0.02425


def _normal_ppf(p: np.ndarray) -> np.ndarray:
    """The inverse of the standard normal CDF, elementwise, for p in (0, 1) (float64)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty_like(p)
    central = (p >= _ACKLAM_TAIL) & (p <= 1 - _ACKLAM_TAIL)
    q = p[central] - 0.5
    r = q * q
    out[central] = q * np.polyval(_ACKLAM_A, r) / np.polyval(_ACKLAM_B, r)
    tails = ~central
    # The upper tail mirrors the lower one: ppf(p) = -ppf(1 - p).
    tail_p = np.minimum(p[tails], 1 - p[tails])
    with np.errstate(divide="ignore"):  # p = 0 or 1 (after rounding) gives -inf or inf
        s = np.sqrt(-2 * np.log(tail_p))
    x = np.polyval(_ACKLAM_C, s) / np.polyval(_ACKLAM_D, s)
    out[tails] = np.where(p[tails] < 0.5, x, -x)
    return out


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value `val`."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-bound, bound), bound = gain sqrt(6 / (fan_in + fan_out)).

    Args:
        tensor: a weight of 2 or more dimensions, (out, in, *kernel).
        gain: scaling factor, e.g. `calculate_gain('tanh')`.
        generator: the random generator; None uses the global one.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """gain / sqrt(fan), or None for an empty tensor (which PyTorch leaves alone, warning)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He uniform: U(-bound, bound), bound = gain sqrt(3 / fan).

    Args:
        tensor: a weight of 2 or more dimensions, (out, in, *kernel).
        a: the negative slope of the leaky ReLU that follows (0 means ReLU).
        mode: 'fan_in' keeps the forward activations' variance, 'fan_out' the gradients'.
        nonlinearity: the name given to `calculate_gain` (with `a` as its parameter).
        generator: the random generator; None uses the global one.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan); arguments as `kaiming_uniform_`."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)
