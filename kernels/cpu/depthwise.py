"""Depthwise 2-D convolution (MobileNet's per-channel 3x3) as Numba CPU kernels.

Same names, signatures and results as `kernels.reference.depthwise_conv2d_forward` and
`depthwise_conv2d_backward`; read those first. Notation: `xp` is the padded input
(N, C, Hp, Wp), `weight` is (C, 1, kh, kw), the output is (N, C, OH, OW), (sh, sw) the stride,
(dh, dw) the dilation, P = N C the number of planes.

    out[n, c, y, x] = sum_{i, j} weight[c, 0, i, j] xp[n, c, i dh + sh y, j dw + sw x]

The reference adds kh kw shifted views of the whole batch, so every tap streams the full
input and output through memory. Here each (n, c) plane is read once and finished while it
is in the L1/L2 cache, and all three products are one kind of loop, a *tap run* over a
flattened plane:

    dst[d0 + t] = sum_{i, j} w[i, j] src[s0 + rows[i] + cols[j] + t]      for t < n

A tap is a constant offset into the flat source, so the kh kw products are summed in a
register and each output is stored once; t runs along contiguous memory, so LLVM vectorises
the loop (8 float32 lanes). `_nine_taps` unrolls the undilated 3x3 case, whose column
offsets 0, 1, 2 are constants in the load instructions; other kernels (other sizes,
dilation) accumulate tap by tap in the output row (`_tap_rows`).

- Forward: one run per output row, s0 = sh y Wp. A row of 14 outputs would spend most of
  its time in the loop's scalar remainder and its per-row set-up, so every row runs OW
  rounded up to a multiple of 8 (`_row_run`): the extra outputs land in the next output row,
  which overwrites them, and a plane's last row spills into the next plane's first, which
  the same thread computes next; only a thread's very last row runs exactly OW. A column
  stride sw > 1 would make a run read every sw-th element, which does not vectorise; so for
  sw > 1 the runs compute dense rows (every column) into a scratch and `_subsample` keeps
  every sw-th output: sw times the multiply-adds, all on contiguous loads, in cache.
- Backward: a plane's output gradient g is copied into a zeroed scratch plane `stuffed` of
  xp's width, each g[y, x] at row (kh - 1) dh + sh y, column (kw - 1) dw + sw x (zeros
  between the values for a stride). Then

      grad_xp[q] = sum_{i, j} w[kh-1-i, kw-1-j] stuffed[q + i dh Wp + j dw]  (a forward run
                   with the flipped kernel over the whole flat plane: the adjoint)
      dweight[i, j] = sum_q stuffed[q + first] xp[q + i dh Wp + j dw],  first = (kh-1) dh Wp
                   + (kw-1) dw

  For 3x3 both come out of one loop (`_nine_tap_gradients`): the same nine offsets into
  `stuffed` and into xp, and g is one of the nine loads. The zeros make the flat runs exact:
  a read that wraps past a row's end lands in the zero border of the next row. With a stride
  they cost sh sw times the multiply-adds of the dense gradient, but the loops stay
  vectorised and in cache.

Parallelism: `numba.prange` over chunks of planes (planes are independent; each chunk
allocates its scratch once). The weight gradient sums over n, so each plane writes its own
kh kw sums into an (N C, kh kw) array that the wrapper sums over N: no races, and all N C
planes in flight.

Numerics: `fastmath={"contract"}` lets LLVM fuse each multiply and add into one FMA (one
rounding instead of two), and the loops that sum products (the weight gradient) also get
"reassoc" so LLVM can keep vector partial sums. Neither changes how NaN or inf propagate, or
the worst-case error bound of a sum, gamma_n sum |w x|; results differ from the reference by
float rounding (tests: rtol = atol = 1e-5 in float32, 1e-12 in float64, on values in [-1, 1]).
float16 inputs are computed in float32 and rounded back once, as
`kernels.reference.channel_sum` and PyTorch do for half precision. Only float32 and float64
are compiled (two specialisations per kernel).

Debugging: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k depthwise` runs the
kernels as plain Python, so `print` and `pdb` work inside them and an out-of-range index
raises instead of reading stray memory. The first call compiles the kernels (seconds) and
caches them on disk next to this file (`cache=True`); later processes load them.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import uint64

from kernels.cpu._threads import serial_below

# A row's run is rounded up to a multiple of this many outputs (8 float32 lanes of an AVX2
# register, two registers of float64), so that it never ends in the scalar remainder loop.
VECTOR = 8


# fastmath flags (see "Numerics" above): fused multiply-add everywhere, and reassociation where
# a loop sums products.
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


# -- the parallel kernels: one plane at a time -------------------------------------------------


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
    each, see the module docstring) > outputs of the run (vectorised) > taps (unrolled for
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
    """Both gradients of a plane from one scratch plane `stuffed` (see the module docstring):

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


# -- layout and geometry ----------------------------------------------------------------------


def _compute_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """The dtype the kernels compute in: the input's, except float16 -> float32."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    raise ValueError(f"{op}: dtype {dtype} is not supported; expected float16, float32 or "
                     f"float64")


def _check_geometry(op: str, xp: np.ndarray, weight: np.ndarray, stride: tuple,
                    dilation: tuple, out_size: tuple) -> None:
    """Reject what would make the kernels read or write outside xp (Numba does not check)."""
    if xp.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D (N, C, Hp, Wp) input, got shape {xp.shape}")
    c = xp.shape[1]
    if weight.ndim != 4 or weight.shape[:2] != (c, 1):
        raise ValueError(f"{op}: expected a ({c}, 1, kh, kw) weight for {c} channels, got "
                         f"shape {weight.shape}")
    if min(*stride, *dilation) < 1:
        raise ValueError(f"{op}: stride {tuple(stride)} and dilation {tuple(dilation)} must "
                         f"be positive")
    if min(out_size) < 1:
        return  # an empty output reads nothing
    needed = tuple((o - 1) * s + (k - 1) * d + 1
                   for o, s, k, d in zip(out_size, stride, weight.shape[2:], dilation, strict=True))
    if needed[0] > xp.shape[2] or needed[1] > xp.shape[3]:
        raise ValueError(f"{op}: an output of size {tuple(out_size)} needs a padded input of at "
                         f"least {needed}, got {xp.shape[2:]}")


def _tap_offsets(kernel: tuple, dilation: tuple, width: int) -> tuple:
    """(rows (kh,), cols (kw,)) uint64: tap (i, j) is at offset rows[i] + cols[j] = i dh Wp +
    j dw from the top-left corner of its window in a flat plane of width Wp."""
    (kh, kw), (dh, dw) = kernel, dilation
    return (np.array([i * dh * width for i in range(kh)], dtype=np.uint64),
            np.array([j * dw for j in range(kw)], dtype=np.uint64))


def _row_run(needed: int, out_h: int, sh: int, rows: np.ndarray, cols: np.ndarray,
             height: int, width: int, spills: bool) -> int:
    """Run length of every output row but the last: `needed` rounded up to a multiple of
    VECTOR, if the extra reads stay inside the plane and, when the extra outputs `spill`
    into the next row (which overwrites them), they stay inside it; else `needed`."""
    run = -(-needed // VECTOR) * VECTOR
    if out_h < 2 or (spills and run > 2 * needed):
        return needed
    furthest = sh * (out_h - 2) * width + int(rows[-1]) + int(cols[-1]) + run - 1
    return run if furthest < height * width else needed


def _tasks(planes: int) -> int:
    """Chunks of planes: one per thread (Numba gives each thread an equal share of a prange
    anyway); each allocates its scratch once and ends in the one exact-length row."""
    return max(1, min(planes, numba.get_num_threads()))


# -- the public kernels: checks, layout, then one call ------------------------------------------

# Below this many multiply-adds a call runs on one thread: it takes well under a millisecond
# on one core (the digits MobileNet's layers: 0.6M to 1.2M), less than what a parallel region
# can lose. Inside a training step the other core is rarely free: OpenBLAS's worker threads
# spin for a while after each GEMM (and with Numba's OpenMP layer, its own idle threads spin
# too), and a static prange waits for its slowest half. In the digits MobileNet's step on 2
# cores its depthwise layers took 1.6 ms serially and 16 ms in parallel, which made the whole
# step 3x slower (docs/concepts/kernels/depthwise.md).
SERIAL_BELOW = 4_000_000


def _threads_for(work: int):
    """Run the block on one Numba thread when `work` (multiply-adds) is below SERIAL_BELOW."""
    return serial_below(work, SERIAL_BELOW)  # read now: tests may change it


def depthwise_conv2d_forward(xp: np.ndarray, weight: np.ndarray, stride: tuple,
                             dilation: tuple, out_size: tuple) -> np.ndarray:
    """Depthwise convolution, one (n, c) plane per task and one tap run per output row.

    Args:
        xp: (N, C, Hp, Wp) padded input, float16, float32 or float64, any memory layout (a
            non-contiguous or float16 input is copied first).
        weight: (C, 1, kh, kw), one filter per channel.
        stride: (sh, sw).
        dilation: (dh, dw).
        out_size: (OH, OW); xp must be at least ((OH - 1) sh + (kh - 1) dh + 1, (OW - 1) sw +
            (kw - 1) dw + 1).

    Returns:
        (N, C, OH, OW) array of xp's dtype. FLOPs: 2 N C OH OW kh kw. Memory traffic: one read
        of xp and one write of the output (the dense rows for sw > 1 stay in cache).

    Raises:
        ValueError: xp not 4-D, a weight that is not (C, 1, kh, kw), a dtype other than
            float16/32/64, a stride or dilation below 1, or an xp too small for out_size.
    """
    op = "depthwise_conv2d_forward"
    dtype = _compute_dtype(op, xp.dtype)
    _check_geometry(op, xp, weight, stride, dilation, out_size)
    n, c, height, width = xp.shape
    (sh, sw), (dh, dw) = tuple(map(int, stride)), tuple(map(int, dilation))
    out_h, out_w = map(int, out_size)
    out = np.empty((n * c, out_h * out_w), dtype=dtype)
    if out.size:
        rows, cols = _tap_offsets(weight.shape[2:], (dh, dw), width)
        # sw = 1: rows of OW outputs, spilling; sw > 1: dense rows of every column, in a
        # scratch of that pitch
        needed = out_w if sw == 1 else (out_w - 1) * sw + 1
        run = _row_run(needed, out_h, sh, rows, cols, height, width, spills=sw == 1)
        with _threads_for(out.size * weight.shape[2] * weight.shape[3]):
            _forward_planes(np.ascontiguousarray(xp, dtype=dtype).reshape(n * c, -1),
                            np.ascontiguousarray(weight, dtype=dtype).reshape(c, -1),
                            rows, cols, (width, out_h, out_w, sh, sw, run),
                            _tasks(n * c), out)
    return out.reshape(n, c, out_h, out_w).astype(xp.dtype, copy=False)


def depthwise_conv2d_backward(grad_out: np.ndarray, xp: np.ndarray, weight: np.ndarray,
                              stride: tuple, dilation: tuple,
                              needs_input_grad: tuple = (True, True)) -> tuple:
    """Gradients of `depthwise_conv2d_forward`, both from one zero-stuffed copy of each
    plane of grad_out (see the module docstring).

    Args:
        grad_out: (N, C, OH, OW), the gradient of the forward's output.
        xp: (N, C, Hp, Wp) padded forward input.
        weight: (C, 1, kh, kw).
        stride: (sh, sw), as in the forward.
        dilation: (dh, dw), as in the forward.
        needs_input_grad: (input, weight) flags; a gradient not asked for is not computed.

    Returns:
        (grad_xp (N, C, Hp, Wp) of xp's dtype or None, grad_weight like weight or None).
        FLOPs: 2 N C Hp Wp kh kw for the input gradient, 2 N C ((OH - 1) sh + 1) Wp kh kw for
        the weight gradient (2 N C OH OW kh kw each, plus the border, for stride 1). Memory
        traffic: one read of grad_out, one of xp (weight gradient), one write of grad_xp.

    Raises:
        ValueError: as the forward, or a grad_out that is not 4-D with xp's (N, C).
    """
    op = "depthwise_conv2d_backward"
    dtype = _compute_dtype(op, xp.dtype)
    if grad_out.ndim != 4 or grad_out.shape[:2] != xp.shape[:2]:
        raise ValueError(f"{op}: expected a 4-D grad_out with the input's (N, C) = "
                         f"{xp.shape[:2]}, got shape {grad_out.shape}")
    out_h, out_w = map(int, grad_out.shape[2:])
    _check_geometry(op, xp, weight, stride, dilation, (out_h, out_w))
    want_input, want_weight = bool(needs_input_grad[0]), bool(needs_input_grad[1])
    if not (want_input or want_weight):
        return None, None
    n, c, height, width = xp.shape
    kh, kw = weight.shape[2:]
    (sh, sw), (dh, dw) = tuple(map(int, stride)), tuple(map(int, dilation))
    planes = n * c
    grad_xp = np.empty((planes, height * width) if want_input else (0, 0), dtype=dtype)
    partials = np.zeros((planes, kh * kw) if want_weight else (0, 0), dtype=dtype)
    if out_h * out_w == 0:
        grad_xp[...] = 0
    elif planes:
        rows, cols = _tap_offsets((kh, kw), (dh, dw), width)
        # the flat runs read up to rows[-1] + cols[-1] past the plane's end: the taps' reach
        # below the last row, plus one row for reads that wrap past its end
        stuffed_rows = height + (kh - 1) * dh + 1
        flipped = np.ascontiguousarray(weight, dtype=dtype).reshape(c, -1)[:, ::-1].copy()
        with _threads_for(grad_out.size * kh * kw):
            _backward_planes(
                np.ascontiguousarray(grad_out, dtype=dtype).reshape(planes, -1),
                np.ascontiguousarray(xp, dtype=dtype).reshape(planes, -1), flipped, rows,
                cols, (height, width, out_h, out_w, sh, sw, stuffed_rows), want_input,
                want_weight, _tasks(planes), grad_xp, partials)
    grad_x = grad_xp.reshape(xp.shape).astype(xp.dtype, copy=False) if want_input else None
    grad_w = None
    if want_weight:
        grad_w = partials.reshape(n, c, kh, kw).sum(axis=0)
        grad_w = grad_w.reshape(weight.shape).astype(weight.dtype, copy=False)
    return grad_x, grad_w
