"""int8 GEMM with int32 accumulation as Numba CPU kernels: the core product, the zero-point
identity, and the dequantize / requantize epilogues.

Same names, signatures and results as `kernels.reference.int8_gemm` (read that first: it
defines the quantization arithmetic and the gemmlowp identity); int32 and int8 results are
equal bit for bit, and so are the float32 ones, which use the reference's float64 steps.

1. Signedness. The hardware multiplies unsigned bytes by signed bytes (`vpdpbusd`), so the
   packing flips the top bit where needed: a' = a - 128 for a uint8 a (else a' = a), an int8,
   and b' = b + 128 for an int8 b (else b' = b), a uint8: x ^ 0x80 on the bits, for free.
   With za' = za - 128 and zb' = zb + 128 where shifted,
   (a - za)(b - zb) = (a' - za')(b' - zb').

2. The core product C'[m, n] = sum_k a'[m, k] b'[k, n] in int32, without zero points. The
   bound: |a'| <= 128 and 0 <= b' <= 255, so every product lies in [-32640, 32385] and every
   partial sum over K <= 65,536 = 2^16 terms in [-2,139,095,040, 2,122,383,360], inside
   int32's [-2,147,483,648, 2,147,483,647]: no accumulator overflows, in any order of
   summation, for every signedness combination and every zero point (zero points never enter
   the inner loop). Without the shift, uint8 x uint8 (products up to 65,025) would overflow
   from K = 33,026 on. `vpdpbusd` adds its 4 products (at most 130,560 in magnitude) without
   saturating, and `vpmaddwd` below sums 16-bit products into 32 bits, so neither clips.
   Larger K is refused (ValueError); the int64 reference has no limit.

3. Zero points, by the gemmlowp identity in int64 on each output element:
   value = C' - zb' rowsum(a')[m] - za' colsum(b')[n] + K za' zb', where the sums come from
   the packing pass (O(M K + K N)) and the two correction vectors are formed once. All terms
   are below 2^40, so int64 is exact; value is the exact sum_k (a - za)(b - zb).

4. Epilogue, on each block of the output while it is in cache: store value as int32 (values
   outside int32 raise OverflowError, as in the reference), or float32(value a_scale
   b_scale[n] + bias[n]) (b_scale per tensor or per output channel), or requantize:
   clamp(rint(real / out_scale) + out_zero_point) as int8/uint8.

Packing (`_int8_pack`). A is cut into panels of VNNI_ROWS rows and B into panels of VNNI_COLS
columns, K padded with zeros to a multiple of 4 (zeros add nothing to products or sums), in
the layout the micro-kernel reads in order:

    A panel i (8 rows):     q = 0: a'[8i, 0:4] a'[8i+1, 0:4] ... a'[8i+7, 0:4]       32 bytes
                            q = 1: a'[8i, 4:8] ...
    B panel j (48 columns): q = 0: b'[0:4, 48j] b'[0:4, 48j+1] ... b'[0:4, 48j+47]  192 bytes
                                   = 3 registers of 16 columns x 4 bytes
                            q = 1: b'[4:8, 48j] ...

Micro-kernel (`_vnni_tile` in `_int8_vnni`, LLVM IR written through Numba's `@intrinsic`,
because LLVM's auto-vectoriser never forms `vpdpbusd` from scalar code): an 8 x 48 int32 tile
held in 24 zmm registers for the whole K loop. `inspect_asm` of its inner loop shows, per quad
of k: 3 x `vmovdqu64` (the B quads, 64 bytes each), 8 x `vpbroadcastd` (one row's 4 A bytes to
all 16 lanes) and 24 x `vpdpbusd zmm` (64 multiply-adds each: 1536 per quad), zmm0-23 as
accumulators, no spills: 24 multiply-add instructions per 11 loads.

Portable micro-kernel (`_portable_tile` in `_int8_portable`, plain Numba), for CPUs without
AVX512-VNNI: a 4 x 4 tile of dot products over k, panels of 4 rows of A and 4 columns of B,
each k-contiguous. The loop vectoriser turns the 16 scalar int32 accumulators into vectors
over k; the assembly on this CPU, per 8 k: 8 x `vpmovsxbd`/`vpmovzxbd ymm` (8 bytes to 8
dwords) and 16 x `vpdpwssd ymm`; compiled for Haswell (NUMBA_CPU_NAME=haswell), 16 x
`vpmaddwd ymm` plus adds. Each 32-bit lane holds one product (its upper 16-bit half is 0), so
these run at half the width of a packed multiply-add: 8 multiply-adds per instruction against
`vpdpbusd zmm`'s 64.

Which one runs is decided when the module loads, from the features Numba compiles for
(`USE_VNNI`); the intrinsic compiles to a trap where the target lacks VNNI, so the same code
compiles on any CPU. Parallelism: `_gemm_tasks` (in `_int8_driver`, with the epilogues)
splits the output into TASK_ROWS x TASK_COLS blocks, one per `prange` task (disjoint writes);
calls below SERIAL_BELOW multiply-adds run on one thread. FLOPs: 2 M N K integer operations
(plus O(M N) for the epilogue). Memory traffic: one pass over a and b to pack them, packed A
re-read N / TASK_COLS and packed B M / TASK_ROWS times (from L2/L3), out written once.

Debugging: `NUMBA_DISABLE_JIT=1` cannot run the `@intrinsic`; set `USE_VNNI = False` (the
portable path) to step through the rest as plain Python. The compiled kernels are cached on
disk (`cache=True`), and Numba checks only the source file of the function it loads: after an
edit of `_int8_vnni` or `_int8_portable` (a micro-kernel or its tile size), `_gemm_tasks`
would still load its old code, with the old micro-kernel inlined, until its cache files are
deleted (`rm kernels/cpu/__pycache__/_int8_driver.*`).
"""

from __future__ import annotations

import numpy as np
from numba.core.registry import cpu_target

from kernels.cpu._int8_driver import DEQUANTIZE, INT32, REQUANTIZE, _gemm_tasks
from kernels.cpu._int8_pack import _pack
from kernels.cpu._int8_portable import PORTABLE_COLS, PORTABLE_ROWS
from kernels.cpu._int8_vnni import VNNI_COLS, VNNI_ROWS, _has_vnni
from kernels.cpu._threads import serial_below
from kernels.reference.int8_gemm import (
    INT32_RANGE,
    _check_operands,
    _check_output,
    _check_scales,
)

__all__ = ["int8_gemm", "int8_gemm_dequantize", "int8_gemm_requantize"]

MAX_DEPTH = 2**16                # the deepest K whose int32 sums are exact (see above)

# Below this many multiply-adds a call runs on one thread: 2^24 (256^3) take about 50 us on
# one core with VNNI, where starting the parallel region would cost a sizeable fraction.
SERIAL_BELOW = 2**24

USE_VNNI = _has_vnni(cpu_target.target_context.codegen())
"""Whether the kernels take the vpdpbusd path: decided when this module loads; tests set it
to False to run the portable path on a VNNI machine."""


# -- packing, the product and its epilogue, on the path chosen above --------------------------


def _threads_for(work: int):
    return serial_below(work, SERIAL_BELOW)  # read now: tests may change it


_UNUSED = np.zeros(0)


def _product(op: str, a: np.ndarray, b: np.ndarray, za: int, zb: int, out: np.ndarray,
             mode: int, scale: np.ndarray = _UNUSED, bias: np.ndarray = _UNUSED,
             out_scale: float = 1.0, out_zero_point: int = 0, qmin: int = 0,
             qmax: int = 0) -> np.ndarray:
    """Fill out (M, N) with the epilogue `mode` of sum_k (a - za)(b - zb); validated inputs.

    Shifts the operands to a' = a - sa int8 and b' = b + sb uint8 (sa = 128 for a uint8 a,
    sb = 128 for an int8 b, else 0) while packing them, so that (a - za)(b - zb) =
    (a' - za')(b' - zb') with za' = za - sa, zb' = zb + sb, and folds the gemmlowp terms
    into per-row and per-column int64 vectors.

    Returns:
        (M,) bool: the rows where an INT32 result did not fit.
    """
    k = a.shape[1]
    if k > MAX_DEPTH:
        raise ValueError(f"{op}: K = {k} is more than {MAX_DEPTH}, the deepest product whose "
                         f"int32 sums this kernel keeps exact; kernels.reference.{op} sums "
                         f"in int64 and has no limit")
    depth, vnni = -(-k // 4) * 4, USE_VNNI
    tile_rows, tile_cols = (VNNI_ROWS, VNNI_COLS) if vnni else (PORTABLE_ROWS, PORTABLE_COLS)
    a_shift, b_shift = 128 * (a.dtype == np.uint8), 128 * (b.dtype == np.int8)
    overflow = np.zeros(a.shape[0], dtype=np.bool_)
    with _threads_for(a.shape[0] * b.shape[1] * k):
        ap, a_sums = _pack(a, tile_rows, vnni, 0x80 if a_shift else 0, True)
        bp, b_sums = _pack(b.T, tile_cols, vnni, 0x80 if b_shift else 0, False)
        za, zb = za - a_shift, zb + b_shift
        row_term, col_term = k * za * zb - zb * a_sums, za * b_sums
        _gemm_tasks(ap.view(np.int8), bp, depth, vnni, out, row_term, col_term, scale, bias,
                    float(out_scale), out_zero_point, qmin, qmax, mode, overflow)
    return overflow


# -- the public kernels -----------------------------------------------------------------------


def int8_gemm(a: np.ndarray, b: np.ndarray, a_zero_point: int = 0,
              b_zero_point: int = 0) -> np.ndarray:
    """sum_k (a[m, k] - a_zero_point)(b[k, n] - b_zero_point) as int32, exactly.

    Args:
        a: (M, K) int8 or uint8; b: (K, N) int8 or uint8; any memory layout.
        a_zero_point: int in the range of a's dtype.
        b_zero_point: int in the range of b's dtype.

    Returns:
        (M, N) int32. FLOPs: 2 M N K integer operations. Memory traffic: one read of a and
        b to pack them, the packed A read N / TASK_COLS and B M / TASK_ROWS times, out
        written once.

    Raises:
        OverflowError: if an exact result lies outside int32, as the reference does.
    """
    op = "int8_gemm"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.int32)
    overflow = _product(op, a, b, za, zb, out, INT32)
    if overflow.any():
        raise OverflowError(f"{op}: row {int(np.argmax(overflow))} of the result holds an "
                            f"exact value outside the int32 range [{INT32_RANGE[0]}, "
                            f"{INT32_RANGE[1]}]; int8_gemm_dequantize and "
                            f"int8_gemm_requantize start from the exact value")
    return out


def int8_gemm_dequantize(a: np.ndarray, b: np.ndarray, a_zero_point: int, b_zero_point: int,
                         a_scale: float, b_scale, bias: np.ndarray | None = None) -> np.ndarray:
    """float32(acc a_scale b_scale[n] + bias[n]), acc = sum_k (a - za)(b - zb) exactly.

    Args: as `kernels.reference.int8_gemm_dequantize` (b_scale a scalar or (N,), bias None
    or (N,)). Returns: (M, N) float32, the reference's bit for bit.
    FLOPs: 2 M N K integer operations plus 2 M N float ones.
    """
    op = "int8_gemm_dequantize"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    scale, bias = _check_scales(op, a_scale, b_scale, bias, b.shape[1])
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
    _product(op, a, b, za, zb, out, DEQUANTIZE, scale, bias)
    return out


def int8_gemm_requantize(a: np.ndarray, b: np.ndarray, a_zero_point: int, b_zero_point: int,
                         a_scale: float, b_scale, out_scale: float, out_zero_point: int,
                         bias: np.ndarray | None = None, out_dtype=np.int8) -> np.ndarray:
    """clamp(rint((acc a_scale b_scale[n] + bias[n]) / out_scale) + out_zero_point) as 8 bits.

    Args: as `kernels.reference.int8_gemm_requantize`. Returns: (M, N) of out_dtype (int8 or
    uint8), the reference's bit for bit. FLOPs: 2 M N K integer operations plus 4 M N float
    ones.
    """
    op = "int8_gemm_requantize"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    scale, bias = _check_scales(op, a_scale, b_scale, bias, b.shape[1])
    out_scale, out_zero_point, out_dtype, qmin, qmax = _check_output(op, out_scale,
                                                                     out_zero_point, out_dtype)
    out = np.empty((a.shape[0], b.shape[1]), dtype=out_dtype)
    _product(op, a, b, za, zb, out.view(np.int8), REQUANTIZE, scale, bias, out_scale,
             out_zero_point, qmin, qmax)
    return out
