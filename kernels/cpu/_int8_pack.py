"""Packing for `kernels.cpu.int8_gemm`: the operands cut into the panels its micro-kernels
read in order, 4 bytes of k to a 32-bit word, with the sign flip (uint8 <-> int8, x ^ 0x80)
and the row / column sums of the flipped bytes that the zero-point correction needs. The
layouts are drawn in `kernels.cpu.int8_gemm`'s module docstring.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import uint32


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
