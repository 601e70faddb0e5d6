"""`MemoryTracker`: peak bytes of live arrays during a block (a training or inference step).

Two measurements, because each misses something the other sees:

- Tracked bytes (`peak_bytes`, `current_bytes`). An op observer adds the bytes of every new
  array an op returns (forward outputs, and the gradients a backward returns), and
  `weakref.finalize` on the array subtracts them when it dies. An output that is a view of
  an input (reshape, transpose, slicing) or of an array already counted adds 0. The
  parameters (and their gradients) present at the start are the baseline, tracked the same
  way; gradients created during the block are added when they are accumulated into `.grad`. This is the memory that
  *the graph* keeps alive: activations saved for backward, outputs, gradients. It does not see
  temporaries inside an op (the im2col columns of a convolution, the scores of attention),
  nor gradient sums the engine makes when a tensor feeds several ops.
- The NumPy allocator's peak (`tracemalloc_peak_bytes`). NumPy reports every data allocation
  to Python's `tracemalloc`, so its traced peak includes those temporaries, plus Python
  objects, and it counts from the level at the start of the block (arrays freed during the
  block lower it). It is usually larger than the tracked peak minus the baseline; the
  difference is mostly what ops allocate internally and free before they return. Tracing
  slows Python down several times: do not time code while it is on.
"""

from __future__ import annotations

import tracemalloc
import weakref

import numpy as np

from minigrad.autograd.function import Function, OpObserver, register_op_observer
from minigrad.profiler.parameters import unique_parameters


def memory_owner(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory `array` looks at: itself, or the base of its view."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


class MemoryTracker(OpObserver):
    """Track the bytes of live arrays made by ops inside a `with` block.

    Args:
        model: a `minigrad.nn.Module` or an iterable of Tensors (or None). Their arrays and
            existing gradients form the baseline; gradients they receive are tracked.
        trace_numpy: also measure the NumPy allocator's peak with `tracemalloc`. Python has
            one traced peak, so a tracker with trace_numpy inside another resets the outer
            one's peak: nest them only with trace_numpy=False inside.

    Attributes:
        baseline_bytes: parameters and gradients present at the start.
        current_bytes: bytes of the tracked arrays still alive, baseline included (frozen at
            exit); a baseline array that dies (`p.grad = None`) is subtracted too.
        peak_bytes: the largest `current_bytes` seen.
        allocated_bytes: all bytes ops allocated (alive or freed), excluding the baseline.
        tracemalloc_peak_bytes: peak of traced allocations above the level at the start
            (None without `trace_numpy`).
    """

    def __init__(self, model=None, *, trace_numpy: bool = True) -> None:
        self.model = model
        self.trace_numpy = trace_numpy
        self.baseline_bytes = self.current_bytes = self.peak_bytes = 0
        self.allocated_bytes = 0
        self.tracemalloc_peak_bytes = None
        self._live: dict = {}  # id(owner array) -> (nbytes, finalizer), baseline included
        self._handles: list = []
        self._started_tracing = False
        self._traced_start = 0

    def __enter__(self) -> MemoryTracker:
        params = unique_parameters(self.model) if self.model is not None else []
        for p in params:
            for array in [p.data] + ([p.grad.data] if p.grad is not None else []):
                self._track(array, ())
            if p.requires_grad and p.grad_fn is None:
                self._handles.append(p.register_post_accumulate_grad_hook(self._on_grad))
        self.baseline_bytes = self.current_bytes
        self.allocated_bytes = 0
        if self.trace_numpy:
            self._started_tracing = not tracemalloc.is_tracing()
            if self._started_tracing:
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._traced_start = tracemalloc.get_traced_memory()[0]
        self._handles.append(register_op_observer(self))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self.trace_numpy:
            self.tracemalloc_peak_bytes = tracemalloc.get_traced_memory()[1] - self._traced_start
            if self._started_tracing:
                tracemalloc.stop()
        for _, finalizer in self._live.values():
            finalizer.detach()
        self._live.clear()

    def _track(self, array, sources) -> None:
        """Count `array` if it is new memory: not counted yet, and no view of a source."""
        if not isinstance(array, np.ndarray):
            return
        owner = memory_owner(array)
        key = id(owner)
        if key in self._live:
            return
        for source in sources:
            if isinstance(source, np.ndarray) and np.may_share_memory(array, source):
                return
        nbytes = owner.nbytes
        self._live[key] = (nbytes, weakref.finalize(owner, self._free, key))
        self.allocated_bytes += nbytes
        self.current_bytes += nbytes
        self.peak_bytes = max(self.peak_bytes, self.current_bytes)

    def _free(self, key: int) -> None:
        nbytes, _ = self._live.pop(key)
        self.current_bytes -= nbytes

    def _on_grad(self, tensor) -> None:
        self._track(tensor.grad.data, ())

    def on_forward(self, op: type, ctx: Function, inputs: list, output: np.ndarray) -> None:
        self._track(output, inputs)

    def on_backward(self, node: Function, grad_output: np.ndarray, grad_inputs: tuple) -> None:
        for grad in grad_inputs:
            self._track(grad, (grad_output,))

    def __repr__(self) -> str:
        return (f"MemoryTracker(peak_bytes={self.peak_bytes}, current_bytes={self.current_bytes}, "
                f"tracemalloc_peak_bytes={self.tracemalloc_peak_bytes})")
