"""The inner loops of the depthwise kernels (`kernels.cpu.depthwise`; read its docstring
first): tap runs over flattened planes, which the forward and the input gradient use, and
the weight gradient's dot products.

A tap run computes dst[d0 + t] = sum_{i, j} w[i, j] src[s0 + rows[i] + cols[j] + t] for
t < n: every tap is a constant offset into the flat source, so the products are summed in a
register and t runs along contiguous memory, which LLVM vectorises. The undilated 3x3 case
is unrolled (`_nine_taps`, `_nine_tap_gradients`), with its nine weights in registers; other
kernels go tap by tap (`_tap_rows`, `_tap_dots`).

Numba's on-disk cache does not notice edits to this file in the kernels that use it: delete
`kernels/cpu/__pycache__/*.nb[ic]` after changing it.
"""

from __future__ import annotations

import numba
from numba import uint64

# fastmath flags (see "Numerics" in `kernels.cpu.depthwise`): fused multiply-add everywhere,
# and reassociation where a loop sums products.
MULTIPLY_ADD = {"contract"}
DOT_PRODUCTS = {"contract", "reassoc"}

# -- tap runs: the inner loops, on flattened planes with unsigned indices -----------------------
# Indices are uint64 because Numba wraps negative signed indices around (x[-1] is the last
# element); that check on every load turns contiguous vector loads into gathers. Unsigned
# indices cannot be negative, so the loads stay contiguous. (Mixing uint64 and int64 gives
# float64 in Numba, hence the explicit `uint64(...)` on constants.)


@numba.njit(cache=True, fastmath=MULTIPLY_ADD, inline="always")
def _nine_taps(src, s, rows, w):
    """sum_{i, j} w[3 i + j] src[s + rows[i] + j]: one output of a 3x3 tap run. The column
    offsets are constants, so they become displacements in the load instructions."""
    a, b, c = s + rows[0], s + rows[1], s + rows[2]
    one, two = uint64(1), uint64(2)
    acc = w[0] * src[a]
    acc += w[1] * src[a + one]
    acc += w[2] * src[a + two]
    acc += w[3] * src[b]
    acc += w[4] * src[b + one]
    acc += w[5] * src[b + two]
    acc += w[6] * src[c]
    acc += w[7] * src[c + one]
    acc += w[8] * src[c + two]
    return acc


@numba.njit(cache=True, fastmath=MULTIPLY_ADD, inline="always")
def _nine_tap_run(dst, d0, src, s0, n, rows, w):
    """One 3x3 tap run: per 8 outputs 9 loads, 9 multiply-adds and one store.

    Args: dst, src 1-D arrays; d0, s0, n uint64; rows 3-tuple of uint64; w 9-tuple.
    """
    for t in range(n):
        dst[d0 + t] = _nine_taps(src, s0 + t, rows, w)


@numba.njit(cache=True, fastmath=MULTIPLY_ADD, inline="always")
def _nine_tap_rows(dst, dst_pitch, src, src_pitch, count, run, last, rows, w):
    """`_tap_rows` for an undilated 3x3 kernel. All rows but the last have the same length,
    so LLVM checks once per call, not per row, that dst does not overlap src (which its
    vectorised loop needs)."""
    final = count - uint64(1)
    for row in range(final):
        _nine_tap_run(dst, row * dst_pitch, src, row * src_pitch, run, rows, w)
    _nine_tap_run(dst, final * dst_pitch, src, final * src_pitch, last, rows, w)


@numba.njit(cache=True, fastmath=MULTIPLY_ADD)
def _tap_rows(dst, dst_pitch, src, src_pitch, count, run, last, rows, cols, weights):
    """Tap runs, one per row, for any kernel: for row r < count and t < run (t < last in the
    last row),

        dst[r dst_pitch + t] = sum_{i, j} weights[i kw + j] src[r src_pitch + rows[i] +
                               cols[j] + t],

    accumulated tap by tap in dst (in L1): per tap one more load and store than
    `_nine_tap_rows`. Args: dst, src 1-D arrays; dst_pitch, src_pitch, count >= 1, run, last
    uint64; rows (kh,), cols (kw,) uint64; weights (kh kw,).
    """
    kw = cols.shape[0]
    final = count - uint64(1)
    for row in range(count):
        d0, s0, n = row * dst_pitch, row * src_pitch, run if row < final else last
        for tap in range(weights.shape[0]):
            start, w = s0 + rows[tap // kw] + cols[tap % kw], weights[tap]
            if tap == 0:
                for t in range(n):
                    dst[d0 + t] = w * src[start + t]
            else:
                for t in range(n):
                    dst[d0 + t] += w * src[start + t]


@numba.njit(cache=True, fastmath=DOT_PRODUCTS)
def _tap_dots(grad, g0, src, n, rows, cols, sums):
    """sums[i kw + j] += sum_t grad[g0 + t] src[rows[i] + cols[j] + t] for t < n: the weight
    gradient's kh kw dot products, tap by tap.

    Args: grad, src 1-D arrays; g0, n uint64; rows (kh,), cols (kw,) uint64; sums (kh kw,).
    """
    kw = cols.shape[0]
    for tap in range(sums.shape[0]):
        start, total = rows[tap // kw] + cols[tap % kw], sums[tap]
        for t in range(n):
            total += grad[g0 + t] * src[start + t]
        sums[tap] = total


@numba.njit(cache=True, fastmath=DOT_PRODUCTS, inline="always")
def _nine_tap_gradients(grad_in, stuffed, src, both, size, rows, w, sums):
    """Both gradients of one plane for an undilated 3x3 kernel, in one loop over the plane:

        grad_in[q] = sum_{i, j} w[3 i + j] stuffed[q + rows[i] + j]          for q < size
        sums[3 i + j] += stuffed[q + rows[2] + 2] src[q + rows[i] + j]       for q < both

    stuffed[q + rows[2] + 2] is the output gradient (`first`), one of the nine loads.
    Per 8 positions: 18 loads, 18 multiply-adds, one store; nine vector partial sums stay in
    registers. Args: grad_in, stuffed, src 1-D arrays; both <= size uint64; rows 3-tuple of
    uint64; w 9-tuple (the flipped kernel); sums (9,).
    """
    a, b, c = rows
    one, two = uint64(1), uint64(2)
    s0, s1, s2, s3, s4 = sums[0], sums[1], sums[2], sums[3], sums[4]
    s5, s6, s7, s8 = sums[5], sums[6], sums[7], sums[8]
    for q in range(both):
        g = stuffed[q + c + two]
        grad_in[q] = _nine_taps(stuffed, q, rows, w)
        s0 += g * src[q + a]
        s1 += g * src[q + a + one]
        s2 += g * src[q + a + two]
        s3 += g * src[q + b]
        s4 += g * src[q + b + one]
        s5 += g * src[q + b + two]
        s6 += g * src[q + c]
        s7 += g * src[q + c + one]
        s8 += g * src[q + c + two]
    sums[0], sums[1], sums[2], sums[3], sums[4] = s0, s1, s2, s3, s4
    sums[5], sums[6], sums[7], sums[8] = s5, s6, s7, s8
    _nine_tap_run(grad_in, both, stuffed, both, size - both, rows, w)


@numba.njit(cache=True, inline="always")
def _unit_3x3(rows, cols):
    """Whether the taps are an undilated 3x3 kernel on unit columns (`_nine_taps`'s case)."""
    return rows.shape[0] == 3 and cols.shape[0] == 3 and cols[1] == 1 and cols[2] == 2


@numba.njit(cache=True, inline="always")
def _nine(a):
    """The 9 weights of a 3x3 kernel as a tuple: scalars in registers, not loads."""
    return a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]
