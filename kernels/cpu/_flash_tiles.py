"""One tile of FlashAttention, as the forward and backward kernels of `kernels.cpu.attention`
share it (read that module's docstring first): the block sizes, the micro-kernel that
computes every product, the scores of a key block against a query tile, the bias and the
causal mask, and the exponential.

The products: one register-tiled micro-kernel. All seven (two forward, five backward) are
`_micro_kernel`: C[MR rows, NR columns] (+)= A B over a depth of E, Bc or Br, with the MR x NR
= 6 x 64 tile of C held in 24 of AVX-512's 32 zmm registers for the whole depth. Per depth
step it loads one row of B (4 vectors of 16 floats), broadcasts MR numbers of A and issues 24
fused multiply-adds: each loaded B vector is used 6 times, each A number 64 times (the BLIS
micro-kernel; the same construction, and the same register tile
(`kernels.cpu._register_tile`), as `kernels.cpu.matmul`, whose docstring has the details of
how LLVM is made to emit it). B is always a contiguous (depth, 64) array: a query block's
scaled q^T tile (q2t), P^T or dP^T tiles, or rows of q, k, dO padded to 64 columns. A is read
through two strides, A[i, p] = a[start + i row_stride + p depth_stride]: its MR numbers per
step are broadcast from memory anyway, so a transposed A (V^T, dS = (dS^T)^T) costs no copy.
Hence the orientation: the scores are computed transposed, S^T (Bc, Br) = K_j Q2_i^T, keys as
rows, queries as the 64 columns. Then P^T is the B operand of A^T = V_j^T P^T directly, and
the softmax statistics of a query are columns: max, exp and sum run along the rows of S^T
elementwise, 64 queries per vector loop, with no horizontal reduction anywhere.

Measured on one core of this machine (a 2-core AVX-512 Xeon VM), a 126 x 64 x 64 product
in L1: 145 GFLOP/s (`inspect_asm`: 24 vfmadd231ps on zmm, 4 vmovups, 6 vbroadcastss and no
stack access per step), against 60-70 for a dot-product form (C[r, c] = sum_t a[r, t]
b[c, t] as 16 scalar sums vectorised over t with `reassoc`: each output ends in a horizontal
reduction that costs as much as 6 of its 8 multiply-add vectors at depth 64).

exp: the probabilities are computed as 2^x with the scores premultiplied by log2(e) (the query
tiles are scaled by scale log2(e) once, O(T D), instead of every score): `_exp2` is a
polynomial with the exponent written into the float's bits. It vectorises, where `math.exp`
calls libm's scalar expf per element (this Numba has no SVML): 0.23 against 1.95 ns an element
on one core here, and a forward at T = 1024 needs 16.8 million of them per 32 heads.

Numba's on-disk cache does not notice edits to this file in the kernels that use it: delete
`kernels/cpu/__pycache__/*.nb[ic]` after changing it.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from kernels.cpu._register_tile import register_tile_of, store_tile

MR, NR = 6, 64  # the register tile: MR rows of NR columns (24 zmm registers in float32)
BLOCK_ROWS = NR  # Br: queries per block, the columns of S^T and of every tile
BLOCK_KEYS = 126  # Bc: keys per block, 21 panels of MR
LOG2E = 1.4426950408889634

# the micro-kernel's accumulators: a zeroed (MR, NR) array, in registers (in float64 too: 48
# zmm registers, which spill; see `kernels.cpu.attention`)
_register_tile = register_tile_of({4: (MR, NR), 8: (MR, NR)})

# -- exp as 2^x, vectorisable -------------------------------------------------------------------


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """The float32 whose bit pattern is the int32 `bits` (C's memcpy / LLVM's bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


def _exp2(x):
    """2 ** x (x <= 0 where the kernels call it). Plain Python under NUMBA_DISABLE_JIT."""
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
        store_tile(tile, c, c_row, c_col, MR, NR, accumulate)
    else:
        store_tile(tile, c, c_row, c_col, rows, cols, accumulate)


@numba.njit(cache=True)
def _scores_transposed(k, b, first_key, keys, q2t_tile, scores_t):
    """scores_t[:keys] = K_j Q2_i^T: keys first_key.. of head b against one query tile
    (E, NR), one micro-kernel per panel of MR keys (rows of k). FLOPs: 2 keys NR E."""
    dim = k.shape[2]
    k_flat = k.reshape(-1)
    for panel in range(0, keys, MR):
        _micro_kernel(k_flat, (b * k.shape[1] + first_key + panel) * dim, dim, 1, q2t_tile, 0,
                      NR, dim, scores_t, panel, 0, min(MR, keys - panel), NR, False)


# -- the bias and the causal mask ------------------------------------------------------------


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
