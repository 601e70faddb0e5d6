"""GELU, forward and backward, exact (erf) and with GPT-2's tanh approximation.

GELU (Hendrycks & Gimpel 2016) is x Phi(x), with Phi the standard normal CDF:

    exact ("none"):  y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))
                     dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    "tanh":          y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
                     dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 0.044715 x^2)

NumPy has no erf, so `erf` below supplies one. float16 inputs are computed in float32 and
rounded once. Each kernel is elementwise: one read of x (and of the gradient) and one write,
if done in one pass; NumPy makes about ten passes (one per operation).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gelu_forward", "gelu_backward"]

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_TANH_CUBIC = 0.044715
INV_SQRT_2 = 1 / math.sqrt(2)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

# Numerical Recipes' erfcc: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), P from the
# highest power of t down
ERFC_COEFFICIENTS = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                     -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function on arrays (NumPy has none).

    float64 input uses `math.erf` per element: exact, for gradient checks on small arrays.
    Other dtypes use the Chebyshev fit of erfc from Numerical Recipes (2nd ed., section 6.2,
    `erfcc`), fractional error below 1.2e-7 everywhere, evaluated in float64.
    """
    if x.dtype == np.float64:
        return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=np.float64)  # 0-d gives a float
    # Horner's rule in place on float64 buffers: two temporaries instead of twenty
    shape = np.shape(x)
    x = np.atleast_1d(x)  # in-place ufuncs need arrays, not 0-d scalars
    z = np.abs(x, dtype=np.float64)
    t = np.multiply(z, 0.5)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = np.full_like(t, ERFC_COEFFICIENTS[0])
    for c in ERFC_COEFFICIENTS[1:]:
        poly *= t
        poly += c
    np.square(z, out=z)
    poly -= z
    np.exp(poly, out=poly)
    poly *= t                                  # erfc(|x|)
    np.subtract(1.0, poly, out=poly)           # erf(|x|)
    # near 0, 1 - erfc cancels (the fit's 3e-8 error would be all of erf(1e-7)): use the
    # Taylor series erf(z) = 2/sqrt(pi) (z - z^3/3 + z^5/10 - z^7/42 + ...), whose next term
    # is below 1e-12 relative for z < 0.05
    small = np.flatnonzero(z.reshape(-1) < 0.05**2)  # z now holds |x|^2
    if small.size:
        z2 = z.reshape(-1)[small]
        series = 1.0 - z2 * (1.0 / 3.0 - z2 * (1.0 / 10.0 - z2 / 42.0))
        poly.reshape(-1)[small] = _TWO_OVER_SQRT_PI * np.sqrt(z2) * series
    return np.copysign(poly, x, out=poly).astype(x.dtype).reshape(shape)


def _check_approximate(op: str, approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{op}: approximate must be 'none' or 'tanh', got {approximate!r}")


def _compute(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if x.dtype == np.float16 else x


def gelu_forward(x: np.ndarray, approximate: str) -> np.ndarray:
    """y = x Phi(x) ("none") or its tanh approximation ("tanh"), elementwise.

    Args:
        x: any shape, float16, float32 or float64.
        approximate: "none" or "tanh".

    Returns:
        y of x's shape and dtype. Work per element: one erf or tanh and about 5 FLOPs.
    """
    _check_approximate("gelu_forward", approximate)
    a = _compute(x)
    if approximate == "tanh":
        y = 0.5 * a * (1 + np.tanh(SQRT_2_OVER_PI * (a + GELU_TANH_CUBIC * a * a * a)))
    else:
        y = 0.5 * a * (1 + erf(a * INV_SQRT_2))
    return np.asarray(y, dtype=x.dtype)


def gelu_backward(grad_out: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray:
    """dL/dx = dL/dy dy/dx, elementwise (the derivatives are in the module docstring).

    Args:
        grad_out: gradient of y, x's shape. x: the forward's input.
        approximate: "none" or "tanh", as in the forward.

    Returns:
        dL/dx of x's shape and grad_out's dtype. Work per element: one erf and one exp, or
        one tanh, and about 8 FLOPs.
    """
    _check_approximate("gelu_backward", approximate)
    a, g = _compute(x), _compute(grad_out)
    if approximate == "tanh":
        th = np.tanh(SQRT_2_OVER_PI * (a + GELU_TANH_CUBIC * a * a * a))
        slope = 0.5 * (1 + th) + 0.5 * a * (1 - th * th) * SQRT_2_OVER_PI * (
            1 + 3 * GELU_TANH_CUBIC * a * a)
    else:
        slope = 0.5 * (1 + erf(a * INV_SQRT_2)) + a * INV_SQRT_2PI * np.exp(-0.5 * a * a)
    return np.asarray(g * slope, dtype=grad_out.dtype)
