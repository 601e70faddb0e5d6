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

The products (two in the forward, five in the backward) are all one register-tiled
micro-kernel, and the scores are computed transposed, S^T (Bc, Br) = K_j Q2_i^T with keys as
rows and queries as the 64 columns, so that the softmax statistics of a query are columns,
updated 64 queries per vector instruction. How and why, with the exponential computed as
2^x: `kernels.cpu._flash_tiles`. The forward's kernels are in `kernels.cpu._flash_forward`,
the backward's in `kernels.cpu._flash_backward`; this module checks the arguments, prepares
the layouts they read (q in transposed tiles, rows padded to 64 columns, the bias as strides)
and calls them.

Tiling and cache (float32, D = 64): the q2t tile (16 KB) is reused by every key panel of a
block, S^T/P^T (Bc x 64, 32 KB) by every value panel; k and v blocks (32 KB each) stream
from the 2 MB L2, where a head's k and v (and in the backward q, dO and their tiles) stay
during its walk. Bc = 126 = 21 panels of MR = 6 keys: no partial panel inside a sequence.
(Br = Bc = 64, and Bc = 192, measured within noise of 126.)

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
machine) and caches them next to their modules (`cache=True`); from the cache, 0.4 s. The
cache does not notice edits to the modules a kernel imports: after changing one of the
`_flash_*.py` files or `_register_tile.py`, delete `kernels/cpu/__pycache__/*.nb[ic]`.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.cpu._flash_backward import _backward_heads
from kernels.cpu._flash_forward import _forward_blocks
from kernels.cpu._flash_tiles import LOG2E, NR
from kernels.cpu._layout import compute_dtype
from kernels.cpu._threads import serial_below

__all__ = ["flash_attention_backward", "flash_attention_forward"]


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
    dtype = compute_dtype(op, q.dtype)
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
    dtype = compute_dtype(op, q.dtype)
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
