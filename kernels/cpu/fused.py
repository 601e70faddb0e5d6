"""Fused one-pass kernels for the memory-bound ops: softmax, log-softmax, cross-entropy,
layer norm and GELU, forward and backward, as Numba CPU kernels.

Same names, signatures and results as their references in `kernels.reference` (`softmax`,
`normalization`, `activation`). These ops do a few FLOPs per byte, so their speed is set by
how often they walk memory: NumPy walks it once per operation (about five times for a
softmax, ten for a GELU); each kernel here reads its inputs once and writes its output once,
and does the rest on data in the L1 cache or in registers. See `docs/concepts/kernels/fused.md`
for the reasoning and the measurements.

The kernels live in private modules, one per family:

- `_fused_softmax`: softmax, log-softmax and cross-entropy, one row per task;
- `_fused_norm`: layer norm, one row per task, the weight and bias gradients in per-block
  partial sums;
- `_fused_gelu`: GELU, elementwise;
- `_vector_math`: the exp, erfc and row reductions their inner loops share, written so that
  LLVM vectorises them (Numba's `math.exp` is a library call per element);
- `_fused_threads`: the one-thread threshold for small calls.

The compute dtype (float16 runs in float32) and the row layout come from `_layout`, shared
with the depthwise and attention wrappers.

Debugging: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k fused` runs the kernels
as plain Python (`print` and `pdb` work; an out-of-range index raises). The first call
compiles the kernels it uses (a few seconds each) and caches them on disk next to the modules
(`cache=True`); later processes load them.
"""

from kernels.cpu._fused_gelu import gelu_backward, gelu_forward
from kernels.cpu._fused_norm import layer_norm_backward, layer_norm_forward
from kernels.cpu._fused_softmax import (
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

__all__ = [
    "cross_entropy_backward",
    "cross_entropy_forward",
    "gelu_backward",
    "gelu_forward",
    "layer_norm_backward",
    "layer_norm_forward",
    "log_softmax_backward",
    "log_softmax_forward",
    "softmax_backward",
    "softmax_forward",
]
