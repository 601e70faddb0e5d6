"""Softmax, log-softmax and cross-entropy over the last axis, forward and backward.

Each kernel works on rows: x is (M, C), M rows of C entries, normalised along C (any (..., C)
array works too: the leading axes are rows). The ops move their `dim` last first.

Stability: softmax is unchanged by a shift of its row, so every kernel subtracts the row
maximum m before exponentiating and exp never overflows, even for logits of 1e4. A row whose
maximum is not finite is not shifted (m = -inf: every entry is -inf, exp gives 0s and softmax
0 / 0 = NaN, as in PyTorch; m = +inf or NaN: the row is NaN).

With y = softmax(x), z = log_softmax(x) and g the gradient of the output:

    softmax:      y = exp(x - m) / s,   s = sum_c exp(x_c - m)      dx = y (g - sum_c g_c y_c)
    log_softmax:  z = (x - m) - log s                               dx = g - exp(z) sum_c g_c
    cross-entropy with target t and label smoothing eps (Szegedy et al. 2016, Sec. 7):
        lse = m + log s,  loss = (1 - eps) (lse - x_t) + eps (lse - mean_c x_c)
        dx = (softmax(x) - q) dloss,  q = (1 - eps) onehot(t) + eps / C

The last line is PyTorch's (1 - eps) nll + eps mean_c(-log p_c), since -log p_c = lse - x_c.

float16 inputs are computed in float32 and rounded once, as PyTorch does for half precision.
NumPy spends about five passes over memory on a softmax (max, subtract, exp, sum, divide);
the minimum is one read of x and one write of y, which `kernels.cpu.fused` gets close to.
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward",
           "log_softmax_backward", "cross_entropy_forward", "cross_entropy_backward"]


def _compute(x: np.ndarray) -> np.ndarray:
    """x in the dtype the kernels compute in: float32 for float16, else x's own."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _row_shift(x: np.ndarray) -> np.ndarray:
    """The row maxima (..., 1), with the non-finite ones replaced by 0 (see the module)."""
    m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)  # initial: empty rows work too
    return np.where(np.isfinite(m), m, 0)


def softmax_forward(x: np.ndarray) -> np.ndarray:
    """y = exp(x - m) / sum_c exp(x_c - m) along the last axis.

    Args:
        x: (M, C) float16, float32 or float64.

    Returns:
        y: (M, C) of x's dtype. Work: M C exponentials and about 3 M C other FLOPs.
    """
    dtype, x = x.dtype, _compute(x)
    e = np.exp(x - _row_shift(x))
    with np.errstate(invalid="ignore"):  # an all -inf row: 0 / 0 = NaN, as in PyTorch
        e /= np.sum(e, axis=-1, keepdims=True)
    return e.astype(dtype, copy=False)


def softmax_backward(grad_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = y (g - sum_c g_c y_c), the vector-Jacobian product of softmax.

    Args:
        grad_out: (M, C) gradient of y. y: (M, C) output of `softmax_forward`.

    Returns:
        (M, C) of grad_out's dtype. FLOPs: about 4 M C.
    """
    g, y32 = _compute(grad_out), _compute(y)
    return (y32 * (g - np.sum(g * y32, axis=-1, keepdims=True))).astype(grad_out.dtype,
                                                                        copy=False)


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """z = (x - m) - log sum_c exp(x_c - m) along the last axis.

    The shift is subtracted first and log s second (not x - (m + log s)): for logits of 1e4,
    m + log s would round to float32's spacing there, 1e-3, and take log s's digits with it.

    Args:
        x: (M, C) float16, float32 or float64.

    Returns:
        z: (M, C) of x's dtype. Work: M C exponentials, M logarithms, about 3 M C FLOPs.
    """
    dtype, x = x.dtype, _compute(x)
    z = x - _row_shift(x)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf for an all -inf row
        z -= np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return z.astype(dtype, copy=False)


def log_softmax_backward(grad_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = g - exp(z) sum_c g_c, the vector-Jacobian product of log_softmax.

    Args:
        grad_out: (M, C) gradient of z. y: (M, C) output z of `log_softmax_forward`.

    Returns:
        (M, C) of grad_out's dtype. Work: M C exponentials and about 3 M C FLOPs.
    """
    g = _compute(grad_out)
    return (g - np.exp(_compute(y)) * np.sum(g, axis=-1, keepdims=True)).astype(
        grad_out.dtype, copy=False)


def check_class_targets(op: str, logits: np.ndarray, target: np.ndarray,
                        ignore_index: int) -> None:
    """Raise unless logits is (N, C) and target (N,) holds classes in [0, C) or ignore_index.

    The Numba kernels index with the targets unchecked, so they call this first too.
    """
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"{op}: expected logits (N, C) and target (N,), got shapes "
                         f"{logits.shape} and {target.shape}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"{op}: expected integer class indices, got target dtype {target.dtype}")
    bad = (target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))
    if bad.any():
        raise IndexError(f"{op}: target {target[bad][0]} is out of bounds for "
                         f"{logits.shape[1]} classes")


def cross_entropy_forward(logits: np.ndarray, target: np.ndarray, ignore_index: int,
                          label_smoothing: float) -> tuple:
    """Per-row cross-entropy of class-index targets, with optional label smoothing.

    Args:
        logits: (N, C) float16, float32 or float64 unnormalised scores.
        target: (N,) integer class indices in [0, C), or `ignore_index`.
        ignore_index: rows with this target get loss 0 (and gradient 0).
        label_smoothing: eps in [0, 1]; the target distribution is
            (1 - eps) onehot(t) + eps / C.

    Returns:
        (losses, lse): losses (N,) of the logits' dtype, 0 for ignored rows; lse (N,) float64,
        the log-sum-exp of each row, which the backward needs. float64 because exp(x - lse)
        would lose log s's digits to lse's rounding for large logits (see
        `log_softmax_forward`); the backward splits it into two floats of the logits' dtype.
        Work: N C exponentials and about 3 N C FLOPs (4 N C with smoothing).
    """
    check_class_targets("cross_entropy_forward", logits, target, ignore_index)
    x = _compute(logits)
    shift = _row_shift(x)
    with np.errstate(divide="ignore", invalid="ignore"):  # all -inf rows: log(0), -inf + inf
        lse = shift[:, 0] + np.log(np.sum(np.exp(x - shift), axis=-1, dtype=np.float64))
        ignored = target == ignore_index
        picked = np.take_along_axis(x, np.where(ignored, 0, target)[:, None], axis=1)[:, 0]
        losses = lse - picked
        if label_smoothing > 0:  # skipped at 0: 0 (lse - mean) would be NaN for -inf logits
            losses = ((1 - label_smoothing) * losses
                      + label_smoothing * (lse - np.mean(x, axis=-1, dtype=np.float64)))
    return np.where(ignored, 0, losses).astype(logits.dtype), lse


def cross_entropy_backward(grad_losses: np.ndarray, logits: np.ndarray, target: np.ndarray,
                           lse: np.ndarray, ignore_index: int, label_smoothing: float
                           ) -> np.ndarray:
    """Gradient of `cross_entropy_forward`'s losses: (softmax(x) - q) dloss per row.

    softmax(x) = exp(x - lse) is recomputed from the saved log-sum-exp, as
    (x - hi) - lo with lse = hi + lo split into two floats of the logits' dtype: x - hi is
    exact for logits near the maximum, so the probabilities keep full precision at any scale.

    Args:
        grad_losses: (N,) gradient of each row's loss.
        logits: (N, C), as in the forward.
        target: (N,), as in the forward.
        lse: (N,) float64 from the forward.
        ignore_index: as in the forward; those rows get gradient 0.
        label_smoothing: as in the forward.

    Returns:
        (N, C) of the logits' dtype; rows of ignored targets are 0. Work: N C exponentials
        and about 4 N C FLOPs.
    """
    check_class_targets("cross_entropy_backward", logits, target, ignore_index)
    x = _compute(logits)
    ignored = target == ignore_index
    g = np.where(ignored, 0, grad_losses).astype(x.dtype)
    with np.errstate(invalid="ignore"):  # an all -inf row: -inf - (-inf) = NaN, as in PyTorch
        hi = lse.astype(x.dtype)
        lo = (lse - hi).astype(x.dtype)
        p = np.exp((x - hi[:, None]) - lo[:, None])
    grad = (p - label_smoothing / x.shape[1]) * g[:, None]
    grad[np.arange(x.shape[0]), np.where(ignored, 0, target)] -= (1 - label_smoothing) * g
    grad[ignored] = 0  # also where NaN logits made NaN * 0 = NaN
    return grad.astype(logits.dtype, copy=False)
