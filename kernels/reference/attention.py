"""Scaled dot-product attention that materialises the (L, S) weights, and the safe softmax."""

from __future__ import annotations

import numpy as np

from kernels.reference.sums import channel_sum

__all__ = ["safe_softmax", "attention_forward", "attention_backward"]


def safe_softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along `axis` that gives 0 (not NaN) for a row whose entries are all -inf.

    Subtracting the row maximum keeps exp from overflowing; a fully masked row has maximum
    -inf, which is replaced by 0 so that exp(-inf - 0) = 0 and the row sums to 0.

    Args:
        scores: float array of any shape.
        axis: the axis to normalise.

    Returns:
        array of the same shape; rows sum to 1, or to 0 where fully masked.
    """
    return _softmax_in_place(np.array(scores, copy=True), axis)


def _softmax_in_place(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """`safe_softmax` written into `scores` itself: no temporary of the scores' size."""
    top = np.max(scores, axis=axis, keepdims=True)
    top[~np.isfinite(top)] = 0
    scores -= top
    np.exp(scores, out=scores)
    total = (channel_sum("...s->...", scores)[..., None] if axis in (-1, scores.ndim - 1)
             else np.sum(scores, axis=axis, keepdims=True))
    total[total == 0] = 1
    scores /= total
    return scores


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None,
                      scale: float, dropout_mask: np.ndarray | None) -> tuple:
    """Scaled dot-product attention, materialising the (L, S) weights (Vaswani et al. 2017).

    P = safe_softmax(q k^T scale + bias); out = (P * dropout_mask) v.

    Args:
        q: (..., L, E) float array. k: (..., S, E). v: (..., S, Ev). Batch axes broadcast.
        bias: array broadcastable to (..., L, S) added to the scores (-inf masks a pair),
            or None.
        scale: multiplies q k^T (usually 1 / sqrt(E)).
        dropout_mask: array broadcastable to (..., L, S) of 0 and 1 / (1 - p), or None.

    Returns:
        out: (..., L, Ev), and probs: (..., L, S), the attention weights before dropout
        (rows of zeros where every key is masked). FLOPs: 2 B L S (E + Ev), B = batch size.
    """
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= np.asarray(scale, dtype=q.dtype)
    if bias is not None:
        scores = scores + bias  # not in place: a bias may broadcast scores to a larger shape
    probs = _softmax_in_place(scores)
    dropped = probs if dropout_mask is None else probs * dropout_mask
    return np.matmul(dropped, v), probs


def attention_backward(grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                       probs: np.ndarray, scale: float, dropout_mask: np.ndarray | None) -> tuple:
    """Gradients of `attention_forward` with respect to q, k, v and the bias.

    With D = dropout_mask (1 if None) and G = grad_out: dv = (P D)^T G; dP = (G v^T) D;
    the softmax backward dS = P (dP - rowsum(dP P)); dq = dS k scale; dk = dS^T q scale.
    The bias is added to the scores, so its gradient is dS itself. Fully masked rows have
    P = 0, so they pass no gradient.

    Args:
        grad_out: (..., L, Ev) array. q, k, v: as in `attention_forward`.
        probs: (..., L, S) array from the forward.
        scale, dropout_mask: as in the forward.

    Returns:
        (dq, dk, dv, dbias) with the broadcast batch shape, dbias (..., L, S) (sum over
        broadcast axes to get the inputs' shapes). FLOPs: 4 B L S (E + Ev).
    """
    dropped = probs if dropout_mask is None else probs * dropout_mask
    dv = np.matmul(np.swapaxes(dropped, -1, -2), grad_out)
    d_scores = np.matmul(grad_out, np.swapaxes(v, -1, -2))   # dP, then dS in place
    if dropout_mask is not None:
        d_scores = d_scores * dropout_mask
    row = channel_sum("...ls,...ls->...l", d_scores, probs)[..., None]
    d_scores -= row
    d_scores *= probs
    # scale the (L, E) products rather than the (L, S) scores: fewer multiplications
    scale = np.asarray(scale, dtype=d_scores.dtype)
    dq = np.matmul(d_scores, k)
    dq *= scale
    dk = np.matmul(np.swapaxes(d_scores, -1, -2), q)
    dk *= scale
    return dq, dk, dv, d_scores
