"""Scaled dot-product attention that materialises the (L, S) weights, and the safe softmax.

Two pairs of kernels: `attention_forward`/`attention_backward`, what the autograd op runs
(dropout, and a gradient for a learned bias), and `flash_attention_forward`/
`flash_attention_backward`, the specification of the FlashAttention kernels
(`kernels/cpu/attention.py`): the same attention, but the forward returns the log-sum-exp of
each query's scores instead of the weights, and the backward recomputes the weights from it.
Both references materialise the (L, S) matrices; the point of the flash kernels is not to.
"""

from __future__ import annotations

import numpy as np

from kernels.reference.sums import channel_sum

__all__ = ["attention_backward", "attention_forward", "flash_attention_backward",
           "flash_attention_forward", "safe_softmax"]


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


def _flash_scores(q: np.ndarray, k: np.ndarray, bias: np.ndarray | None, scale: float,
                  is_causal: bool) -> np.ndarray:
    """q k^T scale + bias, with -inf above the causal diagonal: (B, L, S)."""
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= np.asarray(scale, dtype=scores.dtype)
    if bias is not None:
        scores += bias
    if is_causal:  # query i sees keys 0..i (top-left aligned, also when L != S)
        length, keys = scores.shape[-2:]
        scores[..., np.triu(np.ones((length, keys), dtype=bool), k=1)] = -np.inf
    return scores


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def flash_attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                            bias: np.ndarray | None, scale: float, is_causal: bool) -> tuple:
    """Attention that returns the log-sum-exp of the scores instead of the weights.

    With S = q k^T scale + bias (and -inf above the diagonal if is_causal):
    lse = log sum_j exp(S_ij), out = exp(S - lse) v. A row whose scores are all -inf has
    lse = -inf and output 0.

    Args:
        q: (B, L, E) float16, float32 or float64 (B: batch x heads, flattened by the op).
        k: (B, S, E). v: (B, S, Ev).
        bias: None, or an additive float mask broadcastable to (B, L, S) (-inf hides a pair).
        scale: multiplies q k^T (usually 1 / sqrt(E)).
        is_causal: query i sees keys 0..i only (top-left aligned lower triangle).

    Returns:
        out (B, L, Ev) of q's dtype; lse (B, L) in the compute dtype (float32 for float16
        and float32 inputs, float64 for float64). FLOPs: 4 B L S E (Ev = E).
        This reference materialises (B, L, S) scores: O(B L S) memory.
    """
    result_dtype, dtype = q.dtype, _compute_dtype(q.dtype)
    q, k, v = (np.asarray(a, dtype=dtype) for a in (q, k, v))
    bias = None if bias is None else np.asarray(bias, dtype=dtype)
    scores = _flash_scores(q, k, bias, scale, is_causal)
    top = np.max(scores, axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0  # a fully masked row: exp(-inf - 0) = 0, not NaN
    scores -= top
    np.exp(scores, out=scores)
    total = channel_sum("...s->...", scores)
    with np.errstate(divide="ignore"):  # a fully masked row has sum 0: lse = log 0 = -inf
        lse = np.log(total) + top[..., 0]
    scores /= np.where(total == 0, 1, total)[..., None]
    return np.matmul(scores, v).astype(result_dtype, copy=False), lse


def flash_attention_backward(grad_out: np.ndarray, q: np.ndarray, k: np.ndarray,
                             v: np.ndarray, out: np.ndarray, lse: np.ndarray,
                             bias: np.ndarray | None, scale: float, is_causal: bool) -> tuple:
    """Gradients of `flash_attention_forward` from its out and lse (Dao 2023, Algorithm 2).

    P = exp(S - lse) (0 where lse = -inf), recomputed from the inputs; with G = grad_out and
    D = rowsum(G o out) (equal to rowsum(dP o P), since out = P v): dv = P^T G;
    dP = G v^T; dS = P o (dP - D); dq = dS k scale; dk = dS^T q scale. No gradient for the
    bias. Fully masked rows pass no gradient.

    Args:
        grad_out: (B, L, Ev). q, k, v, bias, scale, is_causal: as in the forward.
        out: (B, L, Ev) and lse: (B, L), the forward's results.

    Returns:
        (dq (B, L, E), dk (B, S, E), dv (B, S, Ev)) of q's dtype.
        FLOPs: 2 B L S (3 E + 2 Ev), 2.5x the forward's (Ev = E).
    """
    result_dtype, dtype = q.dtype, _compute_dtype(q.dtype)
    grad_out, q, k, v, out, lse = (np.asarray(a, dtype=dtype)
                                   for a in (grad_out, q, k, v, out, lse))
    bias = None if bias is None else np.asarray(bias, dtype=dtype)
    probs = _flash_scores(q, k, bias, scale, is_causal)
    probs -= np.where(np.isfinite(lse), lse, np.inf)[..., None]  # -inf rows: exp(-inf) = 0
    np.exp(probs, out=probs)
    dv = np.matmul(np.swapaxes(probs, -1, -2), grad_out)
    d_scores = np.matmul(grad_out, np.swapaxes(v, -1, -2))  # dP, then dS in place
    d_scores -= channel_sum("...le,...le->...l", grad_out, out)[..., None]
    d_scores *= probs
    scale = np.asarray(scale, dtype=dtype)
    dq = np.matmul(d_scores, k) * scale
    dk = np.matmul(np.swapaxes(d_scores, -1, -2), q) * scale
    return tuple(g.astype(result_dtype, copy=False) for g in (dq, dk, dv))
