# %% [markdown]
# # 05 - Flash attention: attention without the T x T matrix
#
# Attention computes softmax(Q K^T / sqrt(E)) V. Written as NumPy, it materialises the
# (T, T) matrix of scores for every head: at T = 2048 with 32 heads that is 512 MB of
# float32, for one layer, and the backward keeps it and makes more of the same size.
# FlashAttention (Dao et al. 2022; FlashAttention-2, Dao 2023) computes the same numbers in
# tiles that fit in cache and never stores the matrix; its memory grows like T, not T^2.
# The trick that makes this possible is the *online softmax*: a softmax computed in one
# pass over a row, chunk by chunk.
#
# 1. the softmax, and why it subtracts the maximum;
# 2. the online softmax, derived step by step in NumPy;
# 3. attention for one query in chunks of keys, then in tiles: flash attention in NumPy;
# 4. the backward recomputes the weights from one number per query, the log-sum-exp;
# 5. the Numba kernel (`kernels/cpu/attention.py`): time against the NumPy reference;
# 6. peak memory against T: linear, against the reference's quadratic;
# 7. `scaled_dot_product_attention` uses it under the "numba" backend.
#
# `MINIGRAD_FAST=1` uses small sizes (CI); comments quote a full run on the 2-core machine
# the docs describe (docs/concepts/kernels/attention.md).

# %%
import math
import os
import time

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from kernels import reference
from kernels.cpu import attention as flash
from minigrad.cli.kernel_bench.attention import peak_mb_in_subprocess

FAST = os.environ.get("MINIGRAD_FAST", "0") not in ("", "0")
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The softmax and its maximum
#
# softmax(x)_j = e^{x_j} / sum_k e^{x_k}. In float32, e^x overflows to inf for x > 88, so
# every implementation subtracts the row maximum m first: e^{x_j - m} / sum_k e^{x_k - m}
# is the same number (the e^{-m} cancels), and now every exponent is <= 0.

# %%
x = np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)
with np.errstate(over="ignore", invalid="ignore"):
    print("naive:", np.exp(x) / np.exp(x).sum())
print("safe: ", np.exp(x - x.max()) / np.exp(x - x.max()).sum())

# %% [markdown]
# ## 2. The online softmax
#
# The safe softmax needs the maximum before the first exponential: two passes over the row.
# The online softmax (Milakov & Gimelshein 2018) does it in one, chunk by chunk, keeping a
# running maximum m and a running sum l = sum of e^{x_k - m} over the chunks seen so far.
# When a chunk raises the maximum from m to m', every term already in l was computed
# against the old maximum, and e^{x - m} = e^{x - m'} e^{m' - m}: so l is rescaled by
# e^{m - m'} and the new chunk's terms are added:
#
#     m' = max(m, max(chunk))
#     l' = l e^{m - m'} + sum_{x in chunk} e^{x - m'}
#
# After the last chunk, m is the row maximum and l the softmax's denominator; log l + m is
# the log-sum-exp of the row.

# %%
row = rng.standard_normal(1000).astype(np.float64) * 3
m, l = -np.inf, 0.0
for chunk in np.split(row, 10):
    m_new = max(m, chunk.max())
    l = l * np.exp(m - m_new) + np.exp(chunk - m_new).sum()
    m = m_new
print(f"online: max {m:.6f}, log-sum-exp {m + np.log(l):.12f}")
print(f"direct: max {row.max():.6f}, log-sum-exp {np.log(np.exp(row).sum()):.12f}")

# %% [markdown]
# ## 3. Attention in chunks, then in tiles
#
# Attention needs more than the denominator: out = sum_j p_j v_j, the weighted average of
# the value rows. The same rescaling works for it. Keep an unnormalised accumulator
# a = sum_j e^{s_j - m} v_j; when the maximum moves, a is rescaled by e^{m - m'} like l, and
# at the end out = a / l. One query, keys in chunks of 64:

# %%
L, S, E = (128, 256, 16) if FAST else (512, 1024, 64)
scale = 1 / math.sqrt(E)
q = rng.standard_normal((L, E))
k = rng.standard_normal((S, E))
v = rng.standard_normal((S, E))

query = q[0]
m, l, a = -np.inf, 0.0, np.zeros(E)
for j in range(0, S, 64):
    s = k[j:j + 64] @ query * scale                 # 64 scores
    m_new = max(m, s.max())
    p = np.exp(s - m_new)
    l = l * np.exp(m - m_new) + p.sum()
    a = a * np.exp(m - m_new) + p @ v[j:j + 64]     # rescale, then add this chunk's values
    m = m_new
full = reference.attention_forward(q[:1], k, v, None, scale, None)[0][0]
print("one query in chunks vs the full softmax: max difference",
      np.abs(a / l - full).max())

# %% [markdown]
# FlashAttention does this for a block of Br queries at once, against blocks of Bc keys:
# the scores S_ij = Q_i K_j^T scale form a (Br, Bc) tile, small enough for the L1 cache,
# and m, l and the accumulator become vectors of Br running values. This is Algorithm 1
# of FlashAttention-2 in NumPy; nothing of size (L, S) is ever made:

# %%


def flash_forward_numpy(q, k, v, scale, block_rows=64, block_keys=64):
    """out (L, Ev) and lse (L,), in (block_rows, block_keys) tiles."""
    out = np.empty((q.shape[0], v.shape[1]))
    lse = np.empty(q.shape[0])
    for i in range(0, q.shape[0], block_rows):
        q_i = q[i:i + block_rows]
        m = np.full(len(q_i), -np.inf)
        l = np.zeros(len(q_i))
        acc = np.zeros((len(q_i), v.shape[1]))
        for j in range(0, k.shape[0], block_keys):
            s = q_i @ k[j:j + block_keys].T * scale            # (Br, Bc): the only tile
            m_new = np.maximum(m, s.max(axis=1))
            p = np.exp(s - m_new[:, None])
            rescale = np.exp(m - m_new)
            l = l * rescale + p.sum(axis=1)
            acc = acc * rescale[:, None] + p @ v[j:j + block_keys]
            m = m_new
        out[i:i + block_rows] = acc / l[:, None]
        lse[i:i + block_rows] = m + np.log(l)
    return out, lse


out_tiles, lse_tiles = flash_forward_numpy(q, k, v, scale)
out_ref, lse_ref = reference.flash_attention_forward(q[None], k[None], v[None], None, scale,
                                                     False)
print("tiled NumPy vs the reference: out", np.abs(out_tiles - out_ref[0]).max(),
      " lse", np.abs(lse_tiles - lse_ref[0]).max())

# %% [markdown]
# ## 4. The backward: recompute, do not store
#
# The backward needs the weights P again (dV = P^T dO, dS = P o (dP - D), ...). Instead of
# keeping the (L, S) matrix from the forward, flash attention keeps one number per query,
# its log-sum-exp lse_i = m_i + log l_i, and recomputes any tile of weights as
# P_ij = exp(S_ij - lse_i): one more product Q_i K_j^T per tile, in exchange for O(L) memory
# instead of O(L S). The gradients D = rowsum(dO o out) (which equals rowsum(dP o P), since
# out = P V) need no weights either.

# %%
s = q @ k.T * scale
weights = np.exp(s - lse_ref[0][:, None])
print("weights recomputed from lse: rows sum to", weights.sum(axis=1)[:3], "...")

# %% [markdown]
# ## 5. The Numba kernel
#
# `kernels/cpu/attention.py` is FlashAttention-2 on the CPU: one task per (head, block of 64
# queries), `numba.prange` over them, key blocks above the causal diagonal skipped, every
# product a 6 x 64 register-tiled micro-kernel, the exponentials a vectorised polynomial for
# 2^x. Same arguments as the reference: q (B, L, E) with B = batch x heads, k, v, an optional
# additive bias, the scale, and is_causal. A full run (B = 32 heads, T = 1024, D = 64, 2
# threads) printed: flash 26.6 ms (161.6 GFLOP/s), NumPy reference 189.3 ms: 7.1x. The docs
# page has the table against PyTorch (about 1.1x its speed when causal).

# %%
B, T, D = (4, 256, 32) if FAST else (32, 1024, 64)
qb, kb, vb = (rng.standard_normal((B, T, D)).astype(np.float32) for _ in range(3))
scale = 1 / math.sqrt(D)
out, lse = flash.flash_attention_forward(qb, kb, vb, None, scale, True)  # compiles, or loads
expected, _ = reference.flash_attention_forward(qb, kb, vb, None, scale, True)
print("kernel vs reference: max difference", np.abs(out - expected).max())


def best_ms(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


causal_bias = np.where(np.tril(np.ones((T, T), dtype=bool)), 0, -np.inf).astype(np.float32)
ours = best_ms(lambda: flash.flash_attention_forward(qb, kb, vb, None, scale, True))
numpy = best_ms(lambda: reference.attention_forward(qb, kb, vb, causal_bias, scale, None))
flops = 4 * B * T * T * D / 2
print(f"causal forward, B={B} T={T} D={D}: flash {ours:.1f} ms ({flops / ours / 1e6:.1f} "
      f"GFLOP/s), NumPy reference {numpy:.1f} ms: {numpy / ours:.1f}x")

# %% [markdown]
# ## 6. Memory against T
#
# Each measurement runs in a fresh Python process: load the code, make the inputs, reset
# the kernel's record of the process's peak resident memory, run one forward, read the peak
# back (`minigrad.cli.kernel_bench.attention.peak_growth_mb`). That counts every allocation,
# NumPy's and those made inside the Numba kernel. Doubling T doubles what the flash kernel
# adds (its copies of q and its output, O(T D)) and quadruples what the reference adds
# (the scores, O(T^2)). A full run (32 heads, D = 64, causal forward) printed, in MB:
#
#     T       flash   reference
#     256       3.9        16.2
#     512       7.9        64.3
#     1024     16.0       256.5
#     2048     32.1      1024.8
#
# The flash kernel's 2 B T D numbers: q scaled and transposed in tiles, and the output.

# %%
lengths = (256, 512) if FAST else (256, 512, 1024, 2048)
heads = 4 if FAST else 32
print(f"{'T':>6} {'flash MB':>9} {'reference MB':>13}")
for length in lengths:
    grown = [peak_mb_in_subprocess(impl, 1, heads, length, 64, True, "forward")
             for impl in ("ours", "numpy")]
    print(f"{length:>6} {grown[0]:>9.1f} {grown[1]:>13.1f}")

# %% [markdown]
# ## 7. In a model
#
# `F.scaled_dot_product_attention` runs the flash kernels when the backend runs the Numba
# kernels (`mg.use_backend("numba")` or `MINIGRAD_BACKEND=numba`), there is no dropout, and
# the mask needs no gradient; otherwise it materialises the weights as before. Values and
# gradients agree with the NumPy path to float32 rounding.

# %%
shape = (2, 4, 96, 32)
tensors = [mg.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
           for _ in range(3)]
results = {}
for backend in ("numpy", "numba"):
    for t in tensors:
        t.grad = None
    with mg.use_backend(backend):
        y = F.scaled_dot_product_attention(*tensors, is_causal=True)
        y.sum().backward()
    results[backend] = [y.data] + [t.grad.data for t in tensors]
    print(f"{backend}: {type(y.grad_fn).__name__}")
print("numba vs numpy, out and grads:",
      [f"{np.abs(a - b).max():.1e}" for a, b in zip(results["numba"], results["numpy"])])
