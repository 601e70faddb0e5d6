"""The backward kernel of `kernels.cpu.attention` (read its docstring first): Algorithm 2 of
FlashAttention-2, one task per head, recomputing the probabilities tile by tile from the
forward's log-sum-exp.
"""

from __future__ import annotations

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
def _backward_head(q2t, q_rows, k, k_rows, v, dout_rows, doutt, out, lse, bias, bias_strides,
                   has_bias, is_causal, scale, b, dq, dk, dv):
    """dq[b], dk[b], dv[b]: one task, walking key blocks j, then the query blocks i that
    see them, in the forward's transposed orientation (keys as rows of S^T):

        S^T = K_j Q2_i^T (+ bias, mask);  P^T = 2^(S^T - lse2_i)
        dV_j += P^T dO_i;  dP^T = V_j dO_i^T;  dS^T = P^T o (dP^T - D_i)
        dK_j += dS^T Q_i;  dQ_i += (dS^T)^T K_j     (both times scale, once at the end)

    Memory traffic: k, v, dk, dv once; q, dO, their tiles, lse, D and dQ once per key block.
    Scratch: two (Bc, NR) tiles and two rows of L numbers.
    """
    length, dim = dq.shape[1:]
    keys, value_dim = dk.shape[1], dv.shape[2]
    blocks = q2t.shape[1]
    q_width, v_width = q_rows.shape[2], dout_rows.shape[2]
    scores_t = np.zeros((BLOCK_KEYS, NR), dtype=dq.dtype)  # S^T, then P^T
    dscores_t = np.zeros((BLOCK_KEYS, NR), dtype=dq.dtype)  # dP^T, then dS^T
    # lse in log2 units, +inf for a fully masked row (and past L), so that its P = 2^-inf
    # = 0; D = rowsum(dO o out)
    lse2 = np.full(blocks * NR, np.inf, dtype=dq.dtype)
    delta = np.zeros(blocks * NR, dtype=dq.dtype)
    for r in range(length):
        if lse[b, r] > -np.inf:
            lse2[r] = lse[b, r] * LOG2E
        total = dq.dtype.type(0)
        for e in range(value_dim):
            total += dout_rows[b, r, e] * out[b, r, e]
        delta[r] = total
    dq[b], dk[b], dv[b] = 0, 0, 0
    v_flat, p_flat, ds_flat = v.reshape(-1), scores_t.reshape(-1), dscores_t.reshape(-1)
    q_flat, k_flat, dout_flat = q_rows.reshape(-1), k_rows.reshape(-1), dout_rows.reshape(-1)
    for first_key in range(0, keys, BLOCK_KEYS):
        cols = min(BLOCK_KEYS, keys - first_key)
        # causal: queries before first_key see no key of this block
        for block in range(first_key // NR if is_causal else 0, blocks):
            first_query = block * NR
            rows = min(NR, length - first_query)
            _scores_transposed(k, b, first_key, cols, q2t[b, block].reshape(-1), scores_t)
            crosses_diagonal = is_causal and first_key + cols > first_query + 1
            if has_bias or crosses_diagonal:
                _mask_scores(scores_t, rows, cols, first_query, first_key, b, bias,
                             bias_strides, has_bias, crosses_diagonal, True)
            for c in range(cols):
                row = scores_t[c]
                for r in range(NR):
                    row[r] = _exp2(row[r] - lse2[first_query + r])
            for panel in range(0, cols, MR):
                height = min(MR, cols - panel)
                for col in range(0, value_dim, NR):  # dV_j += P^T dO_i
                    _micro_kernel(p_flat, panel * NR, NR, 1, dout_flat,
                                  (b * length + first_query) * v_width + col, v_width, rows,
                                  dv[b], first_key + panel, col, height,
                                  min(NR, value_dim - col), True)
                _micro_kernel(v_flat, (b * keys + first_key + panel) * value_dim, value_dim,
                              1, doutt[b, block].reshape(-1), 0, NR, value_dim, dscores_t,
                              panel, 0, height, NR, False)  # dP^T = V_j dO_i^T
            for c in range(cols):
                p_row, ds_row = scores_t[c], dscores_t[c]
                for r in range(NR):
                    ds_row[r] = p_row[r] * (ds_row[r] - delta[first_query + r])
            for col in range(0, dim, NR):
                width = min(NR, dim - col)
                for panel in range(0, cols, MR):  # dK_j += dS^T Q_i
                    _micro_kernel(ds_flat, panel * NR, NR, 1, q_flat,
                                  (b * length + first_query) * q_width + col, q_width, rows,
                                  dk[b], first_key + panel, col, min(MR, cols - panel),
                                  width, True)
                for panel in range(0, rows, MR):  # dQ_i += dS K_j, dS read as (dS^T)^T
                    _micro_kernel(ds_flat, panel, 1, NR, k_flat,
                                  (b * keys + first_key) * q_width + col, q_width, cols,
                                  dq[b], first_query + panel, col, min(MR, rows - panel),
                                  width, True)
    for r in range(length):
        for e in range(dim):
            dq[b, r, e] *= scale
    for c in range(keys):
        for e in range(dim):
            dk[b, c, e] *= scale


@numba.njit(parallel=True, cache=True)
def _backward_heads(q2t, q_rows, k, k_rows, v, dout_rows, doutt, out, lse, bias, bias_strides,
                    has_bias, is_causal, scale, dq, dk, dv):
    """dq, dk, dv, one task per head (`numba.prange` over B; why: `kernels.cpu.attention`).

    Args: q2t (B, ceil(L / NR), E, NR) and doutt (B, ceil(L / NR), Ev, NR): q scale log2 e
    and dO in blocks of NR queries, transposed; q_rows (B, L, E'), k_rows (B, S, E') and
    dout_rows (B, L, Ev'): q, k and dO with rows padded to a multiple of NR columns
    (E', Ev'); k (B, S, E); v (B, S, Ev); out (B, L, Ev); lse (B, L); bias, bias_strides: as
    in `kernels.cpu._flash_forward._forward_blocks`; dq (B, L, E), dk (B, S, E), dv (B, S,
    Ev), written in full. All C-contiguous.
    FLOPs: 2 B L S (3 E + 2 Ev) (about half when causal), plus 2 B L Ev for D.
    """
    for b in numba.prange(q2t.shape[0]):
        _backward_head(q2t, q_rows, k, k_rows, v, dout_rows, doutt, out, lse, bias,
                       bias_strides, has_bias, is_causal, scale, b, dq, dk, dv)
