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

Packing. A is cut into panels of VNNI_ROWS rows and B into panels of VNNI_COLS columns, K
padded with zeros to a multiple of 4 (zeros add nothing to products or sums), in the layout
the micro-kernel reads in order:

    A panel i (8 rows):     q = 0: a'[8i, 0:4] a'[8i+1, 0:4] ... a'[8i+7, 0:4]       32 bytes
                            q = 1: a'[8i, 4:8] ...
    B panel j (48 columns): q = 0: b'[0:4, 48j] b'[0:4, 48j+1] ... b'[0:4, 48j+47]  192 bytes
                                   = 3 registers of 16 columns x 4 bytes
                            q = 1: b'[4:8, 48j] ...

Micro-kernel (`_vnni_tile`, LLVM IR written through Numba's `@intrinsic`, because LLVM's
auto-vectoriser never forms `vpdpbusd` from scalar code): an 8 x 48 int32 tile held in 24
zmm registers for the whole K loop. `inspect_asm` of its inner loop shows, per quad of k:
3 x `vmovdqu64` (the B quads, 64 bytes each), 8 x `vpbroadcastd` (one row's 4 A bytes to all
16 lanes) and 24 x `vpdpbusd zmm` (64 multiply-adds each: 1536 per quad), zmm0-23 as
accumulators, no spills: 24 multiply-add instructions per 11 loads.

Portable micro-kernel (`_portable_tile`, plain Numba), for CPUs without AVX512-VNNI: a 4 x 4
tile of dot products over k, panels of 4 rows of A and 4 columns of B, each k-contiguous. The
loop vectoriser turns the 16 scalar int32 accumulators into vectors over k; the assembly on
this CPU, per 8 k: 8 x `vpmovsxbd`/`vpmovzxbd ymm` (8 bytes to 8 dwords) and 16 x
`vpdpwssd ymm`; compiled for Haswell (NUMBA_CPU_NAME=haswell), 16 x `vpmaddwd ymm` plus adds.
Each 32-bit lane holds one product (its upper 16-bit half is 0), so these run at half the
width of a packed multiply-add: 8 multiply-adds per instruction against `vpdpbusd zmm`'s 64.

Which one runs is decided when the module loads, from the features Numba compiles for
(`USE_VNNI`); the intrinsic compiles to a trap where the target lacks VNNI, so the same code
compiles on any CPU. Parallelism: `_gemm_tasks` splits the output into TASK_ROWS x
TASK_COLS blocks, one per `prange` task (disjoint writes); calls below SERIAL_BELOW
multiply-adds run on one thread. FLOPs: 2 M N K integer operations (plus O(M N) for the
epilogue). Memory traffic: one pass over a and b to pack them, packed A re-read N / TASK_COLS
and packed B M / TASK_ROWS times (from L2/L3), out written once.

Debugging: `NUMBA_DISABLE_JIT=1` cannot run the `@intrinsic`; set `USE_VNNI = False` (the
portable path) to step through the rest as plain Python.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np
from llvmlite import ir
from numba import int32, types, uint32
from numba.core import cgutils
from numba.core.registry import cpu_target
from numba.extending import intrinsic

from kernels.reference.int8_gemm import INT32_RANGE, _check_operands, _check_output, _check_scales

__all__ = ["int8_gemm", "int8_gemm_dequantize", "int8_gemm_requantize"]

# -- tile geometry --------------------------------------------------------------------------

LANES = 16                     # int32 lanes of a 512-bit register
VNNI_ROWS, VNNI_VECTORS = 8, 3  # the VNNI micro-tile: 8 rows x 3 registers of 16 columns
VNNI_COLS = LANES * VNNI_VECTORS
PORTABLE_ROWS = PORTABLE_COLS = 4  # the portable micro-tile: 4 x 4 dot products
TASK_ROWS, TASK_COLS = 96, 384   # one parallel task: a block of the output
MAX_DEPTH = 2**16                # the deepest K whose int32 sums are exact (see above)

# epilogue modes of the tile driver
INT32, DEQUANTIZE, REQUANTIZE = 0, 1, 2


def _has_vnni(codegen) -> bool:
    """Whether Numba's code generator targets a CPU with AVX512-VNNI (its LLVM feature string,
    "+avx2,+avx512vnni,...", is the host CPU's unless NUMBA_CPU_NAME/NUMBA_CPU_FEATURES say
    otherwise)."""
    return "+avx512vnni" in codegen.magic_tuple()[2].split(",")


USE_VNNI = _has_vnni(cpu_target.target_context.codegen())
"""Whether the kernels take the vpdpbusd path: decided when this module loads; tests set it
to False to run the portable path on a VNNI machine."""


# -- the VNNI micro-kernel, in LLVM IR --------------------------------------------------------


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


# -- the portable micro-kernel, plain Numba ---------------------------------------------------


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


# -- packing ---------------------------------------------------------------------------------


@numba.njit(cache=True)
def _flipped(byte, flip, signed):
    """byte xor flip, read as int8 if signed, else as uint8 (as int64: no uint8 wrap-around
    when run as plain Python)."""
    value = np.int64(byte) ^ flip
    return value - ((value >> 7) << 8) * signed


@numba.njit(cache=True)
def _byte_sum(values, flip, signed):
    """sum of `_flipped` over values (1-D uint8)."""
    total = 0
    for byte in values:
        total += _flipped(byte, flip, signed)
    return total


@numba.njit(cache=True)
def _word(b0, b1, b2, b3):
    """Four bytes as one little-endian 32-bit word, b0 the lowest. uint32 throughout: Numba's
    default int64 arithmetic would keep LLVM from vectorising loops of these into
    zero-extensions, shifts and ors of whole registers."""
    return (uint32(b0) | uint32(b1) << uint32(8) | uint32(b2) << uint32(16)
            | uint32(b3) << uint32(24))


@numba.njit(cache=True)
def _word_index(p, panel, quad_count, q, r, vnni_layout):
    """Where word q of row (or column) r of panel p goes: (q, r) order within a panel in the
    VNNI layout, (r, q) in the portable one (see `_pack_rows`)."""
    return p * panel * quad_count + (q * panel + r if vnni_layout else r * quad_count + q)


@numba.njit(parallel=True, cache=True)
def _pack_rows(src, panel, vnni_layout, flip, signed, words, sums):
    """Pack the rows of src (R, K) uint8, C-contiguous, into panels of `panel` rows.

    A panel holds the 32-bit words (the 4 bytes k = 4q..4q+3) of `panel` rows for q <
    ceil(K / 4): ordered (q, row) in the VNNI layout (the words of all the panel's rows side
    by side for each q), (row, q) in the portable one (row after row). Every byte is xor-ed
    with flip (0 or 0x80: uint8 <-> int8 with 128 taken away or added); the padding (bytes
    past K, rows past R: `words` is zeroed by the caller) stays 0. sums[row] = the row sum of
    the flipped bytes, read as int8 if signed, else as uint8.

    Loop order: prange over panels > rows > q. Memory traffic: one read of src, one write
    of words.
    """
    rows, k_in = src.shape
    quad_count, full = -(-k_in // 4), k_in // 4
    flip_word = uint32(flip * 0x01010101)
    for p in numba.prange(-(-rows // panel)):
        for r in range(min(panel, rows - p * panel)):
            row = src[p * panel + r]
            sums[p * panel + r] = _byte_sum(row, flip, signed)
            for q in range(full):
                k = 4 * q
                words[_word_index(p, panel, quad_count, q, r, vnni_layout)] = flip_word ^ _word(
                    row[k], row[k + 1], row[k + 2], row[k + 3])
            for k in range(4 * full, k_in):
                words[_word_index(p, panel, quad_count, full, r, vnni_layout)] |= (
                    uint32(row[k] ^ flip) << uint32(8 * (k % 4)))


@numba.njit(parallel=True, cache=True)
def _pack_columns(src, panel, vnni_layout, flip, signed, words, sums):
    """`_pack_rows` for the columns of src (K, C) uint8, C-contiguous: the same panels, each
    word built from 4 rows of src. sums[column] = the column sum of the flipped bytes.

    Loop order: prange over panels > q > the panel's columns (innermost: contiguous in src and,
    in the VNNI layout, in words, so LLVM vectorises the gathering of 4 bytes into words).
    """
    k_in, cols = src.shape
    quad_count, full = -(-k_in // 4), k_in // 4
    flip_word = uint32(flip * 0x01010101)
    for p in numba.prange(-(-cols // panel)):
        first, width = p * panel, min(panel, cols - p * panel)
        totals = np.zeros(width, dtype=np.int64)
        for k in range(k_in):
            row = src[k, first:first + width]
            for j in range(width):
                totals[j] += _flipped(row[j], flip, signed)
        sums[first:first + width] = totals
        for q in range(full):
            start = _word_index(p, panel, quad_count, q, 0, vnni_layout)
            if vnni_layout:  # a contiguous run: LLVM vectorises the stores
                _gather_words(src[4 * q:4 * q + 4, first:first + width], flip_word,
                              words[start:start + width])
            else:
                _gather_words(src[4 * q:4 * q + 4, first:first + width], flip_word,
                              words[start:start + width * quad_count:quad_count])
        for k in range(4 * full, k_in):
            for j in range(width):
                words[_word_index(p, panel, quad_count, full, j, vnni_layout)] |= (
                    uint32(src[k, first + j] ^ flip) << uint32(8 * (k % 4)))


@numba.njit(cache=True)
def _gather_words(rows, flip_word, out):
    """out[j] = the bytes rows[0..3, j] as one 32-bit word (`_word`), xor flip_word."""
    b0, b1, b2, b3 = rows[0], rows[1], rows[2], rows[3]
    for j in range(out.shape[0]):
        out[j] = flip_word ^ _word(b0[j], b1[j], b2[j], b3[j])


# -- the driver: tiles, zero points, epilogues ----------------------------------------------


@numba.njit(cache=True)
def _finish_block(block, row0, col0, out, row_term, col_term, scale, bias, out_scale,
                  out_zero_point, qmin, qmax, mode, overflow):
    """Write a block of the output from its zero-point-free product `block`.

    value = block + row_term[m] - col_term[n] is the exact sum_k (a - za)(b - zb) (the
    gemmlowp identity, see the module docstring); then by `mode`: INT32 stores it (and sets
    overflow[m] if a value does not fit), DEQUANTIZE stores float32(value scale[n] +
    bias[n]), REQUANTIZE stores clamp(rint((value scale[n] + bias[n]) / out_scale) +
    out_zero_point, qmin, qmax). The float arithmetic is float64 in the reference's order,
    so the results are the reference's bit for bit. Only the part inside `out` is written.
    One loop per mode, none with a branch inside, so that LLVM vectorises each.

    Args: block (TASK_ROWS, TASK_COLS) int32, starting at (row0, col0) of out (M, N);
    row_term (M,), col_term (N,) int64; scale, bias (N,) float64; out_scale float;
    out_zero_point, qmin, qmax ints; overflow (M,) bool.
    """
    cols = min(block.shape[1], out.shape[1] - col0)
    terms, scales, offsets = (col_term[col0:col0 + cols], scale[col0:col0 + cols],
                              bias[col0:col0 + cols])
    for r in range(min(block.shape[0], out.shape[0] - row0)):
        m = row0 + r
        row, shift, out_row = block[r, :cols], row_term[m], out[m, col0:col0 + cols]
        if mode == INT32:
            low, high = INT32_RANGE[1], INT32_RANGE[0]
            for j in range(cols):
                value = row[j] + shift - terms[j]
                low, high = min(low, value), max(high, value)
                out_row[j] = value
            if low < INT32_RANGE[0] or high > INT32_RANGE[1]:
                overflow[m] = True  # never write False: tasks of other columns share row m
        elif mode == DEQUANTIZE:
            for j in range(cols):
                out_row[j] = np.float64(row[j] + shift - terms[j]) * scales[j] + offsets[j]
        else:
            for j in range(cols):
                real = np.float64(row[j] + shift - terms[j]) * scales[j] + offsets[j]
                q = np.int64(min(max(np.rint(real / out_scale) + out_zero_point, qmin), qmax))
                out_row[j] = q - 256 if q > 127 else q  # uint8 128..255 in an int8 view


@numba.njit(parallel=True, cache=True)
def _gemm_tasks(ap, bp, depth, vnni, out, row_term, col_term, scale, bias, out_scale,
                out_zero_point, qmin, qmax, mode, overflow):
    """out (M, N) from packed A and B, one TASK_ROWS x TASK_COLS block per parallel task.

    Loop order: prange over tasks > column panels (a B panel, tile_cols x depth bytes, read
    from L1/L2 by all the task's row panels) > row panels (an A panel, tile_rows x depth
    bytes; the task's TASK_ROWS rows of A stay in L2) > the micro-kernel, whose int32 tile
    goes into the task's block > the epilogue on the whole block (in L2), row by row. Tasks
    write disjoint blocks of out; several may set the same overflow[m], only ever to True.

    Args: ap, bp: packed int8 / uint8 panels (`_pack_rows`), tile_rows x depth and
    tile_cols x depth bytes each; depth: K rounded up to a multiple of 4; vnni: which
    micro-kernel (and layout); the rest as in `_finish_block`. FLOPs: 2 M N depth. Memory
    traffic: A read N / TASK_COLS times, B read M / TASK_ROWS times, out written once.
    """
    rows, cols = out.shape
    tile_rows, tile_cols = (VNNI_ROWS, VNNI_COLS) if vnni else (PORTABLE_ROWS, PORTABLE_COLS)
    col_tasks = -(-cols // TASK_COLS)
    for task in numba.prange(-(-rows // TASK_ROWS) * col_tasks):
        first_row, first_col = task // col_tasks * TASK_ROWS, task % col_tasks * TASK_COLS
        block = np.empty((TASK_ROWS, TASK_COLS), np.int32)
        for j in range(0, min(TASK_COLS, cols - first_col), tile_cols):
            for i in range(0, min(TASK_ROWS, rows - first_row), tile_rows):
                tile = block[i:i + tile_rows, j:j + tile_cols]
                row_panel, col_panel = (first_row + i) * depth, (first_col + j) * depth
                if vnni:
                    _vnni_tile(ap, bp, row_panel, col_panel, depth // 4, tile)
                else:
                    _portable_tile(ap, bp, row_panel, col_panel, depth, tile)
        _finish_block(block, first_row, first_col, out, row_term, col_term, scale, bias,
                      out_scale, out_zero_point, qmin, qmax, mode, overflow)


# -- the public kernels -----------------------------------------------------------------------

# Below this many multiply-adds a call runs on one thread: 2^24 (256^3) take about 50 us on
# one core with VNNI, where starting the parallel region would cost a sizeable fraction.
SERIAL_BELOW = 2**24


@contextlib.contextmanager
def _threads_for(work: int):
    if work >= SERIAL_BELOW:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _pack(x: np.ndarray, panel: int, vnni: bool, flip: int, signed: bool) -> tuple:
    """(packed panels as uint8, row sums) of the rows of x (R, K) int8/uint8, any layout."""
    rows, k = x.shape
    words = np.zeros(-(-rows // panel) * panel * -(-k // 4), dtype=np.uint32)
    sums = np.empty(rows, dtype=np.int64)
    if x.flags.c_contiguous:
        _pack_rows(x.view(np.uint8), panel, vnni, flip, signed, words, sums)
    else:  # the columns of a C-contiguous x.T; other layouts are copied to one first
        _pack_columns(np.ascontiguousarray(x.T).view(np.uint8), panel, vnni, flip, signed,
                      words, sums)
    return words.view(np.uint8), sums


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


def int8_gemm(a: np.ndarray, b: np.ndarray, a_zero_point: int = 0,
              b_zero_point: int = 0) -> np.ndarray:
    """sum_k (a[m, k] - a_zero_point)(b[k, n] - b_zero_point) as int32, exactly.

    Args:
        a: (M, K) int8 or uint8; b: (K, N) int8 or uint8; any memory layout.
        a_zero_point, b_zero_point: ints in the range of a's and b's dtype.

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
