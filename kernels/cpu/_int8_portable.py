"""The portable micro-kernel of `kernels.cpu.int8_gemm`, plain Numba, for CPUs without
AVX512-VNNI: a 4 x 4 int32 tile of dot products over k, which LLVM's loop vectoriser turns
into widening multiply-adds (see `kernels.cpu.int8_gemm` for the assembly it compiles to).
"""

import numba
from numba import int32

PORTABLE_ROWS = PORTABLE_COLS = 4  # the portable micro-tile: 4 x 4 dot products


@numba.njit(cache=True)
def _four_rows(x, start, depth):
    """The 4 consecutive runs of `depth` elements of x from `start` (a portable panel)."""
    return (x[start:start + depth], x[start + depth:start + 2 * depth],
            x[start + 2 * depth:start + 3 * depth], x[start + 3 * depth:start + 4 * depth])


@numba.njit(cache=True)
def _portable_tile(ap, bp, a_start, b_start, depth, tile):
    """tile (4, 4) int32 = the 4 x 4 dot products of 4 rows of packed A (int8, `depth` long,
    at a_start + r depth) with 4 rows of packed B (uint8, at b_start + c depth).

    Sixteen scalar int32 accumulators in one loop over k: LLVM's loop vectoriser turns each
    into a vector of partial sums over consecutive k, and because every product is a
    zero-extended byte times a sign-extended byte, the X86 backend emits the widening
    multiply-add `vpmaddwd` (`vpdpwssd`, which also adds, where the CPU has VNNI) on them.
    Per step: 8 vector loads for 16 multiply-adds. int32(...) around each sum keeps the
    arithmetic 32-bit: Numba would otherwise widen int32 + int32 to int64.
    """
    a0, a1, a2, a3 = _four_rows(ap, a_start, depth)
    b0, b1, b2, b3 = _four_rows(bp, b_start, depth)
    c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = int32(0)
    c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = int32(0)
    for k in range(depth):
        x0, x1, x2, x3 = int32(a0[k]), int32(a1[k]), int32(a2[k]), int32(a3[k])
        y0, y1, y2, y3 = int32(b0[k]), int32(b1[k]), int32(b2[k]), int32(b3[k])
        c00, c01 = int32(c00 + x0 * y0), int32(c01 + x0 * y1)
        c02, c03 = int32(c02 + x0 * y2), int32(c03 + x0 * y3)
        c10, c11 = int32(c10 + x1 * y0), int32(c11 + x1 * y1)
        c12, c13 = int32(c12 + x1 * y2), int32(c13 + x1 * y3)
        c20, c21 = int32(c20 + x2 * y0), int32(c21 + x2 * y1)
        c22, c23 = int32(c22 + x2 * y2), int32(c23 + x2 * y3)
        c30, c31 = int32(c30 + x3 * y0), int32(c31 + x3 * y1)
        c32, c33 = int32(c32 + x3 * y2), int32(c33 + x3 * y3)
    tile[0, 0], tile[0, 1], tile[0, 2], tile[0, 3] = c00, c01, c02, c03
    tile[1, 0], tile[1, 1], tile[1, 2], tile[1, 3] = c10, c11, c12, c13
    tile[2, 0], tile[2, 1], tile[2, 2], tile[2, 3] = c20, c21, c22, c23
    tile[3, 0], tile[3, 1], tile[3, 2], tile[3, 3] = c30, c31, c32, c33
