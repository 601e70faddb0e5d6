"""Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", Eq. 1).

attention(Q, K, V) = softmax(Q K^T / sqrt(E) + M) V, for queries Q: (L, E), keys K: (S, E),
values V: (S, Ev), and a mask M that is 0 where query i may look at key j and -inf where it
may not. Each output row is a weighted average of the value rows, weighted by how well the
query matches each key; dividing by sqrt(E) keeps the scores' variance near 1 so the softmax
does not saturate.

Backward (one Function, formulas in `kernels.reference.attention_backward`): with P the
attention weights and G = dL/dout, dV = P^T G, dP = G V^T, the softmax backward
dS = P (dP - rowsum(dP P)), then dQ = dS K / sqrt(E) and dK = dS^T Q / sqrt(E).

Masking: a bool mask marks with True the pairs that take part (False becomes -inf); a float
mask is added to the scores, so a float mask that requires grad (a learned bias, such as a
relative position bias) gets dS, summed over the dimensions it was broadcast along.
`is_causal=True` lets query i see keys 0..i, the top-left aligned lower triangle, also when
L != S (as PyTorch). A query row whose keys are *all* masked has no distribution to average
with: this implementation returns zeros for it (and passes it no gradient), as PyTorch 2.13
does on all its paths (its math path used to give NaN, and still would for a hand-written
softmax(QK^T + M) V).

`ScaledDotProductAttention` materialises the (L, S) weight matrix, O(L S) memory. Under a
backend that runs the Numba kernels (`minigrad.use_backend("numba")`), and when there is no
dropout and the mask needs no gradient, `FlashAttention` runs instead: FlashAttention-2
(Dao 2023, `kernels/cpu/attention.py`) computes the same result in tiles, keeping only the
log-sum-exp of each query's scores (O(L) memory) and recomputing the weights from it in the
backward. is_causal is passed to it as a flag (it skips the key blocks above the diagonal)
rather than as a mask. Deviation: a mask whose batch dimensions cannot be flattened into
the batch x heads axis without copying (e.g. (N, 1, L, S) against (N, H) heads) is copied to
the full (N H, L, S) first.
"""

from __future__ import annotations

import math

import numpy as np

from kernels import reference
from minigrad.autograd.function import Function, unbroadcast
from minigrad.backend import kernel, uses_numba
from minigrad.nn.functional._utils import array, check_float
from minigrad.random import default_generator
from minigrad.tensor import Tensor


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, bias, scale, dropout_mask):
        out, probs = reference.attention_forward(q, k, v, bias, scale, dropout_mask)
        ctx.scale = scale
        ctx.bias_shape = None if bias is None else bias.shape
        ctx.save_for_backward(q, k, v, probs, dropout_mask)
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, probs, dropout_mask = ctx.saved_tensors
        grads = reference.attention_backward(grad, q, k, v, probs, ctx.scale, dropout_mask)
        shapes = (q.shape, k.shape, v.shape, ctx.bias_shape)
        return tuple(unbroadcast(g, shape) if parent is not None else None
                     for g, shape, parent in zip(grads, shapes, ctx.parents))


def _flat_batch(a: np.ndarray, batch: tuple) -> np.ndarray:
    """(..., X, Y) broadcast to batch + (X, Y), as (prod(batch), X, Y): a view if it can be."""
    return np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])


class FlashAttention(Function):
    """Attention through the flash kernels: saves (q, k, v, out, lse), never the weights.

    The batch dimensions are broadcast and flattened into the kernels' one axis of
    B = batch x heads here, and the gradients unbroadcast back to each input's shape.
    """

    @staticmethod
    def forward(ctx, q, k, v, bias, scale, is_causal):
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        flat_bias = None if bias is None else _flat_batch(bias, batch)
        out, lse = kernel("flash_attention_forward")(
            *(_flat_batch(a, batch) for a in (q, k, v)), flat_bias, scale, is_causal)
        ctx.save_for_backward(q, k, v, out, lse, flat_bias)
        ctx.scale, ctx.is_causal = scale, is_causal
        return out.reshape(batch + out.shape[-2:])

    @staticmethod
    def backward(ctx, grad):
        q, k, v, out, lse, bias = ctx.saved_tensors
        batch = grad.shape[:-2]
        grads = kernel("flash_attention_backward")(
            grad.reshape(out.shape), *(_flat_batch(a, batch) for a in (q, k, v)), out, lse,
            bias, ctx.scale, ctx.is_causal)
        return tuple(unbroadcast(g.reshape(batch + g.shape[-2:]), a.shape)
                     if parent is not None else None
                     for g, a, parent in zip(grads, (q, k, v), ctx.parents))


def _mask_bias(attn_mask, is_causal: bool, length: int, source: int,
               dtype) -> np.ndarray | Tensor | None:
    """The additive mask: 0 where a pair takes part, -inf (or the float mask) elsewhere.

    A float mask given as a Tensor stays one (cast to the scores' dtype, in the graph), so
    that it can receive a gradient.
    """
    if is_causal:
        attn_mask = np.tril(np.ones((length, source), dtype=bool))
    if attn_mask is None:
        return None
    mask = array(attn_mask)
    if mask.dtype == np.bool_:
        return np.where(mask, 0, -np.inf).astype(dtype)
    if isinstance(attn_mask, Tensor):
        return attn_mask.to(dtype)
    return mask.astype(dtype, copy=False)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(query key^T scale + mask) value, with optional dropout on the weights.

    Args:
        query: (..., L, E) float tensor.
        key: (..., S, E) tensor; batch dimensions broadcast against the query's.
        value: (..., S, Ev) tensor.
        attn_mask: broadcastable to (..., L, S): a bool mask (True = take part) or a float
            mask added to the scores; or None. A float mask that requires grad gets the
            gradient of the scores (summed over its broadcast dimensions).
        dropout_p: probability of dropping an attention weight (applied whenever > 0, as in
            PyTorch; pass 0.0 in evaluation). Uses minigrad's global generator.
        is_causal: mask so that query i sees keys 0..i only; not together with attn_mask.
        scale: multiplies the scores; None means 1 / sqrt(E).

    Returns:
        (..., L, Ev) tensor. Rows whose keys are all masked are zeros (see the module
        docstring).

    Raises:
        RuntimeError: fewer than 2 dimensions, mismatched E or S, batch dimensions or mask
            that do not broadcast, mixed dtypes, or attn_mask together with is_causal.
    """
    op = "scaled_dot_product_attention"
    q, k, v = query, key, value
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise RuntimeError(f"{op}: expected query, key and value to be at least 2-D, got shapes "
                           f"{q.shape}, {k.shape} and {v.shape}")
    check_float(q, "query", op)
    if not q.data.dtype == k.data.dtype == v.data.dtype:
        raise RuntimeError(f"{op}: query, key and value must have the same dtype, got "
                           f"{q.dtype.name}, {k.dtype.name} and {v.dtype.name}")
    if q.shape[-1] != k.shape[-1]:
        raise RuntimeError(f"{op}: query of shape {q.shape} and key of shape {k.shape} must have "
                           f"the same embedding size E: {q.shape[-1]} != {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise RuntimeError(f"{op}: key of shape {k.shape} and value of shape {v.shape} must have "
                           f"the same sequence length S: {k.shape[-2]} != {v.shape[-2]}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: batch dimensions of query {q.shape}, key {k.shape} and value "
                           f"{v.shape} do not broadcast") from None
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{op}: attn_mask must not be given together with is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p has to be between 0 and 1, got {dropout_p}")
    length, source = q.shape[-2], k.shape[-2]
    scores_shape = batch + (length, source)
    if attn_mask is not None:
        mask_array = array(attn_mask)
        if mask_array.dtype != np.bool_ and mask_array.dtype.kind != "f":
            raise RuntimeError(f"{op}: attn_mask must be bool or floating point, got dtype "
                               f"{mask_array.dtype}")
        try:
            scores_shape = np.broadcast_shapes(mask_array.shape, scores_shape)
        except ValueError:
            raise RuntimeError(f"{op}: attn_mask of shape {mask_array.shape} does not broadcast "
                               f"to the attention scores' shape {scores_shape}") from None
    if scale is None:
        scale = 1 / math.sqrt(q.shape[-1])
    if dropout_p == 0 and uses_numba("flash_attention_forward") and not (
            isinstance(attn_mask, Tensor) and attn_mask.requires_grad):
        bias = None if attn_mask is None else array(_mask_bias(attn_mask, False, length,
                                                               source, q.data.dtype))
        return FlashAttention.apply(q, k, v, bias, scale, is_causal)
    bias = _mask_bias(attn_mask, is_causal, length, source, q.data.dtype)
    dropout_mask = None
    if dropout_p > 0:
        keep = default_generator.numpy.random(scores_shape) >= dropout_p
        scale_kept = 0.0 if dropout_p == 1 else 1 / (1 - dropout_p)
        dropout_mask = (keep * scale_kept).astype(q.data.dtype)
    return ScaledDotProductAttention.apply(q, k, v, bias, scale, dropout_mask)
