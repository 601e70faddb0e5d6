"""Attention rows of `minigrad bench kernels`: the flash kernels against the materialising
NumPy reference and PyTorch's `scaled_dot_product_attention`, with the peak memory of each.

Shapes (the issue's): B = 4, H = 8, T in {256, 1024, 2048}, D = 64, float32, causal and
not, forward and forward+backward. Implementations:

- ours: `kernels.cpu.attention.flash_attention_forward` (and `_backward`), called directly on
  (B H, T, D) arrays;
- numpy: `kernels.reference.attention_forward/backward`, which materialise the (T, T)
  weights of every head (the causal mask as an additive (T, T) bias); skipped where that
  needs more than `NUMPY_LIMIT_BYTES`;
- torch: `torch.nn.functional.scaled_dot_product_attention` on (B, H, T, D) tensors, the
  backward by autograd (when PyTorch is installed).

FLOPs, as FlashAttention's own benchmarks count them (Dao 2023): forward 4 B H T^2 D, half
of it when causal; forward+backward 3.5x the forward (the backward's five products are 2.5x
the forward's two). The count is the same for every implementation, so the throughputs
compare times; a causal kernel that computes the masked half anyway is not credited for it.

Peak memory: each (implementation, shape, pass) runs once more in a fresh Python process,
which loads the code and makes the inputs, then resets the kernel's record of the process's
peak resident set (`/proc/self/clear_refs`, Linux) and reads it back after the call
(`VmHWM`): the growth over the inputs, in MB. That sees every allocation, NumPy's, those
made inside the Numba kernels and PyTorch's, which `tracemalloc` would not. Elsewhere the
growth of `resource.getrusage().ru_maxrss` over the inputs stands in (it cannot be reset,
so it misses a call that peaks below what loading the code took).
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys

import numpy as np

from kernels import reference
from kernels.cpu import attention as flash
from minigrad.cli.kernel_bench.timing import best_ms, row

try:
    import torch
except ImportError:
    torch = None

FULL = {"batch": 4, "heads": 8, "lengths": (256, 1024, 2048), "dim": 64}
QUICK = {"batch": 1, "heads": 2, "lengths": (64, 128), "dim": 16}
NUMPY_LIMIT_BYTES = 4e9  # the materialising reference is skipped above this
IMPLEMENTATIONS = ("ours", "numpy", "torch")


def attention_flops(batch: int, heads: int, length: int, dim: int, causal: bool,
                    direction: str) -> float:
    """FLOPs of one call in FlashAttention's accounting (see the module docstring)."""
    forward = 4 * batch * heads * length * length * dim / (2 if causal else 1)
    return forward if direction == "forward" else 3.5 * forward


def numpy_bytes(batch: int, heads: int, length: int, direction: str) -> float:
    """What the materialising reference holds at its peak: (T, T) float32 arrays per head,
    about 2 in the forward (scores, then scores + bias) and 5 with the backward (the weights
    kept for it, dP, dS and the transposed copies matmul makes)."""
    return (2 if direction == "forward" else 5) * batch * heads * length * length * 4


def _inputs(batch: int, heads: int, length: int, dim: int) -> tuple:
    rng = np.random.default_rng(0)
    # made in float32 directly: a float64 temporary, freed, would stay in the heap and let
    # the measured call reuse it without growing the resident set
    return tuple(rng.standard_normal((batch * heads, length, dim), dtype=np.float32)
                 for _ in range(4))


def make_call(impl: str, batch: int, heads: int, length: int, dim: int, causal: bool,
              direction: str):
    """A function of no arguments that runs one (forward or forward+backward) call of `impl`
    on inputs made here (q, k, v and the output gradient, (B H, T, D) float32)."""
    q, k, v, grad = _inputs(batch, heads, length, dim)
    scale = 1 / math.sqrt(dim)
    backward = direction == "forward+backward"
    if impl == "ours":
        def call():
            out, lse = flash.flash_attention_forward(q, k, v, None, scale, causal)
            if backward:
                flash.flash_attention_backward(grad, q, k, v, out, lse, None, scale, causal)
        return call
    if impl == "numpy":
        bias = (np.where(np.tril(np.ones((length, length), dtype=bool)), 0, -np.inf)
                .astype(np.float32) if causal else None)

        def call():
            _, probs = reference.attention_forward(q, k, v, bias, scale, None)
            if backward:
                reference.attention_backward(grad, q, k, v, probs, scale, None)
        return call
    shape = (batch, heads, length, dim)
    tq, tk, tv = (torch.from_numpy(a).reshape(shape).requires_grad_(backward)
                  for a in (q, k, v))
    tgrad = torch.from_numpy(grad).reshape(shape)

    def call():
        with torch.set_grad_enabled(backward):
            out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv,
                                                                   is_causal=causal)
            if backward:
                out.backward(tgrad)
                tq.grad = tk.grad = tv.grad = None
    return call


def _resident_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"bench kernels: no {field} in /proc/self/status")


def peak_growth_mb(call) -> float:
    """MB by which one `call()` raises the process's peak resident set (see the module
    docstring for how)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM to the current resident set
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        call()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    before = _resident_mb("VmRSS")
    call()
    return _resident_mb("VmHWM") - before


def _memory_worker(job: dict) -> float:
    """Run in a fresh process: load the code on a tiny call, then measure one real call."""
    make_call(job["impl"], 1, 1, 8, job["dim"], job["causal"], job["direction"])()
    call = make_call(job["impl"], job["batch"], job["heads"], job["length"], job["dim"],
                     job["causal"], job["direction"])
    return peak_growth_mb(call)


def peak_mb_in_subprocess(impl: str, batch: int, heads: int, length: int, dim: int,
                          causal: bool, direction: str) -> float:
    """`peak_growth_mb` of one call, measured in a fresh Python process."""
    job = {"impl": impl, "batch": batch, "heads": heads, "length": length, "dim": dim,
           "causal": causal, "direction": direction}
    done = subprocess.run([sys.executable, "-m", "minigrad.cli.kernel_bench.attention",
                           json.dumps(job)], capture_output=True, text=True, check=False,
                          env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"bench kernels: the attention memory worker failed for {job} "
                           f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def rows(quick: bool, repeat: int) -> list[dict]:
    """One row per (T, causal, pass): the time and peak memory growth of each
    implementation. quick: tiny shapes, and memory measured in this process rather than a
    fresh one per call (a smoke test of the pipeline, seconds; its memory is not meaningful).
    """
    shapes = QUICK if quick else FULL
    batch, heads, dim = shapes["batch"], shapes["heads"], shapes["dim"]
    implementations = [impl for impl in IMPLEMENTATIONS if impl != "torch" or torch is not None]
    result = []
    for length in shapes["lengths"]:
        for direction in ("forward", "forward+backward"):
            for causal in (False, True):
                ms, peak = {}, {}
                for impl in implementations:
                    if (impl == "numpy"
                            and numpy_bytes(batch, heads, length, direction) > NUMPY_LIMIT_BYTES):
                        continue
                    ms[impl] = best_ms(make_call(impl, batch, heads, length, dim, causal,
                                                 direction), repeat)
                    peak[impl] = (peak_growth_mb(make_call(impl, batch, heads, length, dim,
                                                           causal, direction)) if quick
                                  else peak_mb_in_subprocess(impl, batch, heads, length, dim,
                                                             causal, direction))
                result.append(row(
                    "attention", "flash", f"B{batch} H{heads} T{length} D{dim}"
                    + (" causal" if causal else ""), "float32", direction, "GFLOP/s",
                    attention_flops(batch, heads, length, dim, causal, direction), ms,
                    peak_mb=peak, length=length, causal=causal))
    return result


if __name__ == "__main__":
    print(_memory_worker(json.loads(sys.argv[1])))
