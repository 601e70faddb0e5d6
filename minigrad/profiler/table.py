"""The text table of a `ProfileResult`, laid out like torchinfo's `summary`."""

from __future__ import annotations

from minigrad.profiler.modules import OUTSIDE


def human(value: float, unit: str = "") -> str:
    """1234567 -> '1.23 M' + unit: decimal prefixes (k = 1e3, M = 1e6, G = 1e9, T = 1e12)."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.4g} {unit}".rstrip()


def _count(n: int) -> str:
    return f"{n:,}" if n else "--"


def _shape(shape) -> str:
    if shape is None:
        return "--"
    if isinstance(shape, tuple):
        return str(list(shape))
    return "[" + ", ".join(_shape(s) for s in shape) + "]"


def _labels(rows: list, model_name: str) -> list:
    """'name (Type)', indented by depth; the name relative to the enclosing row's, so that a
    module called from its grandparent (a ModuleList entry) keeps its full path."""
    labels, enclosing = [], []  # enclosing: the name of the last row seen at each depth
    for row in rows:
        if row.name in (OUTSIDE, ""):
            labels.append(model_name if not row.name else OUTSIDE)
            enclosing = [row.name]
            continue
        del enclosing[row.depth:]
        parent = enclosing[-1] if enclosing else ""
        name = row.name[len(parent) + 1:] if parent and row.name.startswith(parent + ".") \
            else row.name
        labels.append("  " * row.depth + f"{name} ({row.layer_type})")
        enclosing.append(row.name)
    return labels


def render(result) -> str:
    """The table: one line per row, then totals. Columns add up to the totals (see
    `ModuleRow`); time per layer is the forward's only."""
    header = ["Layer (type)", "Output Shape", "Param #", "FLOPs"]
    if result.backward:
        header.append("Bwd FLOPs")
    header.append("Time (ms)")
    lines = []
    for row, label in zip(result.rows, _labels(result.rows, result.model_name)):
        cells = [label, _shape(row.output_shape), _count(row.params), _count(row.flops)]
        if result.backward:
            cells.append(_count(row.backward_flops))
        cells.append(f"{row.time_ms:.3f}" if row.name != OUTSIDE else "--")
        lines.append(cells)
    widths = [max([len(h)] + [len(cells[i]) for cells in lines]) for i, h in enumerate(header)]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest])

    rule = "=" * len(line(header))
    out = [rule, line(header), rule, *(line(cells) for cells in lines), rule]
    out += _totals(result)
    out.append(rule)
    return "\n".join(out)


def _totals(result) -> list:
    latency = result.latency
    step = "training step (forward + backward)" if result.backward else "forward (no_grad)"
    lines = [
        f"Total params: {result.total_params:,}",
        f"Trainable params: {result.trainable_params:,}",
        f"Non-trainable params: {result.total_params - result.trainable_params:,}",
        f"Params size: {result.param_bytes:,} bytes ({human(result.param_bytes, 'B')})",
        f"Forward FLOPs: {result.forward_flops:,} ({human(result.forward_flops, 'FLOP')})",
    ]
    if result.backward_flops is not None:
        lines.append(f"Backward FLOPs: {result.backward_flops:,} "
                     f"({human(result.backward_flops, 'FLOP')}, "
                     f"{result.backward_flops / max(result.forward_flops, 1):.2f}x forward)")
    lines.append(f"Peak memory, tracked arrays (params included): {result.peak_bytes:,} bytes "
                 f"({human(result.peak_bytes, 'B')})")
    if result.tracemalloc_peak_bytes is not None:
        lines.append(f"Peak memory, NumPy allocator above start (tracemalloc): "
                     f"{result.tracemalloc_peak_bytes:,} bytes "
                     f"({human(result.tracemalloc_peak_bytes, 'B')})")
    lines.append(f"Latency per {step}: p50 {latency.p50 * 1e3:.3f} ms, "
                 f"p95 {latency.p95 * 1e3:.3f} ms (warmup {latency.warmup}, "
                 f"repeat {latency.repeat})")
    rate = f"Throughput: {result.samples_per_s:,.1f} samples/s (batch {result.batch_size})"
    if result.tokens_per_s is not None:
        rate += f", {result.tokens_per_s:,.1f} tokens/s"
    lines.append(rate)
    uncounted = ", ".join(f"{name} x{n}" for name, n in sorted(result.uncounted_ops.items()))
    lines.append(f"Uncounted ops (0 FLOPs): {uncounted or 'none'}")
    return lines
