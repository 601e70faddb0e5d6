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

The code is in three layers: this module checks the arguments, lays out the planes and
computes the geometry; `kernels.cpu._depthwise_planes` holds the parallel kernels over
planes; `kernels.cpu._depthwise_taps` the tap runs inside them.

Debugging: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k depthwise` runs the
kernels as plain Python, so `print` and `pdb` work inside them and an out-of-range index
raises instead of reading stray memory. The first call compiles the kernels (seconds) and
caches them on disk next to their modules (`cache=True`); later processes load them. The
cache does not notice edits to the modules a kernel imports: after changing one of the
`_depthwise_*.py` files, delete `kernels/cpu/__pycache__/*.nb[ic]`.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.cpu._depthwise_planes import _backward_planes, _forward_planes
from kernels.cpu._layout import compute_dtype
from kernels.cpu._threads import serial_below

# A row's run is rounded up to a multiple of this many outputs (8 float32 lanes of an AVX2
# register, two registers of float64), so that it never ends in the scalar remainder loop.
VECTOR = 8


# -- layout and geometry ----------------------------------------------------------------------


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
    dtype = compute_dtype(op, xp.dtype)
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
    dtype = compute_dtype(op, xp.dtype)
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
