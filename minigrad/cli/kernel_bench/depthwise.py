"""Depthwise rows of `minigrad bench kernels`: MobileNet's 3x3 depthwise convolutions.

Shapes (the issue's): N = 32 images, C = 32 channels at 112 x 112, 128 at 56 x 56, 256 at
28 x 28 and 512 at 14 x 14 (MobileNet v1's stride-1 depthwise layers), 3x3 kernel, padding 1,
stride 1, float32; forward, and forward+backward (forward, input gradient and weight
gradient). Implementations:

- ours: `kernels.cpu.depthwise.depthwise_conv2d_forward` and `_backward`, called directly on
  arrays: the input already padded, as the kernels take it. What padding costs on top (one
  copy of the input, which `minigrad.nn.functional.conv2d` makes with
  `kernels.reference.pad2d`) is in the row as `pad_ms`;
- numpy: the same functions of `kernels.reference` (shifted views, one pass per tap);
- torch: `torch.nn.functional.conv2d(x, w, padding=1, groups=C)` on the unpadded input, the
  backward by autograd (`torch.autograd.grad` of both x and w), when PyTorch is installed.

FLOPs: 2 N C OH OW 9 forward; forward+backward three times that (the input and the weight
gradient are each one more product of the same size). `min_bytes` is the traffic no
implementation can avoid in float32: read the input and write the output (forward); also
read the output gradient and the input, and write the input gradient (backward).
"""

from __future__ import annotations

import numba
import numpy as np

from kernels import reference
from kernels.cpu import depthwise
from minigrad.cli.kernel_bench.timing import best_ms, row

try:
    import torch
except ImportError:
    torch = None

FULL = ((32, 32, 112), (32, 128, 56), (32, 256, 28), (32, 512, 14))  # (N, C, H = W)
QUICK = ((2, 8, 14), (2, 4, 9))
KERNEL, PADDING = 3, 1
DIRECTIONS = ("forward", "forward+backward")


def _arrays(n: int, c: int, size: int, rng: np.random.Generator) -> tuple:
    """x (N, C, H, W), its padded copy xp, the weight (C, 1, 3, 3) and an output gradient."""
    x = rng.uniform(-1, 1, (n, c, size, size)).astype(np.float32)
    widths = ((PADDING, PADDING), (PADDING, PADDING))
    weight = rng.uniform(-1, 1, (c, 1, KERNEL, KERNEL)).astype(np.float32)
    grad = rng.uniform(-1, 1, (n, c, size, size)).astype(np.float32)
    return x, reference.pad2d(x, widths), weight, grad


def _kernel_call(module, direction: str, xp: np.ndarray, weight: np.ndarray,
                 grad: np.ndarray):
    """One forward (or forward+backward) call of `module`'s depthwise kernels."""
    ones, size = (1, 1), grad.shape[2:]
    if direction == "forward":
        return lambda: module.depthwise_conv2d_forward(xp, weight, ones, ones, size)

    def forward_backward():
        module.depthwise_conv2d_forward(xp, weight, ones, ones, size)
        return module.depthwise_conv2d_backward(grad, xp, weight, ones, ones)
    return forward_backward


def _torch_call(direction: str, x: np.ndarray, weight: np.ndarray, grad: np.ndarray):
    """The same call in PyTorch: `conv2d` with groups = C, autograd for the backward."""
    channels = x.shape[1]
    tx = torch.from_numpy(x).requires_grad_(direction != "forward")
    tw = torch.from_numpy(weight).requires_grad_(direction != "forward")
    if direction == "forward":
        def forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(tx, tw, padding=PADDING, groups=channels)
        return forward
    tg = torch.from_numpy(grad)

    def forward_backward():
        out = torch.nn.functional.conv2d(tx, tw, padding=PADDING, groups=channels)
        return torch.autograd.grad(out, (tx, tw), tg)
    return forward_backward


def _shape_rows(n: int, c: int, size: int, rng: np.random.Generator, repeat: int) -> list:
    x, xp, weight, grad = _arrays(n, c, size, rng)
    widths = ((PADDING, PADDING), (PADDING, PADDING))
    pad_ms = best_ms(lambda: reference.pad2d(x, widths), repeat)
    forward_flops = 2.0 * n * c * size * size * KERNEL * KERNEL
    rows = []
    for direction in DIRECTIONS:
        ms = {"ours": best_ms(_kernel_call(depthwise, direction, xp, weight, grad), repeat),
              "numpy": best_ms(_kernel_call(reference, direction, xp, weight, grad), repeat),
              "torch": None}
        if torch is not None:
            ms["torch"] = best_ms(_torch_call(direction, x, weight, grad), repeat)
        passes = 1 if direction == "forward" else 3
        min_bytes = (x.nbytes + grad.nbytes if direction == "forward"
                     else 3 * x.nbytes + 2 * grad.nbytes)
        rows.append(row("depthwise", "numba", f"N{n} C{c} {size}x{size} 3x3 s1 p1", "float32",
                        direction, "GFLOP/s", passes * forward_flops, ms, pad_ms=pad_ms,
                        min_bytes=min_bytes, ours_threads=numba.get_num_threads()))
    return rows


def rows(quick: bool, repeat: int) -> list[dict]:
    """The depthwise rows: each shape, forward then forward+backward.

    Args:
        quick: tiny shapes (N = 2, 8 channels of 14 x 14, 4 of 9 x 9): a smoke test, not a
            measurement.
        repeat: measurements per implementation (the best is kept).
    """
    rng = np.random.default_rng(0)
    result = []
    for n, c, size in QUICK if quick else FULL:
        result += _shape_rows(n, c, size, rng, repeat)
    return result
