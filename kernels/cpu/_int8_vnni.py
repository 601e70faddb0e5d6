"""The AVX512-VNNI micro-kernel of `kernels.cpu.int8_gemm`: one 8 x 48 int32 tile of the
product of a packed A panel and a packed B panel, written as LLVM IR through Numba's
`@intrinsic` (LLVM's auto-vectoriser never forms `vpdpbusd` from scalar code). The packed
layout it reads and the assembly it compiles to are described in `kernels.cpu.int8_gemm`.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16                     # int32 lanes of a 512-bit register
VNNI_ROWS, VNNI_VECTORS = 8, 3  # the VNNI micro-tile: 8 rows x 3 registers of 16 columns
VNNI_COLS = LANES * VNNI_VECTORS


def _has_vnni(codegen) -> bool:
    """Whether Numba's code generator targets a CPU with AVX512-VNNI (its LLVM feature string,
    "+avx2,+avx512vnni,...", is the host CPU's unless NUMBA_CPU_NAME/NUMBA_CPU_FEATURES say
    otherwise)."""
    return "+avx512vnni" in codegen.magic_tuple()[2].split(",")


@intrinsic
def _vnni_tile(typingctx, ap, bp, a_start, b_start, quads, tile):
    """tile (VNNI_ROWS, VNNI_COLS) int32 = the product of one packed A panel and one packed B
    panel over `quads` groups of 4 k, with `vpdpbusd` on 512-bit registers.

    ap holds int8 quads (quad q, row r) at a_start + 4 (q VNNI_ROWS + r); bp holds uint8
    quads (quad q, column j) at b_start + 4 (q VNNI_COLS + j), so one 64-byte load is the
    quads of 16 adjacent columns. Per quad: VNNI_VECTORS loads of B, then for every row one
    broadcast of its 4 A bytes and VNNI_VECTORS `vpdpbusd acc, b, a`: lane j of acc +=
    sum_{t<4} b[j, t] a[t] (unsigned b times signed a, exact in int32, no saturation). The
    VNNI_ROWS x VNNI_VECTORS accumulators stay in registers for the whole loop (LLVM's SROA
    turns the allocas below into registers) and are stored to `tile` once.

    Compiled only where the target has AVX512-VNNI; elsewhere the body is a trap, since
    the wrapper never calls it there (and LLVM cannot emit the instruction).
    """
    sig = types.void(ap, bp, types.intp, types.intp, types.intp, tile)

    def codegen(context, builder, signature, args):
        ap_value, bp_value, a_start, b_start, quads, tile_value = args
        if not _has_vnni(context.codegen()):
            trap = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, trap, "llvm.trap"), [])
            return context.get_dummy_value()
        i8, i32, index = ir.IntType(8), ir.IntType(32), quads.type
        vector, as_bytes = ir.VectorType(i32, LANES), ir.VectorType(i8, 4 * LANES)
        dpbusd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector, as_bytes, as_bytes]),
            "llvm.x86.avx512.vpdpbusd.512")
        ap_array, bp_array, tile = (context.make_array(signature.args[i])(context, builder, v)
                                    for i, v in ((0, ap_value), (1, bp_value), (5, tile_value)))
        a_words = builder.bitcast(builder.gep(ap_array.data, [a_start]), i32.as_pointer())
        b_vectors = builder.bitcast(builder.gep(bp_array.data, [b_start]), vector.as_pointer())

        def load(pointer, offset):
            return builder.load(builder.gep(pointer, [offset]), align=1)

        def plus(value, constant):
            return builder.add(value, ir.Constant(index, constant))

        accumulators = [[cgutils.alloca_once_value(builder, ir.Constant(vector, None))
                         for _ in range(VNNI_VECTORS)] for _ in range(VNNI_ROWS)]
        with cgutils.for_range(builder, quads) as loop:
            b_first = builder.mul(loop.index, ir.Constant(index, VNNI_VECTORS))
            b = [builder.bitcast(load(b_vectors, plus(b_first, v)), as_bytes)
                 for v in range(VNNI_VECTORS)]
            a_first = builder.mul(loop.index, ir.Constant(index, VNNI_ROWS))
            for r in range(VNNI_ROWS):
                word = builder.insert_element(ir.Constant(vector, ir.Undefined),
                                              load(a_words, plus(a_first, r)), ir.Constant(i32, 0))
                splat = builder.shuffle_vector(word, ir.Constant(vector, ir.Undefined),
                                               ir.Constant(vector, None))  # lane 0 everywhere
                for v in range(VNNI_VECTORS):
                    total = builder.call(dpbusd, [builder.load(accumulators[r][v]), b[v],
                                                  builder.bitcast(splat, as_bytes)])
                    builder.store(total, accumulators[r][v])
        row_bytes = builder.extract_value(tile.strides, 0)
        for r in range(VNNI_ROWS):
            row = builder.gep(builder.bitcast(tile.data, i8.as_pointer()),
                              [builder.mul(row_bytes, ir.Constant(index, r))])
            for v in range(VNNI_VECTORS):
                builder.store(builder.load(accumulators[r][v]),
                              builder.gep(builder.bitcast(row, vector.as_pointer()),
                                          [ir.Constant(index, v)]), align=4)
        return context.get_dummy_value()

    return sig, codegen
