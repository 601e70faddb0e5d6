"""Benchmark rows of the matmul progression: naive, ikj, blocked, parallel, and batched.

Shapes: square float32 products of side 256, 1024 and 2048 (the issue's), each step of
`kernels.cpu.matmul` on the sizes it finishes in reasonable time: the naive loop at 256 only
(at 1024 it would take minutes), the ikj loop at 256 and 1024 (about 0.2 s a call), the
blocked and parallel kernels at all three. Plus one batched row: 32 products of 128 x 128 x
128 (a GPT's attention heads: batch x heads = 32, 128 tokens, head width 128).

Unit: GFLOP/s = 2 M N K / time. Columns: "ours" is the step's kernel, "blas" NumPy's matmul
(OpenBLAS sgemm, the kernels' reference), "torch" `torch.matmul` (PyTorch's CPU GEMM). BLAS
and PyTorch run on the threads the harness gives the process; so do "parallel" and
"batched", while "naive", "ikj" and "blocked" always run on one thread (`ours_threads` in
the row says which).
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.cpu import matmul as cpu
from minigrad.cli.kernel_bench.timing import best_ms, row

try:
    import torch
except ImportError:
    torch = None

STEPS = {"naive": cpu.matmul_naive, "ikj": cpu.matmul_ikj, "blocked": cpu.matmul_blocked,
         "parallel": cpu.matmul}
SERIAL_STEPS = ("naive", "ikj", "blocked")
FULL_SIZES = {256: ("naive", "ikj", "blocked", "parallel"), 1024: ("ikj", "blocked", "parallel"),
              2048: ("blocked", "parallel")}
QUICK_SIZES = {64: ("naive", "ikj", "blocked", "parallel")}
FULL_BATCH, QUICK_BATCH = (32, 128, 128, 128), (4, 32, 32, 32)


def _others(a: np.ndarray, b: np.ndarray, repeat: int) -> dict:
    """Milliseconds of BLAS and PyTorch (None without it) for a @ b."""
    ms = {"blas": best_ms(lambda: np.matmul(a, b), repeat), "torch": None}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ms["torch"] = best_ms(lambda: torch.matmul(ta, tb), repeat)
    return ms


def _square_rows(side: int, steps: tuple, rng: np.random.Generator, repeat: int) -> list:
    a = rng.uniform(-1, 1, (side, side)).astype(np.float32)
    b = rng.uniform(-1, 1, (side, side)).astype(np.float32)
    others = _others(a, b, repeat)
    rows = []
    for step in steps:
        kernel = STEPS[step]
        ms = {"ours": best_ms(lambda kernel=kernel: kernel(a, b), repeat), **others}
        threads = 1 if step in SERIAL_STEPS else numba.get_num_threads()
        rows.append(row("matmul", step, f"{side}x{side}x{side}", "float32", "forward",
                        "GFLOP/s", 2.0 * side ** 3, ms, ours_threads=threads))
    return rows


def _batched_row(shape: tuple, rng: np.random.Generator, repeat: int) -> dict:
    batch, m, k, n = shape
    a = rng.uniform(-1, 1, (batch, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (batch, k, n)).astype(np.float32)
    ms = {"ours": best_ms(lambda: cpu.batched_matmul(a, b), repeat), **_others(a, b, repeat)}
    return row("matmul", "batched", f"B{batch} {m}x{k}x{n}", "float32", "forward", "GFLOP/s",
               2.0 * batch * m * n * k, ms, ours_threads=numba.get_num_threads())


def rows(quick: bool, repeat: int) -> list[dict]:
    """The matmul rows: every step at every size it runs at, then the batched row.

    Args:
        quick: tiny shapes (a 64^3 product, 4 x 32^3 batched): a smoke test, not a measurement.
        repeat: measurements per implementation (the best is kept).
    """
    rng = np.random.default_rng(0)
    sizes, batched = (QUICK_SIZES, QUICK_BATCH) if quick else (FULL_SIZES, FULL_BATCH)
    result = []
    for side, steps in sizes.items():
        result += _square_rows(side, steps, rng, repeat)
    result.append(_batched_row(batched, rng, repeat))
    return result
