"""Layer normalisation as Numba kernels: one row per task, each row read from memory once.

Same names, signatures and results as `kernels.reference.layer_norm_forward` and
`layer_norm_backward`; read those first.

Forward, per row of D elements: the mean (a sum), the variance (a sum of squared deviations
from that mean), then y = (x - mean) rstd weight + bias. That is two passes over the row
before the output pass, but only the first reads memory: a row of D = 96 to 4096 float32 is
384 bytes to 16 KB, and stays in the 48 KB L1 cache for the other two. Welford's one-pass
update (mean and M2 together) would save a pass over L1 at the cost of a division per
element and a serial dependency that keeps the loop from vectorising; the two-pass form is
also the more accurate one (no cancellation, the deviations are formed exactly as in the
reference), so there is nothing to trade.

Backward, per row: with x_hat = (x - mean) rstd and g_hat = g weight,

    grad_x = rstd (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat))

needs two row sums (one pass, both at once) and then one pass that writes grad_x. The same
pass adds the row's contributions to grad_weight = sum_rows g x_hat and grad_bias =
sum_rows g. Those sum over rows, so rows on different threads would race on them: instead
the rows are split into a fixed number of contiguous blocks (`BLOCKS`, not the thread count,
so the result does not depend on the number of threads), each block accumulates its own
(D,) partial sums in L1, and the wrapper adds the partials: BLOCKS x D numbers, tiny next to
the M x D gradient.

Memory traffic: forward, one read of x and one write of y; backward, one read of x and of
grad_out and one write of grad_x. Everything is computed in the input's dtype (float16 via
float32; the statistics are returned in float32 then).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from kernels.cpu._fused_threads import threads_for
from kernels.cpu._layout import compute_dtype
from kernels.cpu._vector_math import REDUCTION, row_sum, squared_deviation_sum

# row blocks of the backward: enough to keep 64 threads busy; the partial sums cost
# BLOCKS x D x 2 numbers
BLOCKS = 64
_OPTIONS = {"cache": True, "error_model": "numpy"}


@numba.njit(parallel=True, **_OPTIONS)
def _layer_norm_rows(x, weight, bias, eps, y, mean, rstd):
    """y[i] = (x[i] - mean_i) rstd_i weight + bias, and the statistics, for every row i.

    Work: about 8 M D FLOPs (the sums, the deviations, the scale and shift).
    """
    dtype = x.dtype.type
    size, one = dtype(x.shape[1]), dtype(1)
    for i in numba.prange(x.shape[0]):
        row, out = x[i], y[i]
        mu = row_sum(row, dtype(0)) / size
        r = one / dtype(math.sqrt(squared_deviation_sum(row, mu) / size + eps))
        mean[i, 0], rstd[i, 0] = mu, r
        for d in range(row.shape[0]):
            out[d] = (row[d] - mu) * r * weight[d] + bias[d]


@numba.njit(**_OPTIONS, fastmath=REDUCTION)
def _gradient_means(g, x, weight, mu, r):
    """(mean_d g_hat, mean_d g_hat x_hat) of one row, in one pass."""
    dtype = x.dtype.type
    sum_g = sum_gx = dtype(0)
    for d in range(x.shape[0]):
        g_hat = g[d] * weight[d]
        sum_g += g_hat
        sum_gx += g_hat * ((x[d] - mu) * r)
    return sum_g / dtype(x.shape[0]), sum_gx / dtype(x.shape[0])


@numba.njit(parallel=True, **_OPTIONS)
def _layer_norm_backward_rows(g, x, mean, rstd, weight, grad_x, partial_w, partial_b):
    """grad_x, and per block of rows the partial sums of grad_weight and grad_bias.

    Block b owns rows [b M / B, (b + 1) M / B) and writes only partial_w[b] and partial_b[b].
    Work: about 12 M D FLOPs.
    """
    rows, blocks = x.shape[0], partial_w.shape[0]
    for b in numba.prange(blocks):
        sum_w, sum_b = partial_w[b], partial_b[b]
        sum_w[:] = 0
        sum_b[:] = 0
        for i in range(b * rows // blocks, (b + 1) * rows // blocks):
            mu, r = mean[i, 0], rstd[i, 0]
            g_row, x_row, out = g[i], x[i], grad_x[i]
            mean_g, mean_gx = _gradient_means(g_row, x_row, weight, mu, r)
            for d in range(out.shape[0]):
                x_hat = (x_row[d] - mu) * r
                out[d] = (g_row[d] * weight[d] - mean_g - x_hat * mean_gx) * r
                sum_w[d] += g_row[d] * x_hat
                sum_b[d] += g_row[d]


def _parameter(op: str, name: str, value: np.ndarray | None, size: int, fill: float,
               dtype: np.dtype) -> np.ndarray:
    """weight or bias as a contiguous (D,) array of `dtype`; `fill` everywhere when None."""
    if value is None:
        return np.full(size, fill, dtype=dtype)
    if value.shape != (size,):
        raise ValueError(f"{op}: expected {name} of shape ({size},), got {value.shape}")
    return np.ascontiguousarray(value, dtype=dtype)


def _rows(op: str, name: str, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if x.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D (M, D) {name}, got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=dtype)


def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       eps: float) -> tuple:
    """Normalise each row of x, then scale and shift (see the reference).

    Args:
        x: (M, D) float16, float32 or float64, any memory layout.
        weight: (D,) array or None.
        bias: (D,) array or None.
        eps: added to the variance.

    Returns:
        y: (M, D) of x's dtype; mean, rstd: (M, 1) in the compute dtype. Memory traffic: one
        read of x, one write of y.
    """
    op = "layer_norm_forward"
    dtype = compute_dtype(op, x.dtype)
    rows = _rows(op, "input", x, dtype)
    size = rows.shape[1]
    weight = _parameter(op, "weight", weight, size, 1.0, dtype)
    bias = _parameter(op, "bias", bias, size, 0.0, dtype)
    y = np.empty_like(rows)
    mean = np.empty((rows.shape[0], 1), dtype=dtype)
    rstd = np.empty_like(mean)
    with threads_for(rows.size):
        _layer_norm_rows(rows, weight, bias, dtype.type(eps), y, mean, rstd)
    return y.astype(x.dtype, copy=False), mean, rstd


def layer_norm_backward(grad_out: np.ndarray, x: np.ndarray, mean: np.ndarray,
                        rstd: np.ndarray, weight: np.ndarray | None) -> tuple:
    """Gradients of `layer_norm_forward` in one pass over grad_out and x (see the module).

    Args:
        grad_out: (M, D) gradient of y.
        x: (M, D) input of the forward.
        mean: (M, 1) from the forward.
        rstd: (M, 1) from the forward.
        weight: (D,) array or None.

    Returns:
        (grad_x (M, D) of grad_out's dtype, grad_weight (D,), grad_bias (D,)); the last two
        are computed even when weight/bias were None (the caller drops them). Memory traffic:
        one read of grad_out and x, one write of grad_x.
    """
    op = "layer_norm_backward"
    dtype = compute_dtype(op, np.result_type(grad_out, x))
    g, rows = _rows(op, "grad_out", grad_out, dtype), _rows(op, "input", x, dtype)
    statistics = (rows.shape[0], 1)
    if g.shape != rows.shape or np.shape(mean) != statistics or np.shape(rstd) != statistics:
        raise ValueError(f"{op}: expected grad_out {rows.shape} like x and mean, rstd of shape "
                         f"({rows.shape[0]}, 1), got {g.shape}, {np.shape(mean)} and "
                         f"{np.shape(rstd)}")
    size = rows.shape[1]
    weight = _parameter(op, "weight", weight, size, 1.0, dtype)
    grad_x = np.empty_like(rows)
    blocks = max(1, min(BLOCKS, rows.shape[0]))
    partial_w = np.empty((blocks, size), dtype=dtype)
    partial_b = np.empty_like(partial_w)
    with threads_for(rows.size):
        _layer_norm_backward_rows(g, rows, np.ascontiguousarray(mean, dtype=dtype),
                                  np.ascontiguousarray(rstd, dtype=dtype), weight, grad_x,
                                  partial_w, partial_b)
    out_dtype = grad_out.dtype
    return (grad_x.astype(out_dtype, copy=False), partial_w.sum(axis=0).astype(out_dtype),
            partial_b.sum(axis=0).astype(out_dtype))
