"""How `minigrad bench kernels` times a call and what one result row holds.

Timing: one untimed call first (it compiles a Numba kernel, fills caches, faults in pages),
then `repeat` measurements, each of as many back-to-back calls as fill at least
`MIN_SECONDS`, and the best measurement's time per call. The best, not the mean: on a
shared machine noise only ever adds time, so the minimum is the closest estimate of what the
code costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_SECONDS = 0.02


def best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    """Milliseconds per call of `fn()`: the best of `repeat` measurements after a warm-up.

    Args:
        fn: a function of no arguments (close over the inputs; allocate them outside).
        repeat: number of measurements, at least 1.

    Returns:
        time per call in milliseconds.
    """
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    number = max(1, int(MIN_SECONDS / max(once, 1e-9)))
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e3


def row(family: str, kernel: str, shape: str, dtype: str, direction: str, unit: str,
        work: float, ms: dict, **extra) -> dict:
    """One result row of the kernel benchmark.

    Args:
        family: "matmul", "attention", "depthwise", "int8" or "fused".
        kernel: which implementation of ours, e.g. "naive", "blocked", "flash".
        shape: the problem size as text, e.g. "1024x1024x1024" or "B4 H8 T1024 D64 causal".
        dtype: e.g. "float32", "int8".
        direction: "forward" or "forward+backward".
        unit: "GFLOP/s", "GOP/s" or "GB/s": what `work` divided by the time gives, in 1e9.
        work: FLOPs (or integer ops, or bytes moved) of one call.
        ms: milliseconds per call by implementation: "ours" and any of "numpy" (the NumPy
            reference kernel), "blas" (OpenBLAS through NumPy) and "torch" (PyTorch CPU);
            None for one not run.
        **extra: further fields, e.g. peak_mb={"ours": ..., "numpy": ..., "torch": ...}.

    Returns:
        the row as a dict: the fields above, the throughput of each implementation in `unit`,
        and `speedup_vs_<impl>` = that implementation's time / ours (above 1: ours is faster).
    """
    ms = {name: value for name, value in ms.items() if value is not None}
    throughput = {name: work / (value * 1e-3) / 1e9 for name, value in ms.items()}
    speedups = {f"speedup_vs_{name}": value / ms["ours"]
                for name, value in ms.items() if name != "ours"}
    return {"family": family, "kernel": kernel, "shape": shape, "dtype": dtype,
            "direction": direction, "unit": unit, "work": work, "ms": ms,
            "throughput": throughput, **speedups, **extra}
