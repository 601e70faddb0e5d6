"""What a benchmark ran on: CPU, core count, vector instructions, library versions."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

import minigrad

# what sets the thread count of each library a benchmark runs: Numba's parallel kernels,
# OpenMP (PyTorch's intra-op pool), OpenBLAS and MKL (NumPy's BLAS); read when they load
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")

# the /proc/cpuinfo flags that decide how fast a kernel can be: vector width, FMA, int8 dots
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                "avx_vnni", "amx_int8")


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return f.readlines()
    except OSError:  # not Linux
        return []


def cpu_name() -> str | None:
    """The CPU model: Linux names it in /proc/cpuinfo; elsewhere platform.processor() may."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def cpu_vector_flags() -> list[str]:
    """Which of `VECTOR_FLAGS` this CPU has (empty where /proc/cpuinfo does not exist)."""
    for line in _cpuinfo():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in VECTOR_FLAGS if flag in flags]
    return []


def machine_info(torch=None) -> dict:
    """Platform, CPU, cores, vector flags and the versions of Python, NumPy, torch, minigrad."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_vector_flags(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "minigrad": minigrad.__version__,
    }
