"""FlashAttention-2 on the CPU: attention in tiles, never the (L, S) matrix (Dao 2023).

Same names, signatures and results as `kernels.reference.flash_attention_forward` and
`flash_attention_backward`; read those first. Per head b (B = batch x heads), with scores
S = q k^T scale + bias, the forward returns out = softmax(S) v and lse = logsumexp(S) per
query row; the backward recomputes the probabilities P = exp(S - lse) tile by tile.

Forward (Algorithm 1 of FlashAttention-2). Query block i (Br = 64 rows) is one task; it
walks the key blocks j (Bc = 126 keys each) with a running row maximum m, row sum l and an
unnormalised output accumulator A (the online softmax, Milakov & Gimelshein 2018):

    S_ij = Q_i K_j^T scale + bias_ij                  (Br, Bc)
    m'   = max(m, rowmax(S_ij));   P = exp(S_ij - m')
    l    = exp(m - m') l + rowsum(P);   A = exp(m - m') A + P V_j
    after the last block: out_i = A / l;   lse_i = m + log(l)

Key blocks wholly above the causal diagonal are never visited (the loop over j stops at
the diagonal); only a block that crosses it is masked element by element. Tasks are the
B ceil(L / Br) (head, query block) pairs, `numba.prange` over them; they write disjoint
rows of out and lse, so they need no synchronisation.

Backward (Algorithm 2). With D = rowsum(dO o out) (= rowsum(dP o P)), for each key block j
and each query block i that may see it:

    P  = exp(S_ij - lse_i);  dV_j += P^T dO_i;  dP = dO_i V_j^T;  dS = P o (dP - D_i)
    dK_j += dS^T Q_i scale;  dQ_i += dS K_j scale

dK_j and dV_j stay in cache for the whole walk over i. dQ_i receives a term from every key
block; on a GPU, FA2 adds them with atomics. Numba has no atomic float add on the CPU, and
the alternatives each cost something: a second pass over query blocks for dQ recomputes two
of the five products (+40% FLOPs), and per-thread dQ copies cost memory and a reduction.
Here the task is a whole head instead (`prange` over B): a head's dQ is written by one
thread only, so there is no race, no extra FLOP and no copy. The price is parallelism
limited to B tasks, which fills a few cores when B = batch x heads is 8 or more (32 in the
benchmark); with fewer heads than threads, cores idle.

The products: one register-tiled micro-kernel. All seven (two forward, five backward) are
`_micro_kernel`: C[MR rows, NR columns] (+)= A B over a depth of E, Bc or Br, with the
MR x NR = 6 x 64 tile of C held in 24 of AVX-512's 32 zmm registers for the whole depth.
Per depth step it loads one row of B (4 vectors of 16 floats), broadcasts MR numbers of A
and issues 24 fused multiply-adds: each loaded B vector is used 6 times, each A number 64
times (the BLIS micro-kernel; the same construction as `kernels.cpu.matmul`, whose
docstring has the details of how LLVM is made to emit it). B is always a contiguous
(depth, 64) array: a query block's scaled q^T tile (q2t), P^T or dP^T tiles, or rows of
q, k, dO padded to 64 columns. A is read through two strides, A[i, p] = a[start + i
row_stride + p depth_stride]: its MR numbers per step are broadcast from memory anyway, so a
transposed A (V^T, dS = (dS^T)^T) costs no copy. Hence the orientation: the scores are
computed transposed, S^T (Bc, Br) = K_j Q2_i^T, keys as rows, queries as the 64 columns.
Then P^T is the B operand of A^T = V_j^T P^T directly, and the softmax statistics of a
query are columns: max, exp and sum run along the rows of S^T elementwise, 64 queries per
vector loop, with no horizontal reduction anywhere.

Measured on one core of this machine (a 2-core AVX-512 Xeon VM), a 126 x 64 x 64 product
in L1: 145 GFLOP/s (`inspect_asm`: 24 vfmadd231ps on zmm, 4 vmovups, 6 vbroadcastss and no
stack access per step), against 60-70 for a dot-product form (C[r, c] = sum_t a[r, t]
b[c, t] as 16 scalar sums vectorised over t with `reassoc`: each output ends in a horizontal
reduction that costs as much as 6 of its 8 multiply-add vectors at depth 64).

Tiling and cache (float32, D = 64): the q2t tile (16 KB) is reused by every key panel of a
block, S^T/P^T (Bc x 64, 32 KB) by every value panel; k and v blocks (32 KB each) stream
from the 2 MB L2, where a head's k and v (and in the backward q, dO and their tiles) stay
during its walk. Bc = 126 = 21 panels of MR = 6 keys: no partial panel inside a sequence.
(Br = Bc = 64, and Bc = 192, measured within noise of 126.)

exp: the probabilities are computed as 2^x with the scores premultiplied by log2(e) (the
query tiles are scaled by scale log2(e) once, O(T D), instead of every score): `_exp2`,
below, is a polynomial with the exponent written into the float's bits. It vectorises,
where `math.exp` calls libm's scalar expf per element (this Numba has no SVML): 0.23
against 1.95 ns an element on one core here, and a forward at T = 1024 needs 16.8 million
of them per 32 heads.

Precision: fast-math `contract` only (fused multiply-adds; no reassociation): each sum runs
in order of its index within a block, blocks in order. float32 results agree with the
reference to about 1e-6 relative (the tests allow 2e-5 absolute on unit-scale data for out,
1e-4 for gradients) and float64 to 1e-12. Masks use -inf exactly (no `ninf`/`nnan` flags,
which would let LLVM assume there are none). float16 is computed in float32 and rounded once.
float64 uses the same 6 x 64 tile, which needs 48 zmm registers and spills: correct, and
fast enough for gradient checks. On a CPU without AVX-512 the tile spills in float32 too.

Debugging: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k attention` runs the
kernels as plain Python (the register tile is then `np.zeros`, `_exp2` is `2.0 ** x`). The
first call compiles them (4.5 s forward and 6 s backward per dtype, on the shared 2-core
machine) and caches them next to this file (`cache=True`); from the cache, 0.4 s.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from kernels.cpu._threads import serial_below
from kernels.cpu.depthwise import _compute_dtype

__all__ = ["flash_attention_backward", "flash_attention_forward"]

MR, NR = 6, 64  # the register tile: MR rows of NR columns (24 zmm registers in float32)
BLOCK_ROWS = NR  # Br: queries per block, the columns of S^T and of every tile
BLOCK_KEYS = 126  # Bc: keys per block, 21 panels of MR
LOG2E = 1.4426950408889634

# -- exp as 2^x, vectorisable -------------------------------------------------------------------


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """The float32 whose bit pattern is the int32 `bits` (C's memcpy / LLVM's bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


def _exp2(x):
    """2 ** x (x <= 0 in this module). Plain Python under NUMBA_DISABLE_JIT."""
    return 2.0 ** x


@overload(_exp2, jit_options={"fastmath": {"contract"}})
def _exp2_compiled(x):
    """float32: 2^x = 2^n 2^f with n = round(x) and f in [-0.5, 0.5]. 2^f is a degree-6
    minimax polynomial (the coefficients of Cephes' exp2f, S. Moshier), 2^n the float whose
    exponent field is n + 127, made by an integer shift. Relative error at most 8e-8, under
    one unit in the last place (measured over 3 million points of [-126, 0]). Below -126,
    2^x would be subnormal: it is flushed to 0 (less than 1.2e-38 of the row's largest
    weight), which also makes exp2(-inf) = 0. float64: 2.0 ** x, libm's pow."""
    if x != types.float32:
        return lambda x: 2.0 ** x

    def exp2_float32(x):
        flush = x < np.float32(-126.0)
        x = np.float32(-126.0) if flush else x
        n = np.int32(x - np.float32(0.5))  # truncation toward 0 of a negative: round(x)
        f = x - np.float32(n)
        p = np.float32(1.535336188319500e-4)
        p = p * f + np.float32(1.339887440266574e-3)
        p = p * f + np.float32(9.618437357674640e-3)
        p = p * f + np.float32(5.550332471162809e-2)
        p = p * f + np.float32(2.402264791363012e-1)
        p = p * f + np.float32(6.931472028550421e-1)
        p = p * f + np.float32(1.0)
        power = _int32_bits_as_float32((n + np.int32(127)) << np.int32(23))
        return np.float32(0.0) if flush else p * power
    return exp2_float32


# -- the micro-kernel: C (+)= A B on a register tile ------------------------------------------


@intrinsic
def _stack_tile_pointer(typingctx, dtype):
    """A pointer to MR x NR numbers of `dtype` on the caller's stack (an LLVM alloca), and the
    caller compiled for 512-bit vectors (LLVM's default on these CPUs is 256)."""
    element = dtype.dtype

    def codegen(context, builder, signature, args):
        # a string attribute goes into the IR as written (clang: -mprefer-vector-width=512)
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return cgutils.alloca_once(builder, context.get_value_type(element), size=MR * NR)

    return types.CPointer(element)(dtype), codegen


def _register_tile(dtype) -> np.ndarray:
    """A zeroed (MR, NR) tile of accumulators: on the stack of the caller in Numba code, so
    that LLVM can keep it in registers (a heap array might alias the operands)."""
    return np.zeros((MR, NR), dtype)


@overload(_register_tile, inline="always")
def _register_tile_compiled(dtype):
    def impl(dtype):
        tile = numba.carray(_stack_tile_pointer(dtype), (MR, NR))
        for i in range(MR):
            for j in range(NR):
                tile[i, j] = 0
        return tile
    return impl


@numba.njit(cache=True, fastmath={"contract"})
def _micro_kernel(a, a_start, a_row_stride, a_depth_stride, b, b_start, b_stride, depth, c,
                  c_row, c_col, rows, cols, accumulate):
    """C[c_row + i, c_col + j] (+)= sum_{p < depth} A[i, p] B[p, j], i < rows <= MR,
    j < cols <= NR, with A[i, p] = a[a_start + i a_row_stride + p a_depth_stride] and
    B[p, j] = b[b_start + p b_stride + j] (a, b flat; c 2-D, C-contiguous).

    The MR x NR tile lives in registers for all `depth` steps; per step one row of B (NR
    contiguous numbers, read even past `cols`: b must hold them) and MR broadcasts of A. Rows
    of A past `rows` repeat the last one (in bounds) and are not stored. FLOPs: 2 MR NR depth.
    """
    tile = _register_tile(c.dtype)
    last = rows - 1
    for p in range(depth):
        b_row = b[b_start + p * b_stride:b_start + p * b_stride + NR]
        a_base = a_start + p * a_depth_stride
        for i in range(MR):
            # unsigned: Numba wraps a signed index that might be negative (3 instructions a
            # load), and the extra registers made LLVM spill 4 accumulators (90 GFLOP/s
            # against 145 on one core, 64 x 126 x 64)
            a_ip = a[np.uint64(a_base + min(i, last) * a_row_stride)]
            for j in range(NR):
                tile[i, j] += a_ip * b_row[j]
    if rows == MR and cols == NR:  # constant bounds: a vectorised store
        _store_tile(tile, c, c_row, c_col, MR, NR, accumulate)
    else:
        _store_tile(tile, c, c_row, c_col, rows, cols, accumulate)


@numba.njit(inline="always")
def _store_tile(tile, c, row, col, rows, cols, accumulate):
    """c[row + i, col + j] (+)= tile[i, j] for i < rows, j < cols."""
    for i in range(rows):
        c_row = c[row + i, col:col + cols]
        if accumulate:
            for j in range(cols):
                c_row[j] += tile[i, j]
        else:
            for j in range(cols):
                c_row[j] = tile[i, j]


@numba.njit(cache=True)
def _scores_transposed(k, b, first_key, keys, q2t_tile, scores_t):
    """scores_t[:keys] = K_j Q2_i^T: keys first_key.. of head b against one query tile
    (E, NR), one micro-kernel per panel of MR keys (rows of k). FLOPs: 2 keys NR E."""
    dim = k.shape[2]
    k_flat = k.reshape(-1)
    for panel in range(0, keys, MR):
        _micro_kernel(k_flat, (b * k.shape[1] + first_key + panel) * dim, dim, 1, q2t_tile, 0,
                      NR, dim, scores_t, panel, 0, min(MR, keys - panel), NR, False)


# -- forward ------------------------------------------------------------------------------------


@numba.njit(cache=True, fastmath={"contract"})
def _mask_scores(scores, queries, keys, first_query, first_key, head, bias, bias_strides,
                 has_bias, is_causal, transposed):
    """Add the bias (times log2 e) to a block of scores and set to -inf the pairs that the
    causal mask hides (key > query). The block holds queries first_query + r, r < queries,
    and keys first_key + c, c < keys, of head `head`, as scores[r, c], or as scores[c, r] if
    `transposed` (the backward's orientation). The bias of (head, query, key) is
    bias[head sb + query sl + key ss], with (sb, sl, ss) = bias_strides.

    Called only on blocks that have a bias or cross the causal diagonal. FLOPs: 2 queries
    keys (the bias), none for the mask.
    """
    log2e = scores.dtype.type(LOG2E)
    head_stride, query_stride, key_stride = bias_strides
    for r in range(queries):
        query = first_query + r
        if has_bias:
            start = head * head_stride + query * query_stride + first_key * key_stride
            for c in range(keys):
                value = log2e * bias[start + c * key_stride]
                if transposed:
                    scores[c, r] += value
                else:
                    scores[r, c] += value
        if is_causal:
            for c in range(max(query + 1 - first_key, 0), keys):
                if transposed:
                    scores[c, r] = -np.inf
                else:
                    scores[r, c] = -np.inf


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
    (`_transposed_blocks`); k (B, S, E); v (B, S, Ev); bias, bias_strides: the bias as flat
    values and (B, L, S) element strides (`_flat_bias`; read only if has_bias); out
    (B, L, Ev) and lse (B, L), written in full (lse in natural-log units). All C-contiguous.
    FLOPs: 4 B L S E (about half when causal).
    """
    blocks = q2t.shape[1]
    for task in numba.prange(q2t.shape[0] * blocks):
        _forward_block(q2t, k, v, bias, bias_strides, has_bias, is_causal, task // blocks,
                       task % blocks, out, lse)


# -- backward -----------------------------------------------------------------------------------


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
    """dq, dk, dv, one task per head (`numba.prange` over B; why, in the module docstring).

    Args: q2t (B, ceil(L / NR), E, NR) and doutt (B, ceil(L / NR), Ev, NR): q scale log2 e
    and dO in blocks of NR queries, transposed; q_rows (B, L, E'), k_rows (B, S, E') and
    dout_rows (B, L, Ev'): q, k and dO with rows padded to a multiple of NR columns
    (E', Ev'); k (B, S, E); v (B, S, Ev); out (B, L, Ev); lse (B, L); bias, bias_strides: as
    in `_forward_blocks`; dq (B, L, E), dk (B, S, E), dv (B, S, Ev), written in full. All
    C-contiguous.
    FLOPs: 2 B L S (3 E + 2 Ev) (about half when causal), plus 2 B L Ev for D.
    """
    for b in numba.prange(q2t.shape[0]):
        _backward_head(q2t, q_rows, k, k_rows, v, dout_rows, doutt, out, lse, bias,
                       bias_strides, has_bias, is_causal, scale, b, dq, dk, dv)


# -- the public kernels: checks, layout, then one call ------------------------------------------

# Below this many multiply-adds (about a millisecond on one core) a call runs on one thread.
# Inside a training step a parallel region competes with OpenBLAS's worker threads, which
# spin for a while after every matrix product: with the flash kernels for the character
# GPT's attention (25M multiply-adds a call) a 2-thread training step took 110-133 ms in
# parallel and 75-79 ms on one thread, against 81-82 ms without them (`bench train`'s
# `measure("minigrad", "gpt", ...)`). The benchmark's shapes (268M at T = 256) run parallel.
SERIAL_BELOW = 2**26


def _threads_for(work: int):
    """One thread inside the block if `work` (multiply-adds) is below SERIAL_BELOW."""
    return serial_below(work, SERIAL_BELOW)  # read now: tests may change it


def _contiguous(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`a` as a C-contiguous, writable array of `dtype`: a copy only if it is not one already
    (writable, so that every call gives the kernels the same array types: one compilation)."""
    return np.require(a, dtype=dtype, requirements=("C", "W"))


def _check_shapes(op: str, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                  bias: np.ndarray | None) -> None:
    """Reject what would make the kernels read outside the arrays (Numba does not check)."""
    if q.ndim != 3 or k.ndim != 3 or v.ndim != 3:
        raise ValueError(f"{op}: expected 3-D q (B, L, E), k (B, S, E) and v (B, S, Ev), got "
                         f"shapes {q.shape}, {k.shape} and {v.shape}")
    if not q.shape[0] == k.shape[0] == v.shape[0]:
        raise ValueError(f"{op}: q, k and v must have the same number of heads B, got shapes "
                         f"{q.shape}, {k.shape} and {v.shape}")
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"{op}: q {q.shape} and k {k.shape} must have the same embedding "
                         f"size E: {q.shape[2]} != {k.shape[2]}")
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"{op}: k {k.shape} and v {v.shape} must have the same number of "
                         f"keys S: {k.shape[1]} != {v.shape[1]}")
    scores = (q.shape[0], q.shape[1], k.shape[1])
    if bias is not None:
        try:
            broadcasts = np.broadcast_shapes(bias.shape, scores) == scores
        except ValueError:
            broadcasts = False
        if not broadcasts:
            raise ValueError(f"{op}: bias of shape {bias.shape} does not broadcast to the "
                             f"scores' shape {scores}")


@numba.njit(parallel=True, cache=True)
def _transpose_blocks_kernel(x, scale, out):
    """out[b, j, d, i] = scale x[b, j block + i, d], 0 past T (block = out.shape[3])."""
    heads, length, dim = x.shape
    blocks, block = out.shape[1], out.shape[3]
    for task in numba.prange(heads * blocks):
        b, j = task // blocks, task % blocks
        for i in range(block):
            t = j * block + i
            for d in range(dim):
                out[b, j, d, i] = scale * x[b, t, d] if t < length else 0


def _transposed_blocks(x: np.ndarray, block: int, dtype: np.dtype,
                       scale: float = 1.0) -> np.ndarray:
    """(B, T, D) -> (B, ceil(T / block), D, block): rows j block.. j block + block - 1 of
    each head, times `scale`, transposed into one contiguous (D, block) tile, zero-padded
    past T. With block = NR, a query block's tile: the micro-kernel's B operand, one row per
    feature. (Plain x^T, (B, D, T), would not do: its rows lie T floats apart, 4 KB at
    T = 1024, so the D rows of a block would all fall into the same few sets of the L1
    cache.)"""
    heads, length, dim = x.shape
    out = np.empty((heads, -(-length // block), dim, block), dtype=dtype)
    _transpose_blocks_kernel(_contiguous(x, dtype), dtype.type(scale), out)
    return out


def _padded_rows(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(B, T, D) -> (B, T, ceil(D / NR) NR), zero-padded columns: a right operand whose rows
    are read NR numbers at a time. No copy when D is a multiple of NR and x already fits."""
    width = -(-x.shape[2] // NR) * NR
    if width == x.shape[2]:
        return _contiguous(x, dtype)
    padded = np.zeros(x.shape[:2] + (width,), dtype=dtype)
    padded[..., :x.shape[2]] = x
    return padded


def _flat_bias(bias: np.ndarray | None, dtype: np.dtype) -> tuple:
    """The bias as its own values, flat, and the element strides (sb, sl, ss) that index them
    as a (B, L, S) array: 0 along the axes it is broadcast along (also the axes of a
    broadcast view, which have stride 0: only one slice of them is kept).

    So the broadcast (B, L, S) array is never made, and the kernels see one array type for
    every bias shape and memory layout (each new type would compile them again).
    """
    if bias is None:
        return np.zeros(1, dtype=dtype), (0, 0, 0)
    bias = bias[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in bias.strides)]
    values = _contiguous(bias, dtype)
    padded = values.reshape((1,) * (3 - values.ndim) + values.shape)
    strides = tuple(0 if size == 1 else stride // values.itemsize
                    for size, stride in zip(padded.shape, padded.strides))
    return values.reshape(-1), strides


def flash_attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                            bias: np.ndarray | None, scale: float, is_causal: bool) -> tuple:
    """Attention in (Br, Bc) tiles with the online softmax; returns out and lse.

    Args:
        q: (B, L, E) float16, float32 or float64, any memory layout. k: (B, S, E).
        v: (B, S, Ev). bias: None or an additive mask broadcastable to (B, L, S).
        scale: multiplies q k^T. is_causal: query i sees keys 0..i only.

    Returns:
        out (B, L, Ev) of q's dtype, and lse (B, L) in the compute dtype (float32 for
        float16 and float32, float64 for float64): logsumexp of each query's scores, -inf
        for a fully masked row (whose output is 0).
        FLOPs: 4 B L S E (Ev = E), about half when causal. Memory traffic: q and out once,
        k and v once per query block (from L2 for a head of up to a few thousand keys).
        Extra memory: q scaled and transposed in tiles (B L E), and per task two tiles of
        (Bc + Ev) NR numbers: O(B T D), never O(T^2).
    """
    op = "flash_attention_forward"
    dtype = _compute_dtype(op, q.dtype)
    _check_shapes(op, q, k, v, bias)
    heads, length, dim = q.shape
    keys, value_dim = k.shape[1], v.shape[2]
    out = np.empty((heads, length, value_dim), dtype=dtype)
    lse = np.empty((heads, length), dtype=dtype)
    with _threads_for(heads * length * keys * (dim + value_dim)):
        _forward_blocks(_transposed_blocks(q, NR, dtype, scale * LOG2E), _contiguous(k, dtype),
                        _contiguous(v, dtype),
                        *_flat_bias(bias, dtype), bias is not None, bool(is_causal), out, lse)
    return out.astype(q.dtype, copy=False), lse


def flash_attention_backward(grad_out: np.ndarray, q: np.ndarray, k: np.ndarray,
                             v: np.ndarray, out: np.ndarray, lse: np.ndarray,
                             bias: np.ndarray | None, scale: float, is_causal: bool) -> tuple:
    """Gradients of `flash_attention_forward`, recomputing P tile by tile from lse.

    Args:
        grad_out: (B, L, Ev). q, k, v, bias, scale, is_causal: as in the forward.
        out: (B, L, Ev) and lse: (B, L), the forward's results.

    Returns:
        (dq (B, L, E), dk (B, S, E), dv (B, S, Ev)) of q's dtype. No gradient for the bias.
        Fully masked rows pass no gradient. FLOPs: 2 B L S (3 E + 2 Ev) = 2.5x the forward's,
        about half when causal. Extra memory: q and dO in transposed tiles, q, k and dO
        padded to a multiple of 64 columns (copies only if they are not), O(B T D); two
        (Bc, NR) tiles and two rows of L numbers per head.
    """
    op = "flash_attention_backward"
    dtype = _compute_dtype(op, q.dtype)
    _check_shapes(op, q, k, v, bias)
    heads, length, dim = q.shape
    keys, value_dim = k.shape[1], v.shape[2]
    if grad_out.shape != (heads, length, value_dim) or out.shape != grad_out.shape:
        raise ValueError(f"{op}: expected grad_out and out of shape {(heads, length, value_dim)}"
                         f", got {grad_out.shape} and {out.shape}")
    if lse.shape != (heads, length):
        raise ValueError(f"{op}: expected lse of shape {(heads, length)}, got {lse.shape}")
    dq = np.empty((heads, length, dim), dtype=dtype)
    dk = np.empty((heads, keys, dim), dtype=dtype)
    dv = np.empty((heads, keys, value_dim), dtype=dtype)
    with _threads_for(heads * length * keys * (3 * dim + 2 * value_dim)):
        _backward_heads(_transposed_blocks(q, NR, dtype, scale * LOG2E),
                        _padded_rows(q, dtype), _contiguous(k, dtype), _padded_rows(k, dtype),
                        _contiguous(v, dtype),
                        _padded_rows(grad_out, dtype), _transposed_blocks(grad_out, NR, dtype),
                        _contiguous(out, dtype), _contiguous(lse, dtype),
                        *_flat_bias(bias, dtype), bias is not None, bool(is_causal),
                        dtype.type(scale), dq, dk, dv)
    return tuple(g.astype(q.dtype, copy=False) for g in (dq, dk, dv))
