"""The register tile of the matmul and FlashAttention micro-kernels: a small block of C's
accumulators that LLVM keeps in vector registers for a whole loop over the depth, and its
store to C.

Both micro-kernels (`kernels.cpu._matmul_packed` and `kernels.cpu._flash_tiles`) hold an
MR x NR tile of C, 6 x 64 float32 in 24 of AVX-512's 32 zmm registers, while they sum over
the depth. Two things make LLVM emit that (`inspect_asm`: 24 `vfmadd231ps` on zmm per depth
step, no stack access inside the loop; the matmul module docstring has the measurements):

- the tile is a stack array (an LLVM `alloca` in the caller's frame), not `np.zeros`: LLVM
  must assume that a heap array may alias C or the operands, so it keeps it in memory and
  the loop stays scalar. SROA then promotes the alloca to registers;
- the caller asks for 512-bit vectors (the string attribute `"prefer-vector-width"="512"`,
  what clang's `-mprefer-vector-width=512` sets): LLVM's default on these CPUs is 256 bits,
  which halves the FMA throughput.

The tile function (`register_tile_of`) is inlined into its caller (`inline="always"`, Numba's
IR inlining), so the alloca and the attribute land in the micro-kernel itself: a tile in a
separate function's frame would be gone when it returns. Under NUMBA_DISABLE_JIT=1 the tile
is `np.zeros`.

Numba's on-disk cache does not notice edits to this file in the kernels that use it: delete
`kernels/cpu/__pycache__/*.nb[ic]` after changing it.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload


@intrinsic(prefer_literal=True)
def _stack_tile_pointer(typingctx, dtype, size):
    """A pointer to `size` uninitialised numbers of `dtype` on the caller's stack (an LLVM
    alloca), and the caller compiled for 512-bit vectors. `size` must be a constant."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    element, count = dtype.dtype, size.literal_value

    def codegen(context, builder, signature, args):
        # llvmlite only accepts LLVM's built-in attribute names; a string attribute is
        # written into the IR as it is, which is what this one has to be
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return cgutils.alloca_once(builder, context.get_value_type(element), size=count)

    return types.CPointer(element)(dtype, size), codegen


def register_tile_of(shapes: dict) -> Callable:
    """Make the tile function of one micro-kernel: `tile(dtype)` returns a zeroed array of
    `dtype` for its accumulators, of shape shapes[itemsize of dtype] = (rows, columns). In
    Numba code the array is on the stack of the caller, so that LLVM can keep it in
    registers; under NUMBA_DISABLE_JIT it is `np.zeros`.

    One function per micro-kernel, with its shapes built in, so that the shape is a
    compile-time constant of one inlined `@overload`. (A shared overload taking the shape as
    arguments, called from each micro-kernel's own, compiled the matmul micro-kernel 0.2 s
    slower per dtype: two levels of inlining.)
    """
    def tile(dtype) -> np.ndarray:
        return np.zeros(shapes[np.dtype(dtype).itemsize], dtype)

    @overload(tile, inline="always")
    def _tile_compiled(dtype):
        rows, columns = shapes[dtype.dtype.bitwidth // 8]
        size = rows * columns

        def impl(dtype):
            tile = numba.carray(_stack_tile_pointer(dtype, size), (rows, columns))
            for i in range(rows):
                for j in range(columns):
                    tile[i, j] = 0
            return tile

        return impl

    return tile


@numba.njit(inline="always")
def store_tile(tile, c, row, col, rows, cols, accumulate):
    """c[row + i, col + j] (+)= tile[i, j] for i < rows, j < cols (added if `accumulate`,
    else written); c is 2-D and C-contiguous, so each row slice is contiguous. Called with
    constant bounds (a full tile), the store is vectorised too."""
    for i in range(rows):
        c_row = c[row + i, col:col + cols]
        if accumulate:
            for j in range(cols):
                c_row[j] += tile[i, j]
        else:
            for j in range(cols):
                c_row[j] = tile[i, j]
