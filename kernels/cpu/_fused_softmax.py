"""Softmax, log-softmax and cross-entropy as Numba kernels, one row per task.

Same names, signatures and results as `kernels.reference.softmax`; read it first (the math,
the stability shift, the non-finite rows). Rows are independent, so `numba.prange` runs them
on all cores without any synchronisation. Each kernel reads its row from memory once and
writes its result once; the row's other passes (max, exponentials, sum, scale) find it in
the L1 cache: a row of C = 100 float32 is 400 bytes, and even C = 8000 (32 KB) fits the
48 KB L1 of this machine's cores. The inner loops call `kernels.cpu._vector_math`, so they
run 8 lanes at a time (AVX2), the exponential included.

Why not the "online" softmax, one pass with a running maximum (Milakov & Gimelshein 2018)?
It rescales the running sum whenever the maximum grows, a data-dependent branch and an extra
exponential that keep the loop from vectorising; with the row in L1 a separate max pass costs
less (0.03 ms for 2048 x 100 float32 on one core). FlashAttention needs the online form
because its "row" (a row of Q K^T) is never stored; here it is.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from kernels.cpu._fused_threads import threads_for
from kernels.cpu._layout import as_rows, compute_dtype, gradient_dtype
from kernels.cpu._vector_math import exp, row_dot, row_max, row_sum, sum_exp
from kernels.reference.softmax import check_class_targets

# error_model="numpy": a float division by zero gives inf or NaN (an all -inf row), as in
# NumPy, instead of raising ZeroDivisionError as Python would
_OPTIONS = {"cache": True, "error_model": "numpy"}


@numba.njit(**_OPTIONS)
def _row_shift(row):
    """The stability shift of a row: its maximum, or 0 when that is not finite."""
    m = row_max(row)
    return m if math.isfinite(m) else row.dtype.type(0)


# -- the kernels on C-contiguous (M, C) rows ------------------------------------------------


@numba.njit(parallel=True, **_OPTIONS)
def _softmax_rows(x, y):
    """y[i] = exp(x[i] - m) / s for every row i.

    Per row: the shift (a max pass), y = exp(x - shift) (written once), s = sum(y) and
    y *= 1 / s, the last two on the row in L1. The reciprocal's multiply instead of C
    divisions differs from x / s by at most an ulp.
    Memory traffic: one read of x, one write of y. Work: M C exp, about 3 M C FLOPs.
    """
    one = x.dtype.type(1)
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        shift = _row_shift(row)
        for c in range(row.shape[0]):
            out[c] = exp(row[c] - shift)
        scale = one / row_sum(out, row.dtype.type(0))
        for c in range(row.shape[0]):
            out[c] *= scale


@numba.njit(parallel=True, **_OPTIONS)
def _softmax_backward_rows(g, y, grad):
    """grad[i] = y[i] (g[i] - sum_c g[i, c] y[i, c]) for every row i.

    Memory traffic: one read of g and y, one write of grad. Work: about 4 M C FLOPs.
    """
    for i in numba.prange(g.shape[0]):
        g_row, y_row, out = g[i], y[i], grad[i]
        dot = row_dot(g_row, y_row)
        for c in range(out.shape[0]):
            out[c] = y_row[c] * (g_row[c] - dot)


@numba.njit(parallel=True, **_OPTIONS)
def _log_softmax_rows(x, z):
    """z[i] = (x[i] - shift) - log sum_c exp(x[i, c] - shift) for every row i.

    Per row: the shift, the sum of exponentials (nothing stored), then z in one pass.
    Memory traffic: one read of x, one write of z. Work: M C exp, about 3 M C FLOPs.
    """
    for i in numba.prange(x.shape[0]):
        row, out = x[i], z[i]
        shift = _row_shift(row)
        log_sum = np.log(sum_exp(row, shift))
        for c in range(row.shape[0]):
            out[c] = (row[c] - shift) - log_sum


@numba.njit(parallel=True, **_OPTIONS)
def _log_softmax_backward_rows(g, z, grad):
    """grad[i] = g[i] - exp(z[i]) sum_c g[i, c] for every row i.

    Memory traffic: one read of g and z, one write of grad. Work: M C exp, 3 M C FLOPs.
    """
    for i in numba.prange(g.shape[0]):
        g_row, z_row, out = g[i], z[i], grad[i]
        total = row_sum(g_row, g_row.dtype.type(0))
        for c in range(out.shape[0]):
            out[c] = g_row[c] - exp(z_row[c]) * total


@numba.njit(parallel=True, **_OPTIONS)
def _cross_entropy_rows(x, target, ignore_index, smoothing, losses, lse):
    """losses[i] and the float64 log-sum-exp lse[i] of every row i.

    Per row: the shift, s = sum exp(x - shift) (nothing stored), lse = shift + log s and
    loss = (1 - eps)(lse - x_t) + eps (lse - mean_c x_c), in float64; the mean (a second
    sum, only when eps > 0) is accumulated in float64 too, so logits of 1e4 lose no digits.
    Memory traffic: one read of x; the outputs are 2 N numbers. Work: N C exp, 3 N C FLOPs.
    """
    for i in numba.prange(x.shape[0]):
        row = x[i]
        shift = _row_shift(row)
        total = np.float64(shift) + np.log(np.float64(sum_exp(row, shift)))
        lse[i] = total
        t = target[i]
        if t == ignore_index:
            losses[i] = 0
        elif smoothing > 0:  # not at 0: 0 (lse - mean) would be NaN for -inf logits
            mean = row_sum(row, 0.0) / row.shape[0]
            losses[i] = (1 - smoothing) * (total - row[t]) + smoothing * (total - mean)
        else:
            losses[i] = total - row[t]


@numba.njit(parallel=True, **_OPTIONS)
def _cross_entropy_backward_rows(grad_losses, x, target, lse, ignore_index, smoothing, grad):
    """grad[i] = (exp(x[i] - lse[i]) - q_i) grad_losses[i], 0 for ignored rows.

    q_i = (1 - eps) onehot(t_i) + eps / C. exp(x - lse) is computed as exp((x - hi) - lo)
    with lse = hi + lo split into two floats of x's dtype (see the reference).
    Memory traffic: one read of x, one write of grad. Work: N C exp, about 3 N C FLOPs.
    """
    dtype = x.dtype.type
    uniform, keep = dtype(smoothing / x.shape[1]), dtype(1 - smoothing)
    for i in numba.prange(x.shape[0]):
        row, out, t = x[i], grad[i], target[i]
        if t == ignore_index:
            out[:] = 0
        else:
            g, hi = dtype(grad_losses[i]), dtype(lse[i])
            lo = dtype(lse[i] - hi)
            for c in range(row.shape[0]):
                out[c] = (exp((row[c] - hi) - lo) - uniform) * g
            out[t] -= keep * g


# -- the public kernels: checks, layout, then one call -------------------------------------


def _rows_kernel(op: str, rows_kernel, x: np.ndarray) -> np.ndarray:
    """Run a forward row kernel on x (..., C) and give the result x's shape and dtype."""
    dtype = compute_dtype(op, x.dtype)
    rows = as_rows(x, dtype)
    out = np.empty_like(rows)
    with threads_for(rows.size):
        rows_kernel(rows, out)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


def _rows_backward(op: str, rows_kernel, grad_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Run a backward row kernel on (grad_out, y), both (..., C), like `_rows_kernel`."""
    dtype = gradient_dtype(op, grad_out, y, "y")
    g_rows, y_rows = as_rows(grad_out, dtype), as_rows(y, dtype)
    grad = np.empty_like(g_rows)
    with threads_for(g_rows.size):
        rows_kernel(g_rows, y_rows, grad)
    return grad.reshape(grad_out.shape).astype(grad_out.dtype, copy=False)


def softmax_forward(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis (see `kernels.reference.softmax_forward`).

    Args:
        x: (M, C) (or any (..., C)) float16, float32 or float64, any memory layout (a
            non-contiguous or float16 input is copied first).

    Returns:
        y: x's shape and dtype. Memory traffic: one read of x, one write of y.
    """
    return _rows_kernel("softmax_forward", _softmax_rows, x)


def softmax_backward(grad_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y (g - sum_c g_c y_c) along the last axis. grad_out, y: (M, C). Returns (M, C)."""
    return _rows_backward("softmax_backward", _softmax_backward_rows, grad_out, y)


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """Log-softmax along the last axis (see `kernels.reference.log_softmax_forward`).

    Args:
        x: (M, C) (or any (..., C)) float16, float32 or float64, any memory layout.

    Returns:
        z: x's shape and dtype. Memory traffic: one read of x, one write of z.
    """
    return _rows_kernel("log_softmax_forward", _log_softmax_rows, x)


def log_softmax_backward(grad_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """g - exp(z) sum_c g_c along the last axis. grad_out, y (= z): (M, C). Returns (M, C)."""
    return _rows_backward("log_softmax_backward", _log_softmax_backward_rows, grad_out, y)


def cross_entropy_forward(logits: np.ndarray, target: np.ndarray, ignore_index: int,
                          label_smoothing: float) -> tuple:
    """Per-row cross-entropy (see `kernels.reference.cross_entropy_forward`).

    Args:
        logits: (N, C) float16, float32 or float64, any memory layout.
        target: (N,) integers in [0, C) or ignore_index.
        ignore_index: rows with this target get loss 0.
        label_smoothing: eps in [0, 1].

    Returns:
        (losses (N,) of the logits' dtype, lse (N,) float64). Memory traffic: one read of
        the logits.
    """
    op = "cross_entropy_forward"
    check_class_targets(op, logits, target, ignore_index)
    rows = as_rows(logits, compute_dtype(op, logits.dtype))
    losses = np.empty(rows.shape[0], dtype=rows.dtype)
    lse = np.empty(rows.shape[0], dtype=np.float64)
    with threads_for(rows.size):
        _cross_entropy_rows(rows, np.ascontiguousarray(target, dtype=np.int64),
                            int(ignore_index), float(label_smoothing), losses, lse)
    return losses.astype(logits.dtype, copy=False), lse


def cross_entropy_backward(grad_losses: np.ndarray, logits: np.ndarray, target: np.ndarray,
                           lse: np.ndarray, ignore_index: int, label_smoothing: float
                           ) -> np.ndarray:
    """(softmax(x) - q) dloss per row (see `kernels.reference.cross_entropy_backward`).

    Args: as the reference's: grad_losses (N,), logits (N, C), target (N,), lse (N,) float64
    from the forward, ignore_index (rows with that target get gradient 0), label_smoothing.

    Returns:
        (N, C) of the logits' dtype. Memory traffic: one read of the logits, one write.
    """
    op = "cross_entropy_backward"
    check_class_targets(op, logits, target, ignore_index)
    n = logits.shape[0]
    if np.shape(grad_losses) != (n,) or np.shape(lse) != (n,):
        raise ValueError(f"{op}: expected grad_losses and lse of shape ({n},), got "
                         f"{np.shape(grad_losses)} and {np.shape(lse)}")
    rows = as_rows(logits, compute_dtype(op, logits.dtype))
    grad = np.empty_like(rows)
    with threads_for(rows.size):
        _cross_entropy_backward_rows(np.ascontiguousarray(grad_losses, dtype=np.float64), rows,
                                     np.ascontiguousarray(target, dtype=np.int64),
                                     np.ascontiguousarray(lse, dtype=np.float64),
                                     int(ignore_index), float(label_smoothing), grad)
    return grad.astype(logits.dtype, copy=False)
