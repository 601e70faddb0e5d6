"""Benchmark rows of the machine's memory bandwidth: the roof of every memory-bound kernel.

The roofline (see docs/concepts/kernels/index.md) needs two numbers of the machine: the
peak arithmetic rate, which the matmul rows give (OpenBLAS's sgemm is as close to the
peak as code gets), and the memory bandwidth, which this family measures with the STREAM
benchmark's triad (McCalpin, 1995):

    a[i] = b[i] + s * c[i]        12 bytes moved per float32 element (2 reads, 1 write)

on arrays of `ELEMENTS` float32 (3 x 128 MB, far beyond any cache), so every byte comes from
DRAM. Columns: "ours" is a Numba `prange` loop (one contiguous slice per thread, the loop LLVM
vectorises), "numpy" the same triad in two NumPy calls (`np.multiply(c, s, out=a)`, then
`np.add(a, b, out=a)`), which moves 20 bytes per element, not 12, and runs on one thread: the
price of not fusing. Both are charged the 12 bytes of the fused loop, so the column compares
speeds. The unit is GB/s; the write of `a` is counted once (the write-allocate read of `a`
that some CPUs add is not).
"""

from __future__ import annotations

import numba
import numpy as np

from minigrad.cli.kernel_bench.timing import best_ms, row

ELEMENTS = 32 * 2**20
QUICK_ELEMENTS = 2**20
SCALAR = np.float32(3.0)
BYTES_PER_ELEMENT = 3 * 4


@numba.njit(parallel=True, cache=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def _numpy_triad(a, b, c, s):
    np.multiply(c, s, out=a)
    np.add(a, b, out=a)


def rows(quick: bool, repeat: int) -> list[dict]:
    """One row: the STREAM triad's bandwidth, Numba (all threads) and NumPy."""
    n = QUICK_ELEMENTS if quick else ELEMENTS
    b = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    c = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    a = np.empty_like(b)
    _triad(a, b, c, SCALAR)
    expected = b + SCALAR * c
    if not np.allclose(a, expected, rtol=1e-6, atol=1e-6):
        raise AssertionError("memory bench: the Numba triad disagrees with NumPy")
    ms = {"ours": best_ms(lambda: _triad(a, b, c, SCALAR), repeat),
          "numpy": best_ms(lambda: _numpy_triad(a, b, c, SCALAR), repeat)}
    return [row("memory", "stream_triad", f"{n}", "float32", "forward", "GB/s",
                float(BYTES_PER_ELEMENT * n), ms)]


def roofline(rows_: list[dict]) -> dict[int, dict]:
    """Per thread count: peak GFLOP/s (best OpenBLAS sgemm row), memory GB/s (best triad)
    and the ridge point, peak / bandwidth in FLOPs per byte: a kernel with fewer FLOPs per byte
    than this is limited by memory, one with more by arithmetic."""
    result: dict[int, dict] = {}
    for threads in sorted({r["threads"] for r in rows_}):
        mine = [r for r in rows_ if r["threads"] == threads]
        peak = max((r["throughput"]["blas"] for r in mine
                    if r["family"] == "matmul" and "blas" in r["throughput"]), default=None)
        bandwidth = max((r["throughput"]["ours"] for r in mine if r["family"] == "memory"),
                        default=None)
        entry = {"peak_gflops": peak, "bandwidth_gbs": bandwidth}
        if peak is not None and bandwidth is not None:
            entry["ridge_flops_per_byte"] = peak / bandwidth
        result[threads] = entry
    return result
