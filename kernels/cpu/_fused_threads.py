"""When the fused kernels (`kernels.cpu.fused`) stay on one thread."""

from __future__ import annotations

from kernels.cpu._threads import serial_below

# Below this many elements (4 MB of float32) a call runs on one thread. Such a call takes
# under a millisecond on one core (a GPT-sized (2048, 384) GELU: 0.6 ms), so two threads
# could save at most a few hundred microseconds, and inside a training step a parallel region
# competes with OpenBLAS's worker threads, which keep spinning for a while after each GEMM
# (as Numba's own do after each region). On the 2-core machine, with other jobs running, the
# character GPT's 2-thread step was fastest with this threshold: 374-949 ms against 590-1240
# at 2^16 elements and 510-1050 without the fused kernels (3 interleaved runs each).
SERIAL_BELOW = 1 << 20


def threads_for(elements: int):
    """Run the block on one Numba thread when `elements` is below `SERIAL_BELOW`."""
    return serial_below(elements, SERIAL_BELOW)  # read now: tests may change it
