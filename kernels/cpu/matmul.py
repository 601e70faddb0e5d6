"""Matrix multiplication C = A B on the CPU in four steps, from the textbook triple loop to a
blocked kernel within reach of OpenBLAS. Same results as `kernels.reference.matmul` and
`batched_matmul` (read those first): A is (M, K), B is (K, N), C is (M, N); every step does
2 M N K FLOPs, and they differ only in the order they do them and where the operands sit.

The roofline of the machine the numbers come from (docs/concepts/kernels/matmul.md has the
commands): 2 cores of an Intel Xeon with AVX-512 and two FMA units per core, so one core
finishes 2 x 16 float32 lanes x 2 FLOPs = 64 FLOPs per cycle, 166 GFLOP/s at the nominal
2.6 GHz (OpenBLAS sgemm measures 172-179 on one core: it turbos a little). Memory streams
about 15-25 GB/s. So a product can run at the peak only if it does about 8 FLOPs per byte it
moves from memory, and much more per byte from the L2 cache: the whole design below is about
reusing each loaded number from registers and L1.

Step 1, `matmul_naive`, loops i, j, p: C[i, j] = sum_p A[i, p] B[p, j]. The inner loop walks
down a column of B (stride N): one new cache line per multiply-add, and one serial chain of
additions that LLVM may not reorder (so no SIMD). 1-2 GFLOP/s.

Step 2, `matmul_ikj`, loops i, p, j: C[i, :] += A[i, p] B[p, :]. The inner loop runs along
rows of B and C, both contiguous, and its iterations are independent, so LLVM vectorises it
(8 float32 lanes: LLVM prefers 256-bit vectors on Intel's AVX-512 cores). Every C[i, j] is
still summed in the order of p. But each multiply-add loads B[p, j] and loads and stores
C[i, j]: the loop is bound by L1 loads and stores, and all of B streams through the caches
once per row of A. 15-38 GFLOP/s on one core (less once B outgrows L2).

Step 3, `matmul_blocked`: the GotoBLAS / BLIS loop nest (Goto & van de Geijn, "Anatomy of
High-Performance Matrix Multiplication", ACM TOMS 2008; Van Zee & van de Geijn, "BLIS",
ACM TOMS 2015), with MR x NR = 6 x 64 (float32) or 4 x 48 (float64):

    for jc in range(0, N, NC):                  NC = 1024 float32 (480 float64) columns
      for pc in range(0, K, KC):                KC = 512
        pack B[pc:pc+KC, jc:jc+NC] -> slivers   KC x NR each: a 2 MB block    (L2/L3)
        for ic in range(0, M, MC):              MC = 120 rows
          pack A[ic:ic+MC, pc:pc+KC] -> panels  MR x KC each: a 240 KB block  (L2)
          for jr in range(0, NC, NR):           one B sliver, 128 KB          (L2)
            for ir in range(0, MC, MR):         one A panel, 12 KB            (L1)
              micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= panel @ sliver, in registers

The micro-kernel keeps the MR x NR tile of C in registers for all KC steps: 6 x 64 float32
are 24 of AVX-512's 32 zmm registers. One k step loads 4 vectors of the B sliver and
broadcasts 6 numbers of the A panel, then issues 24 FMAs: each loaded B vector is used 6
times, each A number 64 times, and C is touched once per KC steps. Packing copies each block
once into exactly the order the micro-kernel reads (so its loads are contiguous and its
panels stay in cache), pads edges with zeros (so it always computes a full tile and only
the store is cut to the matrix), and reads A and B in either layout: a transposed view,
which every backward pass produces, is packed in place. Packing costs 1/NR and 1/MR of the
multiply-adds in loads and stores. A deep KC matters most for large matrices: C is read
and written once per KC of depth, 4 passes over 16 MB at 2048^3 with KC = 512 (KC = 256
measured 0.62-0.71x OpenBLAS there, 512 0.72-0.85x; the B sliver then outgrows L1, but
the micro-kernel loses little reading it from L2, since each B vector serves 6 FMAs).
Measured on one core (CPU time, the VM being shared): 143, 154 and 152 GFLOP/s at 256^3,
1024^3 and 2048^3, 0.82, 0.91 and 0.89x OpenBLAS sgemm in the same runs; the micro-kernel
alone, its operands in L1, 175-200 GFLOP/s.

The micro-kernel and the packing are in `kernels.cpu._matmul_packed`, the register tile in
`kernels.cpu._register_tile` (shared with FlashAttention's micro-kernel). What it took to
make LLVM emit that micro-kernel (`inspect_asm`; tests/kernels/test_matmul.py checks it: 4
vmovups, 6 vbroadcastss and 24 vfmadd231ps on zmm registers per k step, no stack access in
the loop):
- the tile is a stack array (`_register_tile`, an LLVM alloca), not `np.zeros`: LLVM must
  assume a heap array may alias C or the panels, keeps it in memory, and the loop stayed
  scalar (9 GFLOP/s);
- the function asks for 512-bit vectors (`"prefer-vector-width"="512"`, what clang's
  `-mprefer-vector-width=512` sets): LLVM's default of 256 bits halves the FMA throughput;
- the tile row is 64 float32 (48 float64) wide: for narrower rows (6 x 16, 8 x 32, 16 x 16)
  LLVM fully unrolls the row loop before its loop vectoriser sees it and the SLP vectoriser
  left scalar code (3-10 GFLOP/s), and 8 vectors of float64 per row (3 x 64) spilled;
- fast-math "contract" only: FMA (one rounding instead of two; more accurate, never less).
  No reassociation: each C[i, j] is summed in the order of p within a KC block and the blocks
  are added in order, so the result does not depend on the thread count, and the error
  bound |C - A B| <= K eps |A| |B| of any order of summation holds (the tests check it).
On a CPU without AVX-512 the same code compiles to 256-bit vectors; 6 x 64 float32 are then
48 ymm registers and spill (compiled for Haswell and run here: 57 GFLOP/s).

Step 4, `matmul`: the same nest on all of Numba's threads, each on its own slice of C
(equal runs of NR-column slivers, or of MR-row panels when C is taller than wide), packing
its own blocks into its own buffers: one parallel region per call and no barrier in it. A
first version shared one packed B block (the threads packed it together, then split the
row blocks): two barriers per KC, and on this shared 2-core VM, where another process often
holds a core, a thread that waited at a barrier for a descheduled partner made it 0.35-0.55x
OpenBLAS on two threads, against 0.6-0.9x now. The price is repacking the operand that is
not sliced, once per thread. Below `SERIAL_BELOW` multiply-adds it runs on one thread.
`batched_matmul` runs whole products per thread when there are at least as many matrices as
threads.

float32 and float64 (other dtypes: TypeError). Debug as plain Python with
`NUMBA_DISABLE_JIT=1` (the tile is then `np.zeros`); the first call compiles the kernels
(about 15 s for both dtypes) and caches them next to this file (`cache=True`). The cache
does not notice edits to the modules a kernel imports: after changing `_matmul_packed.py`
or `_register_tile.py`, delete `kernels/cpu/__pycache__/*.nb[ic]`.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.cpu._matmul_packed import (
    _CONTRACT,
    KC,
    MC,
    NC_BYTES,
    _micro_kernel,
    _pack_a,
    _pack_b,
    _tile_shape,
)
from kernels.cpu._threads import serial_below
from kernels.reference.matmul import check_operands

__all__ = ["batched_matmul", "matmul", "matmul_blocked", "matmul_ikj", "matmul_naive"]

# Below this many multiply-adds a call runs on one thread: such a product takes about 50 us
# on one core (150 GFLOP/s), too little to split. 4 M is the depthwise kernels' threshold
# (`kernels.cpu.depthwise.SERIAL_BELOW`, measured inside a training step); it has not been
# measured for the products on their own.
SERIAL_BELOW = 4_000_000


def _threads_for(work: int):
    """Run the block on one Numba thread when `work` (multiply-adds) is below SERIAL_BELOW."""
    return serial_below(work, SERIAL_BELOW)  # read now: tests may change it


# -- step 1 and 2: the textbook loops -------------------------------------------------------------


@numba.njit(cache=True, fastmath=_CONTRACT)
def _naive_loops(a, b, c):
    """c[i, j] = sum_p a[i, p] b[p, j], one dot product per entry. a (M, K), b (K, N), c (M,
    N), C-contiguous, K >= 1. Serial; the inner loop reads b with stride N."""
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            total = a[i, 0] * b[0, j]
            for p in range(1, k):
                total += a[i, p] * b[p, j]
            c[i, j] = total


@numba.njit(cache=True, fastmath=_CONTRACT)
def _ikj_loops(a, b, c):
    """c[i, :] = sum_p a[i, p] b[p, :], one row of c at a time (it stays in L1 while all K
    rows of b stream past). Arrays as in `_naive_loops`. Serial; the inner loop is
    contiguous in b and c, vectorised."""
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        c_row = c[i]
        c_row[:] = 0
        for p in range(k):
            a_ip = a[i, p]
            b_row = b[p]
            for j in range(n):
                c_row[j] += a_ip * b_row[j]


# -- step 3 and 4: the loop nest around the micro-kernel (`kernels.cpu._matmul_packed`) --------


@numba.njit(cache=True)
def _macro_kernel(a_block, b_block, c, row0, rows, col0, cols, depth, accumulate):
    """C[row0:row0+rows, col0:col0+cols] (+)= packed A block @ packed B block: the jr and ir
    loops of micro-kernels. The B sliver is reused by all MC / MR panels of the A block, each
    panel stays in L1 for one sliver. FLOPs: 2 rows cols depth."""
    mr, nr = _tile_shape(c.dtype)
    for jr in range(0, cols, nr):
        b_sliver = b_block[jr * depth:]
        for ir in range(0, rows, mr):
            _micro_kernel(depth, a_block[ir * depth:], b_sliver, c, row0 + ir, col0 + jr,
                          min(mr, rows - ir), min(nr, cols - jr), accumulate)


@numba.njit(cache=True)
def _gemm_serial(a, a_transposed, b, b_transposed, c, row0, row1, col0, col1):
    """C[row0:row1, col0:col1] = A[row0:row1, :] B[:, col0:col1] on one thread: the five-loop
    nest of the module docstring.

    Args: a, b C-contiguous, holding A (M, K) and B (K, N) or their transposes as the flags
    say; c (M, N). Memory traffic: B read once, A once per NC columns, C written once and
    read and written again per further KC of depth.
    """
    k = a.shape[0] if a_transposed else a.shape[1]
    mr, nr = _tile_shape(c.dtype)
    nc_max = NC_BYTES // c.itemsize // nr * nr
    depth_max = min(KC, k)
    b_block = np.empty(depth_max * min(nc_max, (col1 - col0 + nr - 1) // nr * nr), c.dtype)
    a_block = np.empty(min(MC, (row1 - row0 + mr - 1) // mr * mr) * depth_max, c.dtype)
    for jc in range(col0, col1, nc_max):
        cols = min(nc_max, col1 - jc)
        for pc in range(0, k, KC):
            depth = min(KC, k - pc)
            _pack_b(b, b_transposed, pc, depth, jc, cols, b_block)
            for ic in range(row0, row1, MC):
                rows = min(MC, row1 - ic)
                _pack_a(a, a_transposed, ic, rows, pc, depth, a_block)
                _macro_kernel(a_block, b_block, c, ic, rows, jc, cols, depth, pc > 0)


@numba.njit(cache=True, parallel=True)
def _gemm_parallel(a, a_transposed, b, b_transposed, c, threads):
    """C = A B on `threads` threads, each running `_gemm_serial` on its own slice of C.

    The slices are runs of whole B slivers (columns) or whole A panels (rows), as even as
    they can be. A column slice repacks all of A (M K numbers per thread), a row slice all of
    B (K N), so C is cut along the longer of its sides, unless that side has fewer tiles
    than there are threads. One parallel region, no barrier inside: a thread that the OS
    deschedules delays only its own slice. Every C[i, j] is summed as in `_gemm_serial`.
    """
    m, n = c.shape
    mr, nr = _tile_shape(c.dtype)
    col_units, row_units = (n + nr - 1) // nr, (m + mr - 1) // mr
    if min(col_units, row_units) >= threads:
        by_columns = n >= m
    else:
        by_columns = col_units >= row_units
    units = col_units if by_columns else row_units
    parts = min(threads, units)
    for part in numba.prange(parts):
        first, last = part * units // parts, (part + 1) * units // parts
        if by_columns:
            _gemm_serial(a, a_transposed, b, b_transposed, c, 0, m, first * nr,
                         min(n, last * nr))
        else:
            _gemm_serial(a, a_transposed, b, b_transposed, c, first * mr, min(m, last * mr),
                         0, n)


@numba.njit(cache=True, parallel=True)
def _batched_gemm(a, a_transposed, b, b_transposed, c):
    """c[t] = A[t] B[t], one `_gemm_serial` per matrix, prange over the batch. a, b, c: 3-D
    C-contiguous, the flags as in `_gemm_serial` for every matrix."""
    m, n = c.shape[1:]
    for t in numba.prange(c.shape[0]):
        _gemm_serial(a[t], a_transposed, b[t], b_transposed, c[t], 0, m, 0, n)


# -- the public kernels: checks, layout, then one call -----------------------------------------


def _output(op: str, a: np.ndarray, b: np.ndarray, ndim: int) -> tuple:
    """Check the operands of `a @ b`; return (the output array, whether it is already final).

    It is final without a kernel call when M, N or B is 0 (an empty array) or K is 0 (zeros:
    an empty sum).
    """
    check_operands(op, a, b, ndim)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: dtype {a.dtype} is not supported; expected float32 or float64")
    shape = a.shape[:-1] + b.shape[-1:]
    if 0 in shape or a.shape[-1] == 0:
        return np.zeros(shape, a.dtype), True
    return np.empty(shape, a.dtype), False


def _row_major(x: np.ndarray) -> tuple:
    """(array, transposed): x if it is C-contiguous, else the view with its last two axes
    swapped if that one is (a transposed operand, as every backward pass makes, is packed in
    place: no copy), else a C-contiguous copy of x."""
    if x.flags.c_contiguous:
        return x, False
    swapped = np.swapaxes(x, -1, -2)
    if swapped.flags.c_contiguous:
        return swapped, True
    return np.ascontiguousarray(x), False


def matmul_naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Step 1: C[i, j] as a dot product of row i of A and column j of B (loop order i, j, k).

    Args:
        a: (M, K) float32 or float64. b: (K, N) of the same dtype. Any layout (a non-C-contiguous
            operand is copied once).

    Returns:
        (M, N) array. FLOPs: 2 M N K. Memory traffic: the inner loop walks down a column of B
        (stride N), one cache line per multiply-add, so B is read from memory or L3 M times:
        about 64 M N K bytes once B outgrows the caches.
    """
    out, done = _output("matmul_naive", a, b, 2)
    if not done:
        _naive_loops(np.ascontiguousarray(a), np.ascontiguousarray(b), out)
    return out


def matmul_ikj(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Step 2: C[i, :] += A[i, p] B[p, :] (loop order i, k, j): the inner loop is contiguous.

    Args and result as `matmul_naive`. Memory traffic: per multiply-add one load of B and a
    load and a store of C (in L1); B (K N numbers) is streamed from L2/L3 once per row of A,
    4 M K N bytes in all, so the loop runs at the speed of the cache, not of the FMA units.
    """
    out, done = _output("matmul_ikj", a, b, 2)
    if not done:
        _ikj_loops(np.ascontiguousarray(a), np.ascontiguousarray(b), out)
    return out


def matmul_blocked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Step 3: the BLIS loop nest (packed blocks, register-tiled micro-kernel) on one thread.

    Args:
        a: (M, K) float32 or float64. b: (K, N) of the same dtype. C-contiguous operands and
            transposed views of C-contiguous arrays are packed in place; others copied once.

    Returns:
        (M, N) array. FLOPs: 2 M N K. Memory traffic: A is read once per NC columns of B, B
        once, C read and written once per KC of depth (see the module docstring).
    """
    out, done = _output("matmul_blocked", a, b, 2)
    if not done:
        _gemm_serial(*_row_major(a), *_row_major(b), out, 0, out.shape[0], 0, out.shape[1])
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Step 4: `matmul_blocked` on all of Numba's threads; the kernel minigrad's ops call.

    Args and result as `matmul_blocked`. Runs on one thread below `SERIAL_BELOW`
    multiply-adds (from `kernels.cpu.depthwise`: starting a parallel region costs more than
    such a product takes).
    """
    out, done = _output("matmul", a, b, 2)
    if not done:
        with _threads_for(out.size * a.shape[1]):
            _gemm_parallel(*_row_major(a), *_row_major(b), out, numba.get_num_threads())
    return out


def batched_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C[t] = A[t] B[t] for t < B: one blocked product per matrix.

    With at least as many matrices as threads, each thread runs whole products
    (`matmul_blocked`'s loop nest; no synchronisation inside a product, and small matrices,
    such as attention heads, would leave little to share anyway); with fewer, the matrices
    run one after the other, each on all threads (`matmul`).

    Args:
        a: (B, M, K) float32 or float64. b: (B, K, N) of the same dtype. C-contiguous, or with
            the last two axes swapped from C-contiguous (packed in place); others copied once.

    Returns:
        (B, M, N) array. FLOPs: 2 B M N K.
    """
    out, done = _output("batched_matmul", a, b, 3)
    if done:
        return out
    batch, m, k = a.shape
    (a_rows, a_transposed), (b_rows, b_transposed) = _row_major(a), _row_major(b)
    threads = numba.get_num_threads()
    if batch >= threads:
        with _threads_for(out.size * k):
            _batched_gemm(a_rows, a_transposed, b_rows, b_transposed, out)
        return out
    with _threads_for(m * out.shape[2] * k):
        for t in range(batch):
            _gemm_parallel(a_rows[t], a_transposed, b_rows[t], b_transposed, out[t],
                           numba.get_num_threads())
    return out
