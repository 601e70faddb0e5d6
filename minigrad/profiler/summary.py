"""`profile(model, example_input)`: one table with what every layer costs, and the totals.

    result = profile(model, x)          # inference; backward=True profiles a training step
    print(result)                       # a torchinfo-style table
    result.to_dict()                    # the same, for JSON

It runs the step several times, each time measuring one thing, so that no measurement
distorts another: once under a `FlopCounter` (FLOPs, output shapes, execution order), once
under a `MemoryTracker` (peak bytes), `warmup + repeat` times bare (latency), and
`warmup + repeat` times with module hooks (time per layer). The model is left as it was
found: gradients, buffers (BatchNorm's running statistics) and the global RNG are restored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad
from minigrad.autograd.grad_mode import no_grad
from minigrad.profiler.flops import FlopCounter
from minigrad.profiler.memory import MemoryTracker
from minigrad.profiler.modules import OUTSIDE, ModuleTracker
from minigrad.profiler.parameters import count_parameters, parameter_bytes
from minigrad.profiler.table import render
from minigrad.profiler.timing import LatencyStats, measure_latency, throughput
from minigrad.tensor import Tensor


@dataclass
class ModuleRow:
    """One row of the table: what one module does *itself*, not counting its children.

    So every column adds up to the total (for a leaf module, itself is everything).

    Attributes:
        name: dotted name from `named_modules()` ("" is the model itself).
        layer_type: the module's class name.
        depth: how many modules were running around it (0 for the model).
        output_shape: shape of its output (a list of shapes for several outputs).
        params: its own parameters (`parameters(recurse=False)`); a parameter shared by
            several modules counts in the first row that uses it.
        flops: forward FLOPs of the ops it runs itself (children's ops are theirs).
        backward_flops: backward FLOPs of the nodes its forward ops made.
        time_ms: its own forward time per step, median over the timed steps (children's
            time subtracted).
        calls: how many times it ran in one step.
    """

    name: str
    layer_type: str
    depth: int
    output_shape: tuple | list | None = None
    params: int = 0
    flops: int = 0
    backward_flops: int = 0
    time_ms: float = 0.0
    calls: int = 0


@dataclass
class ProfileResult:
    """What `profile` measured; `str(result)` is the table, `to_dict()` its JSON form.

    Attributes:
        model_name: the model's class name.
        rows: one ModuleRow per module that ran, in the order their forward started, then a
            "(outside modules)" row if ops ran outside the model (the loss).
        total_params, trainable_params, param_bytes: see `count_parameters`.
        forward_flops: FLOPs of one forward. backward_flops: of one backward (None when
            profiling inference).
        peak_bytes: tracked peak (`MemoryTracker.peak_bytes`, parameters included).
        tracemalloc_peak_bytes: NumPy allocator peak above the starting level.
        latency: per-step LatencyStats.
        batch_size: the first input's first dimension.
        samples_per_s: batch_size / latency p50.
        tokens_per_s: for integer (token id) input, its number of elements / latency p50.
        backward: whether the step included a backward pass.
        uncounted_ops: op name -> calls of ops with no FLOP formula (counted as 0).
    """

    model_name: str
    rows: list
    total_params: int
    trainable_params: int
    param_bytes: int
    forward_flops: int
    backward_flops: int | None
    peak_bytes: int
    tracemalloc_peak_bytes: int | None
    latency: LatencyStats
    batch_size: int
    samples_per_s: float
    tokens_per_s: float | None
    backward: bool
    uncounted_ops: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self)

    def to_dict(self) -> dict:
        """Plain types only (dicts, lists, tuples, numbers, strings): ready for `json.dumps`."""
        out = asdict(self)
        out["latency"] = self.latency.to_dict()
        return out


def _output_shape(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_output_shape(o) for o in output]
    return None


def _first_tensor(output) -> Tensor:
    if isinstance(output, Tensor):
        return output
    for item in output if isinstance(output, (tuple, list)) else ():
        if isinstance(item, Tensor):
            return item
    raise TypeError(f"profile: the model returned {type(output).__name__}, which holds no "
                    "Tensor to backpropagate from; pass loss_fn")


def profile(model, example_input, *, backward: bool = False, loss_fn=None, repeat: int = 10,
            warmup: int = 2, containers: bool = True) -> ProfileResult:
    """Measure parameters, FLOPs, memory, latency and throughput of `model`, layer by layer.

    Args:
        model: a `minigrad.nn.Module`.
        example_input: a Tensor, or a tuple of positional inputs (e.g. int64 token ids of
            shape (B, T) for a GPT).
        backward: profile a training step (forward, then backward of `loss_fn(output)`)
            instead of inference (forward under `no_grad`).
        loss_fn: output -> scalar Tensor for the backward; default: the sum of the output
            (its first Tensor if the model returns several). Its ops are charged to
            "(outside modules)".
        repeat: timed steps (latency and per-layer time).
        warmup: untimed steps before timing.
        containers: also give rows to modules that have children (their own ops: a
            residual add, say); False keeps leaf modules only.

    Returns:
        ProfileResult.
    """
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    params = list(model.parameters())

    def step():
        if not backward:
            with no_grad():
                return model(*inputs)
        for p in params:
            p.grad = None
        output = model(*inputs)
        (loss_fn(output) if loss_fn is not None else _first_tensor(output).sum()).backward()
        return output

    saved = _save_state(model, params)
    try:
        rows, counter = _count_flops(model, step)
        for p in params:
            p.grad = None  # so that both memory measurements start from the parameters alone
        with MemoryTracker(model) as memory:
            step()
        latency = measure_latency(step, warmup=warmup, repeat=repeat)
        _time_modules(model, step, rows, warmup, repeat)
    finally:
        _restore_state(model, params, saved)

    if not containers:
        leaves = {name for name, m in model.named_modules() if next(m.children(), None) is None}
        rows = {k: r for k, r in rows.items() if k in leaves or k == OUTSIDE}
    first = inputs[0].data if isinstance(inputs[0], Tensor) else np.asarray(inputs[0])
    batch = int(first.shape[0]) if first.ndim else 1
    return ProfileResult(
        model_name=type(model).__name__, rows=list(rows.values()),
        total_params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        param_bytes=parameter_bytes(model), forward_flops=counter.forward_flops,
        backward_flops=counter.backward_flops if backward else None,
        peak_bytes=memory.peak_bytes, tracemalloc_peak_bytes=memory.tracemalloc_peak_bytes,
        latency=latency, batch_size=batch, samples_per_s=throughput(batch, latency),
        tokens_per_s=throughput(first.size, latency) if first.dtype.kind in "iu" else None,
        backward=backward, uncounted_ops=dict(counter.uncounted_ops))


def _count_flops(model, step) -> tuple[dict, FlopCounter]:
    """One step under a FlopCounter; rows in the order the modules' forward started."""
    rows: dict = {}
    owners: dict = {}  # id(parameter) -> first row using it
    def on_enter(name, module, depth):
        if name not in rows:
            own = [p for p in module.parameters(recurse=False) if id(p) not in owners]
            for p in own:
                owners[id(p)] = name
            rows[name] = ModuleRow(name=name, layer_type=type(module).__name__,
                                   depth=depth,
                                   params=sum(p.numel() for p in own))
        rows[name].calls += 1

    def on_exit(name, module, output, seconds):
        rows[name].output_shape = _output_shape(output)

    with FlopCounter(model) as counter, ModuleTracker(model, on_enter, on_exit):
        step()
    if OUTSIDE in counter.forward_by_module or OUTSIDE in counter.backward_by_module:
        rows[OUTSIDE] = ModuleRow(name=OUTSIDE, layer_type="", depth=0)
    for name, row in rows.items():
        row.flops = counter.forward_by_module.get(name, 0)
        row.backward_flops = counter.backward_by_module.get(name, 0)
    return rows, counter


def _time_modules(model, step, rows: dict, warmup: int, repeat: int) -> None:
    """Each module's own forward time per step, median over `repeat` steps."""
    per_step: dict = {}

    def on_exit(name, module, output, seconds):
        per_step[name] = per_step.get(name, 0.0) + seconds

    samples: dict = {name: [] for name in rows}
    with ModuleTracker(model, on_exit=on_exit):
        for i in range(warmup + repeat):
            per_step.clear()
            step()
            if i >= warmup:
                for name in samples:
                    samples[name].append(per_step.get(name, 0.0))
    for name, row in rows.items():
        row.time_ms = float(np.median(samples[name])) * 1e3 if samples[name] else 0.0


def _save_state(model, params: list) -> tuple:
    grads = [p.grad for p in params]
    buffers = [(b, b.data.copy()) for b in model.buffers()]
    return grads, buffers, minigrad.get_rng_state()


def _restore_state(model, params: list, saved: tuple) -> None:
    grads, buffers, rng = saved
    for p, g in zip(params, grads):
        p.grad = g
    for b, data in buffers:
        b.data[...] = data
    minigrad.set_rng_state(rng)
