"""Depthwise 2-D convolution (MobileNet's per-channel 3x3) as Numba CPU kernels.

Same names, signatures and results as `kernels.reference.depthwise_conv2d_forward` and
`depthwise_conv2d_backward`; read those first. Notation: `xp` is the padded input
(N, C, Hp, Wp), `weight` is (C, 1, kh, kw), the output is (N, C, OH, OW), (sh, sw) the stride
and (dh, dw) the dilation.

    out[n, c, y, x] = sum_{i, j} weight[c, 0, i, j] xp[n, c, i dh + sh y, j dw + sw x]

The reference adds kh kw shifted views of the whole (N, C) batch, so every tap streams the
full input and output through memory, several passes per tap over arrays that do not fit in
cache. Here each (n, c) plane is one task, and within a plane one output row is finished
before the next: the kh input rows that output row y needs and the row itself stay in the L1
cache while all kh kw taps are added, so the input is read from memory about once and the
output written once.

The loop over output columns x is innermost and runs along contiguous memory, so LLVM
vectorises it. A tap reads columns j dw + sw x, which are contiguous only for sw = 1 (a
strided view makes LLVM emit scalar code, or runtime stride checks, about 3.5x slower). So
the wrappers split the columns into sw phases first, (N C, sw, Hp, ceil(Wp / sw)): phase f
holds columns f, f + sw, f + 2 sw, ..., so column q is phases[:, q % sw, :, q // sw] and every
tap reads a contiguous run of one phase. For sw = 1 this is a free view; for sw > 1 it costs
one copy of the input (and one of the input gradient, interleaved back the same way).

Planes are independent, which makes parallelism free: `numba.prange` over the N C planes.
The input gradient scatters only into its own plane, so it is race-free too. The weight
gradient sums over n, so two tasks of one channel would race on weight[c]; instead each task
writes its own (kh, kw) sums into an (N C, kh, kw) scratch array, which the wrapper sums over
N afterwards. That keeps all N C tasks in flight (parallelising over C alone would leave
cores idle when C is small, and make each task walk N planes far apart in memory) at the
cost of N C kh kw extra numbers, tiny next to the planes.

Everything is computed in the input's dtype, float32 or float64 (`fastmath=False`: no
reassociation and no fused multiply-add, so the forward matches the reference bit for bit
and the gradients to rounding). float16 inputs are computed in float32 and rounded back once,
as `kernels.reference.channel_sum` and PyTorch do for half precision.

Debugging: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k depthwise` runs the
kernels as plain Python, so `print` and `pdb` work inside them and an out-of-range index
raises instead of reading stray memory. The first call compiles the kernels (seconds) and
caches them on disk next to this file (`cache=True`); later processes load them.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np

# -- the Numba kernels on (N C, ...) planes -----------------------------------------------------


@numba.njit(cache=True, fastmath=False)
def _add_scaled(dst, scale, src):
    """dst += scale src along one row (BLAS's axpy); the innermost loop of every kernel."""
    for x in range(dst.shape[0]):
        dst[x] += scale * src[x]


@numba.njit(cache=True, fastmath=False)
def _add_product(dst, a, b):
    """dst += a b elementwise along one row: the column partial sums of a dot product."""
    for x in range(dst.shape[0]):
        dst[x] += a[x] * b[x]


@numba.njit(parallel=True, cache=True, fastmath=False)
def _forward_planes(phases, taps, sh, sw, dh, dw, out):
    """out[p, y, x] = sum_{i, j} taps[p % C, i, j] xp[p, i dh + sh y, j dw + sw x].

    Loop order: prange over planes p (N C tasks) > output rows y > taps i, j > output columns
    x (innermost, contiguous in `out` and in the tap's phase of xp). The output row is zeroed,
    accumulated kh kw times and left in L1 before the next row starts.

    Args: phases (N C, sw, Hp, ceil(Wp / sw)), xp's columns split by `_column_phases`;
    taps (C, kh, kw); out (N C, OH, OW), written in full.
    Memory traffic: about one read of xp and one write of out. FLOPs: 2 N C OH OW kh kw.
    """
    planes, out_h, out_w = out.shape
    channels, kh, kw = taps.shape
    for p in numba.prange(planes):
        c = p % channels
        for y in range(out_h):
            out_row = out[p, y]
            out_row[:] = 0
            for i in range(kh):
                row = i * dh + sh * y
                for j in range(kw):
                    phase, first = (j * dw) % sw, (j * dw) // sw
                    _add_scaled(out_row, taps[c, i, j], phases[p, phase, row, first:first + out_w])


@numba.njit(parallel=True, cache=True, fastmath=False)
def _backward_planes(grad_out, phases, taps, sh, sw, dh, dw, want_input, want_weight,
                     grad_phases, weight_partials):
    """Both gradients in one pass over grad_out, plane by plane.

    For output row y and tap (i, j), with g = grad_out[p, y] and V = the run of xp[p] that
    the tap multiplies (row i dh + sh y, columns j dw + sw x, contiguous in its phase):

        grad_xp[p] at V's positions += taps[c, i, j] g      (scatter, own plane only)
        weight_partials[p, i, j]     += sum_x g[x] V[x]

    The dot product is kept as OW column partial sums (a (kh, kw, OW) array per task) and
    reduced once at the end: adding into a vector vectorises without `fastmath`, which a
    scalar running sum would need (SIMD reorders the sum), and it rounds less, too.

    Loop order: prange over planes p > output rows y > taps i, j > output columns x. The g
    row is read once from memory and reused from L1 by both gradients and all kh kw taps.

    Args: grad_out (N C, OH, OW); phases (N C, sw, Hp, ceil(Wp / sw)); taps (C, kh, kw);
    grad_phases like phases, written in full if want_input; weight_partials (N C, kh, kw),
    written in full if want_weight (either may be an unused empty array when its flag is off).
    Memory traffic: one read of grad_out, one read of xp if want_weight, one write of grad_xp
    (zeroed plane by plane, in cache) if want_input.
    FLOPs: 2 N C OH OW kh kw for each gradient asked for.
    """
    planes, out_h, out_w = grad_out.shape
    channels, kh, kw = taps.shape
    for p in numba.prange(planes):
        c = p % channels
        if want_input:
            grad_phases[p] = 0
        column_sums = np.zeros((kh, kw, out_w), dtype=grad_out.dtype)
        for y in range(out_h):
            g_row = grad_out[p, y]
            for i in range(kh):
                row = i * dh + sh * y
                for j in range(kw):
                    phase, first = (j * dw) % sw, (j * dw) // sw
                    if want_weight:
                        _add_product(column_sums[i, j], g_row,
                                     phases[p, phase, row, first:first + out_w])
                    if want_input:
                        _add_scaled(grad_phases[p, phase, row, first:first + out_w],
                                    taps[c, i, j], g_row)
        if want_weight:
            for i in range(kh):
                for j in range(kw):
                    weight_partials[p, i, j] = column_sums[i, j].sum()


# -- layout: dtype, contiguity and column phases -----------------------------------------------


def _compute_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """The dtype the kernels compute in: the input's, except float16 -> float32."""
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    raise ValueError(f"{op}: dtype {dtype} is not supported; expected float16, float32 or "
                     f"float64")


@numba.njit(parallel=True, cache=True, fastmath=False)
def _copy_column_phases(planes, phases, to_phases):
    """phases[p, f, r, k] <-> planes[p, r, f + step k], in the direction `to_phases` says.

    One loop nest for the split and its inverse: NumPy's `planes[..., f::step]` copies run at
    a fraction of memory bandwidth (40 ms for a 100 MB input), this runs near it. The tail of a
    short phase (when step does not divide Wp) is neither read nor written.
    """
    count, height, width = planes.shape
    step = phases.shape[1]
    for p in numba.prange(count):
        for r in range(height):
            for f in range(step):
                for k in range((width - f + step - 1) // step):
                    if to_phases:
                        phases[p, f, r, k] = planes[p, r, f + step * k]
                    else:
                        planes[p, r, f + step * k] = phases[p, f, r, k]


def _column_phases(xp: np.ndarray, step: int, dtype: np.dtype) -> np.ndarray:
    """(N, C, Hp, Wp) -> C-contiguous (N C, step, Hp, ceil(Wp / step)) of `dtype`.

    Phase f holds columns f, f + step, f + 2 step, ..., so column q is [:, q % step, :,
    q // step] and a walk over columns with stride `step` is contiguous. A view of xp when
    step is 1 and xp is already C-contiguous in `dtype`.
    """
    n, c, h, w = xp.shape
    planes = np.ascontiguousarray(xp, dtype=dtype).reshape(n * c, h, w)
    if step == 1:
        return planes.reshape(n * c, 1, h, w)
    phases = np.empty((n * c, step, h, -(-w // step)), dtype=dtype)
    _copy_column_phases(planes, phases, True)
    return phases


def _interleave_columns(phases: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """The inverse of `_column_phases`: (N C, step, Hp, ceil(Wp / step)) -> `shape` (N, C, Hp,
    Wp) of `dtype`."""
    n, c, h, w = shape
    if phases.shape[1] == 1:
        return phases.reshape(shape).astype(dtype, copy=False)
    planes = np.empty((n * c, h, w), dtype=phases.dtype)
    _copy_column_phases(planes, phases, False)
    return planes.reshape(shape).astype(dtype, copy=False)


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


# -- the public kernels: checks, layout, then one call ------------------------------------------

# Below this many multiply-adds a call runs on one thread. Small planes (the digits MobileNet:
# 64 x 32 x 8 x 8 x 9 = 1.2M) take well under a millisecond on one core, and starting a
# parallel region next to OpenBLAS's worker threads, which spin for a while after each GEMM,
# made a whole training step 2.4x slower on 2 cores.
SERIAL_BELOW = 4_000_000


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


def depthwise_conv2d_forward(xp: np.ndarray, weight: np.ndarray, stride: tuple,
                             dilation: tuple, out_size: tuple) -> np.ndarray:
    """Depthwise convolution, one (n, c) plane per task and one output row at a time.

    Args:
        xp: (N, C, Hp, Wp) padded input, float16, float32 or float64, any memory layout (a
            non-contiguous or float16 input is copied first).
        weight: (C, 1, kh, kw). stride: (sh, sw). dilation: (dh, dw). out_size: (OH, OW).

    Returns:
        (N, C, OH, OW) array of xp's dtype. FLOPs: 2 N C OH OW kh kw. Memory traffic: one read
        of xp and one write of the output, plus a read and a write of xp to split its columns
        into phases when sw > 1.
    """
    op = "depthwise_conv2d_forward"
    dtype = _compute_dtype(op, xp.dtype)
    _check_geometry(op, xp, weight, stride, dilation, out_size)
    n, c = xp.shape[:2]
    (sh, sw), (dh, dw) = map(int, stride), map(int, dilation)
    taps = np.ascontiguousarray(weight, dtype=dtype).reshape(c, *weight.shape[2:])
    out = np.empty((n * c, *out_size), dtype=dtype)
    with _threads_for(out.size * taps.shape[1] * taps.shape[2]):
        _forward_planes(_column_phases(xp, sw, dtype), taps, sh, sw, dh, dw, out)
    return out.reshape(n, c, *out_size).astype(xp.dtype, copy=False)


def depthwise_conv2d_backward(grad_out: np.ndarray, xp: np.ndarray, weight: np.ndarray,
                              stride: tuple, dilation: tuple,
                              needs_input_grad: tuple = (True, True)) -> tuple:
    """Gradients of `depthwise_conv2d_forward`, both in one pass over grad_out.

    Args:
        grad_out: (N, C, OH, OW). xp: (N, C, Hp, Wp) padded forward input. weight: (C, 1, kh,
            kw). stride, dilation: as in the forward. needs_input_grad: (input, weight) flags.

    Returns:
        (grad_xp (N, C, Hp, Wp) of xp's dtype or None, grad_weight like weight or None).
        FLOPs: 2 N C OH OW kh kw per gradient asked for. Memory traffic: one read of grad_out
        and of xp, one write of grad_xp, plus the column-phase copies of xp and grad_xp when
        sw > 1.
    """
    op = "depthwise_conv2d_backward"
    dtype = _compute_dtype(op, xp.dtype)
    if grad_out.ndim != 4 or grad_out.shape[:2] != xp.shape[:2]:
        raise ValueError(f"{op}: expected a 4-D grad_out with the input's (N, C) = "
                         f"{xp.shape[:2]}, got shape {grad_out.shape}")
    out_size = grad_out.shape[2:]
    _check_geometry(op, xp, weight, stride, dilation, out_size)
    want_input, want_weight = bool(needs_input_grad[0]), bool(needs_input_grad[1])
    if not (want_input or want_weight):
        return None, None
    n, c = xp.shape[:2]
    kh, kw = weight.shape[2:]
    (sh, sw), (dh, dw) = map(int, stride), map(int, dilation)
    phases = _column_phases(xp, sw, dtype)
    grad_phases = np.empty_like(phases) if want_input else np.empty((0,) * 4, dtype=dtype)
    weight_partials = np.empty((n * c, kh, kw) if want_weight else (0,) * 3, dtype=dtype)
    with _threads_for(grad_out.size * kh * kw):
        _backward_planes(np.ascontiguousarray(grad_out, dtype=dtype).reshape(n * c, *out_size),
                         phases, np.ascontiguousarray(weight, dtype=dtype).reshape(c, kh, kw),
                         sh, sw, dh, dw, want_input, want_weight, grad_phases,
                         weight_partials)
    grad_xp = _interleave_columns(grad_phases, xp.shape, xp.dtype) if want_input else None
    grad_w = None
    if want_weight:
        grad_w = weight_partials.reshape(n, c, kh, kw).sum(axis=0)
        grad_w = grad_w.reshape(weight.shape).astype(weight.dtype, copy=False)
    return grad_xp, grad_w
