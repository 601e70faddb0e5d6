"""Latency and throughput: how long one call takes, and how much work gets done per second.

Latency is a distribution, not a number: caches, the allocator, the OS and other processes
make repeated calls differ. So `measure_latency` runs warm-up calls first (first calls pay
for caches, lazy imports and JIT compilation), then times each of `repeat` calls on its own
with `time.perf_counter` and reports percentiles. The median (p50) is the typical call; the
95th percentile (p95) is the slow tail a user of a service notices.

Throughput is work per second: samples (or tokens) per call divided by the latency per call.
Batching raises it (fixed per-call overheads are shared) while making each call, and so each
request's latency, longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency statistics, in seconds.

    Attributes:
        p50: median. p95: 95th percentile (linear interpolation, NumPy's default).
        mean, min, max: over the timed calls.
        repeat: number of timed calls. warmup: number of untimed calls before them.
        samples: every timed call's seconds, in order.
    """

    p50: float
    p95: float
    mean: float
    min: float
    max: float
    repeat: int
    warmup: int
    samples: tuple

    def to_dict(self) -> dict:
        return {"p50_s": self.p50, "p95_s": self.p95, "mean_s": self.mean, "min_s": self.min,
                "max_s": self.max, "repeat": self.repeat, "warmup": self.warmup}


def measure_latency(fn: Callable[[], object], warmup: int = 3, repeat: int = 20) -> LatencyStats:
    """Time `fn()` `repeat` times, after `warmup` untimed calls.

    Args:
        fn: a callable taking no arguments (wrap arguments with a lambda).
        warmup: calls made before timing starts (>= 0).
        repeat: timed calls (>= 1).

    Returns:
        LatencyStats in seconds.

    Raises:
        ValueError: warmup < 0 or repeat < 1.
    """
    if warmup < 0 or repeat < 1:
        raise ValueError(f"measure_latency: need warmup >= 0 and repeat >= 1, got warmup={warmup}"
                         f" and repeat={repeat}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    seconds = np.array(samples)
    p50, p95 = np.percentile(seconds, [50, 95])
    return LatencyStats(p50=float(p50), p95=float(p95), mean=float(seconds.mean()),
                        min=float(seconds.min()), max=float(seconds.max()), repeat=repeat,
                        warmup=warmup, samples=tuple(samples))


def throughput(samples_or_tokens: float, latency: float | LatencyStats) -> float:
    """Items per second: `samples_or_tokens` processed per call, over the latency of a call.

    Args:
        samples_or_tokens: work done by one call (batch size, or batch size x sequence
            length for tokens).
        latency: seconds per call, or LatencyStats (its median, p50, is used).

    Returns:
        Items per second.

    Raises:
        ValueError: a latency that is not positive.
    """
    seconds = latency.p50 if isinstance(latency, LatencyStats) else float(latency)
    if seconds <= 0:
        raise ValueError(f"throughput: latency must be positive, got {seconds} s")
    return samples_or_tokens / seconds
