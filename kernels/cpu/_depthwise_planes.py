"""The parallel kernels of `kernels.cpu.depthwise` (read its docstring first): one task per
chunk of (n, c) planes, each plane finished while it is in cache. The forward runs one tap
run per output row; the backward stuffs a plane's output gradient into a zero-bordered
scratch plane and makes both gradients from it.

Numba's on-disk cache does not notice edits to this file in the kernels that use it: delete
`kernels/cpu/__pycache__/*.nb[ic]` after changing it.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import uint64

from kernels.cpu._depthwise_taps import (
    DOT_PRODUCTS,
    MULTIPLY_ADD,
    _nine,
    _nine_tap_gradients,
    _nine_tap_rows,
    _tap_dots,
    _tap_rows,
    _unit_3x3,
)


@numba.njit(cache=True, fastmath=False)
def _subsample(dense, pitch, out, out_h, out_w, step):
    """out[y OW + x] = dense[y pitch + step x]: every step-th column of the dense rows. The
    stride 2 loop has a constant step, which LLVM vectorises with shuffles."""
    two = uint64(2)
    for y in range(uint64(out_h)):
        d, s = y * uint64(out_w), y * uint64(pitch)
        if step == 2:
            for x in range(uint64(out_w)):
                out[d + x] = dense[s + two * x]
        else:
            for x in range(uint64(out_w)):
                out[d + x] = dense[s + uint64(step) * x]


@numba.njit(parallel=True, cache=True, fastmath=MULTIPLY_ADD)
def _forward_planes(xp, weights, rows, cols, geometry, tasks, out):
    """out[p, y OW + x] = sum_{i, j} weights[p % C, i kw + j] xp[p, sh y Wp + rows[i] +
    cols[j] + sw x].

    Loop order: prange over tasks (chunks of planes) > planes > output rows (one tap run
    each, see `kernels.cpu.depthwise`) > outputs of the run (vectorised) > taps (unrolled for
    3x3). For sw = 1 the runs write the output directly, rounded up to `run` outputs; the
    spill of a plane's last row lands in the next plane's first row, which the same task
    computes next, so only a task's very last row runs exactly OW. For sw > 1 the runs
    compute dense rows (every column, (OW - 1) sw + 1 of them) into a scratch and
    `_subsample` keeps every sw-th: sw times the multiply-adds, but contiguous loads.

    Args: xp (P, Hp Wp) C-contiguous; weights (C, kh kw); rows (kh,), cols (kw,) uint64 tap
    offsets (i dh Wp, j dw); geometry (Wp, OH, OW, sh, sw, run), run = the run length of
    every row but the last (for sw > 1, of the dense rows, and their pitch); tasks = number
    of chunks; out (P, OH OW), written in full.
    Memory traffic: one read of xp, one write of out. FLOPs: 2 P OH OW kh kw (times sw).
    """
    width, out_h, out_w, sh, sw, run = geometry
    planes, channels = xp.shape[0], weights.shape[0]
    step, dense_last = uint64(sh * width), uint64((out_w - 1) * sw + 1)
    unit = _unit_3x3(rows, cols)
    offsets = (rows[0], rows[1], rows[2]) if unit else (uint64(0), uint64(0), uint64(0))
    flat_in, flat_out = xp.reshape(xp.size), out.reshape(out.size)
    plane_in, plane_out = xp.shape[1], out.shape[1]
    for task in numba.prange(tasks):
        dense = np.empty(out_h * run if sw > 1 else 0, dtype=xp.dtype)
        end = (task + 1) * planes // tasks
        for p in range(task * planes // tasks, end):
            if sw == 1 and unit:
                last = run if p + 1 < end else out_w
                _nine_tap_rows(flat_out[p * plane_out:], uint64(out_w), flat_in[p * plane_in:],
                               step, uint64(out_h), uint64(run), uint64(last), offsets,
                               _nine(weights[p % channels]))
            elif sw == 1:
                _tap_rows(out[p], uint64(out_w), xp[p], step, uint64(out_h), uint64(run),
                          uint64(out_w), rows, cols, weights[p % channels])
            else:
                if unit:
                    _nine_tap_rows(dense, uint64(run), xp[p], step, uint64(out_h),
                                   uint64(run), dense_last, offsets,
                                   _nine(weights[p % channels]))
                else:
                    _tap_rows(dense, uint64(run), xp[p], step, uint64(out_h), uint64(run),
                              dense_last, rows, cols, weights[p % channels])
                _subsample(dense, run, out[p], out_h, out_w, sw)


@numba.njit(cache=True, fastmath=False)
def _stuff(g, out_h, out_w, first, row_step, step, stuffed):
    """stuffed[first + y row_step + step x] = g[y OW + x]; a plain row copy for step = 1."""
    width, start = uint64(out_w), uint64(first)
    for y in range(uint64(out_h)):
        src, dst = y * width, start + y * uint64(row_step)
        if step == 1:
            for x in range(width):
                stuffed[dst + x] = g[src + x]
        else:
            for x in range(width):
                stuffed[dst + uint64(step) * x] = g[src + x]


@numba.njit(parallel=True, cache=True, fastmath=DOT_PRODUCTS)
def _backward_planes(grad_out, xp, flipped, rows, cols, geometry, want_input, want_weight,
                     tasks, grad_xp, weight_partials):
    """Both gradients of a plane from one scratch plane `stuffed` (see `kernels.cpu.depthwise`):

        stuffed[first + sh y Wp + sw x] = grad_out[p, y OW + x], 0 elsewhere
        grad_xp[p, q]               = sum_{i, j} flipped[c, i kw + j] stuffed[q + rows[i] + cols[j]]
        weight_partials[p, i kw + j] = sum_q stuffed[first + q] xp[p, q + rows[i] + cols[j]]

    with rows[i] = i dh Wp, cols[j] = j dw, first = rows[-1] + cols[-1]. Only the grad_out
    positions of `stuffed` are rewritten per plane, so it is zeroed once per task.
    Loop order: prange over tasks > planes > (copy g in; one loop over the flat plane for
    both gradients, vectorised, taps unrolled for 3x3).

    Args: grad_out (P, OH OW); xp (P, Hp Wp); flipped (C, kh kw), each kernel reversed;
    rows (kh,), cols (kw,) uint64; geometry (Hp, Wp, OH, OW, sh, sw, rows of stuffed);
    grad_xp (P, Hp Wp) written in full if want_input; weight_partials (P, kh kw), zeros in,
    the sums out, if want_weight (either may be an unused empty array when its flag is off).
    Memory traffic: one read of grad_out, one read of xp if want_weight, one write of grad_xp
    if want_input. FLOPs: 2 kh kw P Hp Wp (input) and 2 kh kw P ((OH - 1) sh + 1) Wp
    (weight): each 2 kh kw P OH OW, plus the padding border, for stride 1.
    """
    height, width, out_h, out_w, sh, sw, stuffed_rows = geometry
    planes, channels = xp.shape[0], flipped.shape[0]
    first = rows[rows.shape[0] - 1] + cols[cols.shape[0] - 1]
    both = uint64((out_h - 1) * sh * width + (out_w - 1) * sw + 1)
    size = uint64(height * width)
    unit = _unit_3x3(rows, cols)
    offsets = (rows[0], rows[1], rows[2]) if unit else (uint64(0), uint64(0), uint64(0))
    for task in numba.prange(tasks):
        stuffed = np.zeros(stuffed_rows * width, dtype=xp.dtype)
        # the fused 3x3 loop makes both gradients; the one not asked for goes here
        unused_input = np.empty(height * width if unit and not want_input else 0, xp.dtype)
        unused_sums = np.zeros(9 if unit and not want_weight else 0, xp.dtype)
        for p in range(task * planes // tasks, (task + 1) * planes // tasks):
            _stuff(grad_out[p], out_h, out_w, first, sh * width, sw, stuffed)
            if unit:
                _nine_tap_gradients(grad_xp[p] if want_input else unused_input, stuffed,
                                    xp[p], both, size, offsets, _nine(flipped[p % channels]),
                                    weight_partials[p] if want_weight else unused_sums)
                continue
            if want_input:
                _tap_rows(grad_xp[p], size, stuffed, size, uint64(1), size, size, rows, cols,
                          flipped[p % channels])
            if want_weight:
                _tap_dots(stuffed, first, xp[p], both, rows, cols, weight_partials[p])
