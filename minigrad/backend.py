"""Which implementation runs a kernel: the NumPy reference, the Numba kernels, or the best.

Ops that have a kernel ask this module for it by name (`kernel("depthwise_conv2d_forward")`)
instead of importing one implementation, so the same op runs on any backend:

- `"numpy"`: `kernels.reference` everywhere, the specification every other kernel is
  tested against;
- `"numba"`: the hand-written `kernels.cpu` kernels wherever one exists (the reference for
  kernels not written yet);
- `"auto"` (the default): per kernel, the implementation that is fastest on a CPU (see
  `AUTO`);
- `"cuda"`: the GPU kernels' slot; they do not exist yet, and choosing it says so.

Choose with `minigrad.set_backend(name)`, for a block with `with minigrad.use_backend(name):`,
or for a whole run with the environment variable `MINIGRAD_BACKEND=numpy|numba|auto`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import kernels.reference as reference

BACKENDS = ("numpy", "numba", "auto", "cuda")

# kernel name -> module of kernels.cpu that holds its Numba implementation
NUMBA_KERNELS = {
    "depthwise_conv2d_forward": "kernels.cpu.depthwise",
    "depthwise_conv2d_backward": "kernels.cpu.depthwise",
    "matmul": "kernels.cpu.matmul",
    "batched_matmul": "kernels.cpu.matmul",
    "flash_attention_forward": "kernels.cpu.attention",
    "flash_attention_backward": "kernels.cpu.attention",
    "softmax_forward": "kernels.cpu.fused",
    "softmax_backward": "kernels.cpu.fused",
    "log_softmax_forward": "kernels.cpu.fused",
    "log_softmax_backward": "kernels.cpu.fused",
    "cross_entropy_forward": "kernels.cpu.fused",
    "cross_entropy_backward": "kernels.cpu.fused",
    "layer_norm_forward": "kernels.cpu.fused",
    "layer_norm_backward": "kernels.cpu.fused",
    "gelu_forward": "kernels.cpu.fused",
    "gelu_backward": "kernels.cpu.fused",
    "int8_gemm": "kernels.cpu.int8_gemm",
    "int8_gemm_dequantize": "kernels.cpu.int8_gemm",
    "int8_gemm_requantize": "kernels.cpu.int8_gemm",
}

# under "auto": the kernels whose Numba version beats the reference inside a training step
# on a CPU; the rest (matmul: OpenBLAS is still faster) run the NumPy reference. Measured by
# the issue-4 helpers, each kernel serial below a size threshold so it does not fight
# OpenBLAS's spinning threads: digits MobileNet step 21.6 -> 10.7 ms on 2 threads (depthwise),
# GPT step 81 -> 73 ms on 2 threads (flash attention) and 105 -> 83 ms on 1 (fused ops).
AUTO: frozenset = frozenset({
    "depthwise_conv2d_forward", "depthwise_conv2d_backward",
    "flash_attention_forward", "flash_attention_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "cross_entropy_forward", "cross_entropy_backward", "layer_norm_forward",
    "layer_norm_backward", "gelu_forward", "gelu_backward",
})


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
    if name == "cuda":
        raise RuntimeError("the 'cuda' backend has no kernels yet (they come with the GPU "
                           "issue); use 'numpy', 'numba' or 'auto'")
    return name


_current = _check(os.environ.get("MINIGRAD_BACKEND", "auto") or "auto")


def get_backend() -> str:
    """The backend now in use: "numpy", "numba" or "auto"."""
    return _current


def set_backend(name: str) -> None:
    """Use backend `name` from now on ("numpy", "numba" or "auto")."""
    global _current
    _current = _check(name)


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use backend `name` inside the `with` block, then the previous one again."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def uses_numba(name: str) -> bool:
    """Whether kernel `name` runs its Numba implementation under the current backend."""
    return name in NUMBA_KERNELS and (_current == "numba" or (_current == "auto" and name in AUTO))


def kernel(name: str) -> Callable:
    """The implementation of kernel `name` (a function of `kernels.reference`) to run now."""
    if uses_numba(name):
        return getattr(importlib.import_module(NUMBA_KERNELS[name]), name)
    return getattr(reference, name)
