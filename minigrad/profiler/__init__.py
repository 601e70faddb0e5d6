"""Measure what a model costs: FLOPs, parameters, memory, latency, throughput, per layer.

- `formulas.py`: the FLOP formula of each op, forward and backward, and their conventions.
- `flops.py`: `FlopCounter`, counting FLOPs per op and per module inside a `with` block.
- `parameters.py`: `count_parameters`, `parameter_bytes`.
- `memory.py`: `MemoryTracker`, peak bytes of live arrays (and NumPy's allocator peak).
- `timing.py`: `measure_latency` (p50, p95, ...) and `throughput`.
- `modules.py`: which module is running (forward hooks), for per-layer numbers.
- `summary.py`, `table.py`: `profile(model, example_input)` and its torchinfo-style table.

All rest on one instrumentation point: `minigrad.autograd.function.register_op_observer`,
which shows an observer every op's forward and every node's backward.
docs/concepts/cost.md explains the metrics.
"""

from minigrad.profiler.flops import FlopCounter
from minigrad.profiler.formulas import FlopFormula, register_flop_formula
from minigrad.profiler.memory import MemoryTracker
from minigrad.profiler.parameters import count_parameters, parameter_bytes
from minigrad.profiler.summary import ModuleRow, ProfileResult, profile
from minigrad.profiler.timing import LatencyStats, measure_latency, throughput

__all__ = [
    "FlopCounter", "FlopFormula", "LatencyStats", "MemoryTracker", "ModuleRow",
    "ProfileResult", "count_parameters", "measure_latency", "parameter_bytes", "profile",
    "register_flop_formula", "throughput",
]
