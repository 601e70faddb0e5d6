# %% [markdown]
# # 04 - Kernels: matrix multiplication, from a triple loop to BLAS speed
#
# Almost every FLOP a neural network spends is in a matrix product: `Linear` layers,
# attention, convolutions lowered to im2col. This tutorial writes the product
# C = A B (A: M x K, B: K x N, 2 M N K FLOPs) four times in Numba, each step one idea, and
# measures what each idea buys, in GFLOP/s, next to OpenBLAS (what NumPy calls) and the
# machine's peak. The kernels are `kernels/cpu/matmul.py`; its docstring and
# docs/concepts/kernels/matmul.md go deeper.
#
# 1. the machine: peak FLOP/s and memory bandwidth (the roofline);
# 2. the naive i-j-k loop;
# 3. loop order i-k-j: a contiguous inner loop, which LLVM vectorises;
# 4. blocking, packing and a register tile: the BLIS design;
# 5. all cores, and the kernel inside minigrad (`MINIGRAD_BACKEND=numba`).
#
# Run it as a script (`python tutorials/04_kernels.py`) or as a notebook (`# %%` cells).
# `MINIGRAD_FAST=1` uses small matrices (CI does); the numbers in the comments come from a
# full run on the project's 2-core VM (Intel Xeon, AVX-512) while other jobs were running,
# so yours will differ: compare the ratios.

# %%
import os

import numba
import numpy as np

import minigrad as mg
from kernels.cpu import matmul as kernels
from minigrad.cli.kernel_bench.timing import best_ms
from minigrad.cli.machine import cpu_name, cpu_vector_flags
from minigrad.nn import functional as F

FAST = os.environ.get("MINIGRAD_FAST", "0") not in ("", "0")
SMALL = 128 if FAST else 256  # the naive loop is too slow for more
LARGE = 256 if FAST else 1024
rng = np.random.default_rng(0)


def square(side):
    return rng.uniform(-1, 1, (side, side)).astype(np.float32)


def gflops(multiply, a, b, repeat=3):
    """GFLOP/s of multiply(a, b): 2 M N K FLOPs over the best of `repeat` timings."""
    ms = best_ms(lambda: multiply(a, b), repeat)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / (ms * 1e-3) / 1e9


results = {}  # (step, side) -> GFLOP/s, for the table at the end

# %% [markdown]
# ## 1. The machine
#
# A core finishes at most (FMA units) x (lanes per vector) x 2 FLOPs per cycle: a fused
# multiply-add is two FLOPs. With AVX-512, a vector holds 16 float32, and server cores have
# two FMA units: 64 FLOPs per cycle. Memory is much slower: a product can run at the
# arithmetic peak only if each number it loads from memory is used many times from the
# caches and registers. That ratio, FLOPs per byte moved, is the *arithmetic intensity*; the
# *roofline* says a kernel runs at min(peak, intensity x bandwidth).

# %%
def nominal_ghz(default=2.0):
    """The clock Linux reports in /proc/cpuinfo (turbo may run faster), else `default`."""
    if not os.path.exists("/proc/cpuinfo"):
        return default
    with open("/proc/cpuinfo") as f:
        mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    return mhz[0] / 1e3 if mhz else default


flags = cpu_vector_flags()
lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
frequency_ghz = nominal_ghz()
peak = 2 * lanes * 2 * frequency_ghz  # 2 FMA units (an assumption), lanes, 2 FLOPs, GHz
source = np.ones(2**24 if FAST else 2**26, np.float32)
target = np.empty_like(source)
copy_ms = best_ms(lambda: np.copyto(target, source), 3)
bandwidth = 2 * source.nbytes / (copy_ms * 1e-3) / 1e9  # read + write
print(f"{cpu_name()}, {os.cpu_count()} cores, vector flags {flags}")
print(f"peak per core ~ 2 x {lanes} x 2 x {frequency_ghz:.2f} GHz = {peak:.0f} GFLOP/s; "
      f"memory (np.copyto of {source.nbytes >> 20} MB) {bandwidth:.1f} GB/s")
print(f"so a kernel needs about {peak / bandwidth:.0f} FLOPs per byte from memory to reach "
      f"the peak; a {LARGE}^3 product offers {2 * LARGE**3 / (3 * LARGE**2 * 4):.0f} "
      f"(2 N^3 FLOPs over 3 N^2 float32)")

# %% [markdown]
# On the project's VM: 166 GFLOP/s per core at the nominal 2.6 GHz (OpenBLAS reaches 172-179
# on one core, so the core runs a little faster), about 15-25 GB/s, so ~8 FLOPs per byte.
# A 1024^3 product offers 171: plenty, *if* the kernel reuses what it loads.
#
# ## 2. The naive loop: C[i, j] = sum_p A[i, p] B[p, j]
#
# Loop order i, j, p. The inner loop walks down a column of B: consecutive p are N floats
# apart, so every multiply-add loads a new 64-byte cache line to use 4 bytes of it, and the
# running sum is one serial chain of additions (LLVM may not reorder a float sum, so it
# cannot vectorise it).

# %%
a, b = square(SMALL), square(SMALL)
results["naive", SMALL] = gflops(kernels.matmul_naive, a, b, repeat=1)
results["blas", SMALL] = gflops(np.matmul, a, b)
print(f"naive {SMALL}^3: {results['naive', SMALL]:.2f} GFLOP/s "
      f"(OpenBLAS: {results['blas', SMALL]:.0f})")

# %% [markdown]
# 1-2 GFLOP/s: a hundred times below OpenBLAS (the VM measured 1.1 at 256^3).
#
# ## 3. Loop order i-k-j: C[i, :] += A[i, p] B[p, :]
#
# The same arithmetic, with the p and j loops swapped. Now the inner loop runs along a row of
# B and a row of C, both contiguous, and the additions into different C[i, j] are
# independent, so LLVM vectorises it: 8 float32 per instruction (LLVM prefers 256-bit
# vectors on Intel's AVX-512 chips). Each C[i, j] is still summed in the order of p.

# %%
for side in sorted({SMALL, LARGE}):
    a, b = square(side), square(side)
    results["ikj", side] = gflops(kernels.matmul_ikj, a, b, repeat=1)
    print(f"ikj {side}^3: {results['ikj', side]:.1f} GFLOP/s")

# %% [markdown]
# Ten to twenty times the naive loop, and still several times below OpenBLAS. Each
# multiply-add loads one B value and loads and stores one C value: the loop is bound by the
# L1 cache's loads and stores, not by the FMA units. And all of B is streamed through the
# cache once per row of A: at 1024^3 that is 4 GB read for a 4 MB matrix.
#
# ## 4. Blocking, packing and a register tile
#
# The fix (Goto & van de Geijn 2008; BLIS) is to keep a small tile of C in *registers*
# while a thin panel of A and a thin sliver of B stream past it: the micro-kernel.
#
#     for p in range(depth):               # one k step: 6 + 64 numbers loaded,
#         for i in range(6):               # 6 x 64 = 384 multiply-adds
#             for j in range(64):
#                 tile[i, j] += a_panel[p, i] * b_sliver[p, j]
#
# 6 x 64 float32 accumulators are 24 AVX-512 registers; each B vector loaded is used 6
# times, each A number 64 times. Around it, three loops cut A and B into blocks that fit the
# caches (KC = 512 deep, MC = 120 rows of A in L2, NC = 1024 columns of B), and *packing*
# copies each block once into the exact order the micro-kernel reads, contiguous and
# zero-padded, so its loads never miss and it never handles an edge.
#
# Did LLVM really keep the tile in registers? Ask it: `inspect_asm` shows the generated
# code. (Numba shows no code for a kernel loaded from its on-disk cache, so we compile a
# fresh copy of the micro-kernel.)

# %%
fresh = numba.njit(fastmath={"contract"})(kernels._micro_kernel.py_func)
panel = np.zeros(4096, np.float32)
fresh(4, panel, panel, np.zeros((8, 64), np.float32), 0, 0, 1, 1, False)
assembly = fresh.inspect_asm(fresh.signatures[0]).splitlines()
fmas = [i for i, line in enumerate(assembly) if line.strip().startswith("vfmadd231ps")]
if fmas:
    loop = [line.strip() for line in assembly[fmas[0] - 6:fmas[-1] + 1]]
    print(f"one k step of the micro-kernel: {len(fmas)} FMA instructions on "
          f"{'zmm (512-bit)' if 'zmm' in loop[-1] else 'narrower'} registers")
    print("\n".join(loop[:14] + ["..."]))
else:
    print("no packed FMA in the micro-kernel: this CPU or LLVM made other choices")

# %% [markdown]
# On an AVX-512 machine: 4 `vmovups` (a row of the B sliver), 6 `vbroadcastss` (a column
# of the A panel) and 24 `vfmadd231ps` on `zmm` registers per k step, and no stack access:
# the ideal loop. Getting there took three things LLVM does not do by default (the kernel's
# docstring has the details): the accumulators on the stack, not in a NumPy array (which
# LLVM must assume aliases C); a function attribute asking for 512-bit vectors; and a tile
# 64 wide, since narrower ones (6 x 16, 8 x 32) came out as scalar code.

# %%
for side in sorted({SMALL, LARGE}):
    a, b = square(side), square(side)
    results["blocked", side] = gflops(kernels.matmul_blocked, a, b)
    print(f"blocked {side}^3: {results['blocked', side]:.0f} GFLOP/s on one thread")

# %% [markdown]
# On the VM: 140-155 GFLOP/s at 1024^3 on one core, 0.8-0.9x OpenBLAS on one core
# (`OPENBLAS_NUM_THREADS=1` for that comparison) and most of the peak: over 70x the naive
# loop, from the same arithmetic.
#
# ## 5. All cores, and minigrad's ops
#
# `kernels.matmul` runs the same loop nest on every thread, each on its own slice of C (a
# run of 64-column slivers, or of 6-row panels when C is taller than wide) with its own
# packed blocks: one parallel region, no barrier inside. Every C[i, j] is summed in the same
# order as on one thread, so the result is bit for bit the same. `NUMBA_NUM_THREADS` sets
# the threads. On a machine where other programs are running, threads wait for each other,
# and so do OpenBLAS's: two-thread timings there say little.

# %%
a, b = square(LARGE), square(LARGE)
results["parallel", LARGE] = gflops(kernels.matmul, a, b)
results["blas", LARGE] = gflops(np.matmul, a, b)
print(f"parallel {LARGE}^3 on {numba.get_num_threads()} threads: "
      f"{results['parallel', LARGE]:.0f} GFLOP/s (OpenBLAS on its threads: "
      f"{results['blas', LARGE]:.0f})")
assert np.array_equal(kernels.matmul(a, b), kernels.matmul_blocked(a, b))

# %% [markdown]
# The backend decides which kernel minigrad's `matmul` and `Linear` use, forward and
# backward: "numpy" (the reference: NumPy, i.e. OpenBLAS), "numba" (these kernels), or
# "auto" (the default: OpenBLAS for matrix products, which is still the faster one).

# %%
x = mg.randn(64, 256, requires_grad=True)
w = mg.randn(128, 256, requires_grad=True)
grads = {}
for backend in ("numpy", "numba"):
    with mg.use_backend(backend):
        x.grad = w.grad = None
        F.linear(x, w).square().sum().backward()
        grads[backend] = (x.grad.numpy(), w.grad.numpy())
for name, ours, blas in zip(("x", "weight"), grads["numba"], grads["numpy"]):
    print(f"Linear gradient of {name}: numba vs numpy, max |difference| "
          f"{np.max(np.abs(ours - blas)):.2e} (at most float32 rounding)")

# %%
print(f"\n{'step':<10} {'side':>5} {'GFLOP/s':>8} {'x naive':>8} {'x OpenBLAS':>10}")
for (step, side), value in results.items():
    if step != "blas":
        print(f"{step:<10} {side:>5} {value:>8.1f} {value / results['naive', SMALL]:>8.0f} "
              f"{value / results['blas', side]:>10.2f}")
print("(OpenBLAS on all its threads; steps 1 to 3 run on one)")