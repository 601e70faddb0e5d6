"""The forward kernels of `kernels.cpu.attention` (read its docstring first): Algorithm 1 of
FlashAttention-2, one task per (head, block of NR queries), each walking the key blocks with
the online softmax and writing its rows of out and lse.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from kernels.cpu._flash_tiles import (
    BLOCK_KEYS,
    LOG2E,
    MR,
    NR,
    _exp2,
    _mask_scores,
    _micro_kernel,
    _scores_transposed,
)


@numba.njit(cache=True, fastmath={"contract"})
def _online_softmax_step(scores_t, keys, row_max, row_sum, shift, rescale, acc_t):
    """One step of the online softmax over scores_t[:keys] (keys x NR queries, log2 units):
    update the running max and sum of each query, rescale its accumulator column, and
    overwrite the scores with P^T = 2^(scores - max). Every loop runs along the NR queries
    of a row: elementwise, vectorised. A query that has seen only -inf so far keeps max
    -inf; it is exponentiated against 0 instead, so its P is 0, never NaN.
    """
    for r in range(NR):
        shift[r] = row_max[r]
    for c in range(keys):
        row = scores_t[c]
        for r in range(NR):
            shift[r] = max(shift[r], row[r])
    for r in range(NR):
        new_max = shift[r]
        shift[r] = new_max if new_max > -np.inf else 0
        rescale[r] = _exp2(row_max[r] - shift[r])
        row_max[r] = new_max
        row_sum[r] *= rescale[r]
    for c in range(keys):
        row = scores_t[c]
        for r in range(NR):
            p = _exp2(row[r] - shift[r])
            row[r] = p
            row_sum[r] += p
    for e in range(acc_t.shape[0]):
        column = acc_t[e]
        for r in range(NR):
            column[r] *= rescale[r]


@numba.njit(cache=True, fastmath={"contract"})
def _forward_block(q2t, k, v, bias, bias_strides, has_bias, is_causal, b, block, out,
                   lse):
    """Rows block Br.. block Br + Br - 1 of head b of out and lse: one task.

    Memory traffic: the q2t tile once, every visited k and v block once, out rows once.
    Scratch: S^T / P^T (Bc, NR), A^T (Ev, NR) and four rows of NR numbers.
    """
    length, value_dim = out.shape[1:]
    keys = v.shape[1]
    first_query = block * NR
    rows = min(NR, length - first_query)
    scores_t = np.zeros((BLOCK_KEYS, NR), dtype=out.dtype)
    acc_t = np.zeros((value_dim, NR), dtype=out.dtype)
    row_max = np.full(NR, -np.inf, dtype=out.dtype)
    row_sum = np.zeros(NR, dtype=out.dtype)
    shift, rescale = np.empty(NR, dtype=out.dtype), np.empty(NR, dtype=out.dtype)
    q2t_tile, p_flat, v_flat = q2t[b, block].reshape(-1), scores_t.reshape(-1), v.reshape(-1)
    # causal: query first_query + r sees keys 0..first_query + r, so the last row of the
    # block sees keys < first_query + rows, and later key blocks are skipped entirely
    end = min(keys, first_query + rows) if is_causal else keys
    for first_key in range(0, end, BLOCK_KEYS):
        cols = min(BLOCK_KEYS, end - first_key)
        _scores_transposed(k, b, first_key, cols, q2t_tile, scores_t)
        crosses_diagonal = is_causal and first_key + cols > first_query + 1
        if has_bias or crosses_diagonal:
            _mask_scores(scores_t, rows, cols, first_query, first_key, b, bias, bias_strides,
                         has_bias, crosses_diagonal, True)
        _online_softmax_step(scores_t, cols, row_max, row_sum, shift, rescale, acc_t)
        for panel in range(0, value_dim, MR):  # A^T (Ev, NR) += V_j^T P^T, V_j^T in place
            _micro_kernel(v_flat, (b * keys + first_key) * value_dim + panel, 1, value_dim,
                          p_flat, 0, NR, cols, acc_t, panel, 0, min(MR, value_dim - panel),
                          NR, True)
    for r in range(rows):
        total = row_sum[r]
        # a fully masked row has sum 0 and accumulator 0: its output is 0, not 0 / 0
        inverse = row_sum.dtype.type(1) / total if total > 0 else total
        for e in range(value_dim):
            out[b, first_query + r, e] = acc_t[e, r] * inverse
        lse[b, first_query + r] = ((row_max[r] + math.log2(total)) / LOG2E if total > 0
                                   else -np.inf)


@numba.njit(parallel=True, cache=True)
def _forward_blocks(q2t, k, v, bias, bias_strides, has_bias, is_causal, out, lse):
    """out and lse, one task per (head, query block): `numba.prange` over B ceil(L / Br).

    Args: q2t (B, ceil(L / NR), E, NR): q scale log2 e in blocks of NR queries, transposed
    (`kernels.cpu.attention._transposed_blocks`); k (B, S, E); v (B, S, Ev); bias,
    bias_strides: the bias as flat values and (B, L, S) element strides
    (`kernels.cpu.attention._flat_bias`; read only if has_bias); out (B, L, Ev) and lse
    (B, L), written in full (lse in natural-log units). All C-contiguous.
    FLOPs: 4 B L S E (about half when causal).
    """
    blocks = q2t.shape[1]
    for task in numba.prange(q2t.shape[0] * blocks):
        _forward_block(q2t, k, v, bias, bias_strides, has_bias, is_causal, task // blocks,
                       task % blocks, out, lse)
