"""The packed blocks and the register-tiled micro-kernel of `kernels.cpu.matmul`'s step 3.

The loop nest in `kernels.cpu.matmul` (read its docstring first) works on copies of A and B
packed by the functions here, in exactly the order the micro-kernel reads them: an A block
as MR-row panels (`_pack_a`), a B block as NR-column slivers (`_pack_b`), zero-padded at
the edges. The micro-kernel (`_micro_kernel`) then computes one MR x NR tile of C from one
panel and one sliver with the tile in registers (`kernels.cpu._register_tile`): per depth
step it loads one row of the sliver (NR numbers), broadcasts MR numbers of the panel and
issues one vector FMA per accumulator register.

The tile shape is chosen per dtype (`TILES`: 6 x 64 float32, 4 x 48 float64, 24 zmm
registers each); why these shapes, and the assembly they compile to, is in the docstring of
`kernels.cpu.matmul`.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from kernels.cpu._register_tile import register_tile_of, store_tile

# -- the blocking parameters and the register tile -------------------------------------------

# (MR, NR) by itemsize: the register tile, MR NR / lanes accumulators (24 zmm registers)
TILES = {4: (6, 64), 8: (4, 48)}
KC = 512  # depth of a packed block: a B sliver holds KC NR numbers, an A panel KC MR
MC = 120  # rows of a packed A block (a multiple of both MRs): 240 KB of float32, in L2
NC_BYTES = 4096  # bytes of a row of a packed B block: 1024 float32 columns, 2 MB at KC = 512

_CONTRACT = {"contract"}  # fast-math flags: fuse multiply-adds, nothing else


def _tile_shape(dtype) -> tuple:
    """(MR, NR) of the register tile for `dtype`, a compile-time constant in Numba code."""
    return TILES[np.dtype(dtype).itemsize]


@overload(_tile_shape, inline="always")
def _tile_shape_compiled(dtype):
    shape = TILES[dtype.dtype.bitwidth // 8]
    return lambda dtype: shape


# the micro-kernel's accumulators: a zeroed (MR, NR) = TILES[itemsize] array, in registers
_register_tile = register_tile_of(TILES)


# -- the micro-kernel and the packing -------------------------------------------------------


@numba.njit(cache=True, fastmath=_CONTRACT)
def _micro_kernel(depth, a_panel, b_panel, c, row, col, rows, cols, accumulate):
    """c[row:row+rows, col:col+cols] (+)= the first rows x cols of panel @ sliver.

    The MR x NR tile of accumulators lives in registers for all `depth` k steps; per step
    MR + NR loads and MR NR multiply-adds. Stored (added if `accumulate`, else written) once
    at the end; a full tile with constant bounds, so the store is vectorised too.

    Args: depth <= KC; a_panel: the packed A panel, a_panel[p MR + i] = A[row + i, k0 + p];
    b_panel: the packed B sliver, b_panel[p NR + j] = B[k0 + p, col + j]; c (M, N).
    """
    tile = _register_tile(c.dtype)
    mr, nr = tile.shape
    for p in range(depth):
        a_column = a_panel[p * mr:(p + 1) * mr]
        b_row = b_panel[p * nr:(p + 1) * nr]
        for i in range(mr):
            a_ip = a_column[i]
            for j in range(nr):
                tile[i, j] += a_ip * b_row[j]
    if rows == mr and cols == nr:
        store_tile(tile, c, row, col, mr, nr, accumulate)
    else:
        store_tile(tile, c, row, col, rows, cols, accumulate)


@numba.njit(cache=True)
def _pack_a(a, a_transposed, row0, rows, k0, depth, out):
    """Copy the block A[row0:row0+rows, k0:k0+depth] into MR-row panels, zero-padded:
    out[(i // MR) depth MR + p MR + i % MR] = A[row0 + i, k0 + p].

    `a` is A (M, K) C-contiguous, or, if `a_transposed`, A^T (K, M) C-contiguous; either way
    the reads run along a contiguous row. Traffic: one read and one write of the block.
    """
    mr = _tile_shape(out.dtype)[0]
    for panel in range((rows + mr - 1) // mr):
        base = panel * depth * mr
        first = row0 + panel * mr
        height = min(mr, row0 + rows - first)
        if a_transposed:
            for p in range(depth):
                source = a[k0 + p, first:first + height]
                for i in range(height):
                    out[base + p * mr + i] = source[i]
                for i in range(height, mr):
                    out[base + p * mr + i] = 0
        else:
            for i in range(height):
                source = a[first + i, k0:k0 + depth]
                for p in range(depth):
                    out[base + p * mr + i] = source[p]
            for i in range(height, mr):
                for p in range(depth):
                    out[base + p * mr + i] = 0


@numba.njit(cache=True)
def _pack_b(b, b_transposed, k0, depth, col0, cols, out):
    """Copy the block B[k0:k0+depth, col0:col0+cols] into slivers of NR columns, zero-padded:
    out[(s depth + p) NR + j] = B[k0 + p, col0 + s NR + j].

    `b` is B (K, N) C-contiguous, or, if `b_transposed`, B^T (N, K) C-contiguous (then a
    sliver row gathers NR numbers from NR rows of B^T, whose cache lines stay in L1 for the
    next 15 k steps). Traffic: one read and one write of the block.
    """
    nr = _tile_shape(out.dtype)[1]
    for sliver in range((cols + nr - 1) // nr):
        start = col0 + sliver * nr
        width = min(nr, col0 + cols - start)
        for p in range(depth):
            target = out[(sliver * depth + p) * nr:(sliver * depth + p + 1) * nr]
            if b_transposed:
                for j in range(width):
                    target[j] = b[start + j, k0 + p]
            else:
                source = b[k0 + p, start:start + width]
                for j in range(width):
                    target[j] = source[j]
            for j in range(width, nr):
                target[j] = 0
