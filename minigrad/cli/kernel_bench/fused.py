"""Benchmark rows of the fused kernels: softmax, log-softmax, cross-entropy, layer norm, GELU.

Shapes are the character GPT's (`minigrad train gpt`: batch 32 x 64 tokens = 2048 rows,
vocabulary of about 100, width 96, MLP width 384), plus a layer norm of width 1024 and a
GELU on (4096, 4096), where the arrays no longer fit in cache. Every row is float32, forward
and forward+backward.

Unit: GB/s of the *minimum* memory traffic, each array a pass needs read once and each
array it makes written once (forward: x in, y out; backward: the gradient and what the
forward saved in, the input gradient out; small vectors such as weights, statistics and
targets are counted too). Every implementation is charged the same bytes, so the column is a
speed, and its distance from the machine's memory bandwidth says how much traffic an
implementation makes beyond the minimum.

Columns: "ours" is `kernels.cpu.fused`, "numpy" the `kernels.reference` kernel it is tested
against, "torch" PyTorch's CPU op (`torch.softmax`, `torch.log_softmax`,
`F.cross_entropy`, `F.layer_norm`, `F.gelu`; forward+backward through autograd). Ours and
NumPy's forward+backward call the forward and backward kernels directly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernels import reference
from kernels.cpu import fused
from minigrad.cli.kernel_bench.timing import best_ms, row

try:
    import torch
except ImportError:
    torch = None

FLOAT = 4  # bytes of a float32


def _timed(work: float, kernel: str, shape: tuple, direction: str,
           implementations: dict[str, Callable[[], object]], repeat: int) -> dict:
    ms = {name: best_ms(fn, repeat) for name, fn in implementations.items() if fn is not None}
    return row("fused", kernel, "x".join(map(str, shape)), "float32", direction, "GB/s",
               work, ms)


def _pair(kernel: str, shape: tuple, forward_bytes: float, backward_bytes: float,
          forwards: dict, both: dict, repeat: int) -> list[dict]:
    return [_timed(forward_bytes, kernel, shape, "forward", forwards, repeat),
            _timed(forward_bytes + backward_bytes, kernel, shape, "forward+backward", both,
                   repeat)]


def _torch_pass(op: Callable, inputs: list[np.ndarray], grad: np.ndarray | None):
    """A function running `op` on fresh torch leaves of `inputs` (and its backward of
    `grad` when given), or None without PyTorch."""
    if torch is None:
        return None
    grad_t = None if grad is None else torch.from_numpy(grad)

    def run():
        leaves = [torch.from_numpy(a).requires_grad_(grad is not None) for a in inputs]
        out = op(*leaves)
        if grad_t is not None:
            out.backward(grad_t)
    return run


def _softmax_rows(name: str, shape: tuple, rng: np.random.Generator, repeat: int) -> list:
    x = rng.standard_normal(shape, dtype=np.float32) * 3
    g = rng.standard_normal(shape, dtype=np.float32)
    forward, backward = f"{name}_forward", f"{name}_backward"
    ours_f, ours_b = getattr(fused, forward), getattr(fused, backward)
    ref_f, ref_b = getattr(reference, forward), getattr(reference, backward)
    torch_op = None if torch is None else getattr(torch, name)
    size = x.size * FLOAT
    return _pair(name, shape, 2 * size, 3 * size,
                 {"ours": lambda: ours_f(x), "numpy": lambda: ref_f(x),
                  "torch": _torch_pass(lambda t: torch_op(t, -1), [x], None)},
                 {"ours": lambda: ours_b(g, ours_f(x)), "numpy": lambda: ref_b(g, ref_f(x)),
                  "torch": _torch_pass(lambda t: torch_op(t, -1), [x], g)}, repeat)


def _cross_entropy_rows(shape: tuple, rng: np.random.Generator, repeat: int) -> list:
    n, _ = shape
    x = rng.standard_normal(shape, dtype=np.float32) * 3
    target = rng.integers(0, shape[1], n)
    grad_losses = np.full(n, 1 / n)  # the mean's gradient
    small = n * (8 + FLOAT)  # targets in, losses out

    def both(kernels):
        _, lse = kernels.cross_entropy_forward(x, target, -100, 0.0)
        return kernels.cross_entropy_backward(grad_losses, x, target, lse, -100, 0.0)

    def torch_loss(t):
        return torch.nn.functional.cross_entropy(t, torch.from_numpy(target))
    return _pair("cross_entropy", shape, x.size * FLOAT + small, 2 * x.size * FLOAT + small,
                 {"ours": lambda: fused.cross_entropy_forward(x, target, -100, 0.0),
                  "numpy": lambda: reference.cross_entropy_forward(x, target, -100, 0.0),
                  "torch": _torch_pass(torch_loss, [x], None)},
                 {"ours": lambda: both(fused), "numpy": lambda: both(reference),
                  "torch": _torch_pass(torch_loss, [x], np.ones((), dtype=np.float32))},
                 repeat)


def _layer_norm_rows(shape: tuple, rng: np.random.Generator, repeat: int) -> list:
    m, d = shape
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    w, b = rng.standard_normal(d, dtype=np.float32), rng.standard_normal(d, dtype=np.float32)
    size, stats, params = x.size * FLOAT, 2 * m * FLOAT, 2 * d * FLOAT

    def both(kernels):
        _, mean, rstd = kernels.layer_norm_forward(x, w, b, 1e-5)
        return kernels.layer_norm_backward(g, x, mean, rstd, w)

    def torch_norm(t, tw, tb):
        return torch.nn.functional.layer_norm(t, (d,), tw, tb, 1e-5)
    return _pair("layer_norm", shape, 2 * size + stats + params, 3 * size + stats + 2 * params,
                 {"ours": lambda: fused.layer_norm_forward(x, w, b, 1e-5),
                  "numpy": lambda: reference.layer_norm_forward(x, w, b, 1e-5),
                  "torch": _torch_pass(torch_norm, [x, w, b], None)},
                 {"ours": lambda: both(fused), "numpy": lambda: both(reference),
                  "torch": _torch_pass(torch_norm, [x, w, b], g)}, repeat)


def _gelu_rows(shape: tuple, approximate: str, rng: np.random.Generator, repeat: int) -> list:
    x = rng.standard_normal(shape, dtype=np.float32) * 2
    g = rng.standard_normal(shape, dtype=np.float32)
    name = "gelu_tanh" if approximate == "tanh" else "gelu"
    size = x.size * FLOAT

    def both(kernels):
        kernels.gelu_forward(x, approximate)
        return kernels.gelu_backward(g, x, approximate)

    def torch_gelu(t):
        return torch.nn.functional.gelu(t, approximate=approximate)
    return _pair(name, shape, 2 * size, 3 * size,
                 {"ours": lambda: fused.gelu_forward(x, approximate),
                  "numpy": lambda: reference.gelu_forward(x, approximate),
                  "torch": _torch_pass(torch_gelu, [x], None)},
                 {"ours": lambda: both(fused), "numpy": lambda: both(reference),
                  "torch": _torch_pass(torch_gelu, [x], g)}, repeat)


def rows(quick: bool, repeat: int) -> list[dict]:
    """The fused family's benchmark rows (see the module docstring).

    Args:
        quick: tiny shapes, a smoke test of a few seconds, not a measurement.
        repeat: measurements per implementation; each row reports the best.

    Returns:
        rows made by `minigrad.cli.kernel_bench.timing.row`, unit GB/s.
    """
    rng = np.random.default_rng(0)
    tokens, vocab = (64, 10) if quick else (2048, 100)
    norm_widths = (16,) if quick else (96, 1024)
    gelu_shapes = [(64, 48)] if quick else [(2048, 384), (4096, 4096)]
    out = []
    for name in ("softmax", "log_softmax"):
        out += _softmax_rows(name, (tokens, vocab), rng, repeat)
    out += _cross_entropy_rows((tokens, vocab), rng, repeat)
    for width in norm_widths:
        out += _layer_norm_rows((tokens, width), rng, repeat)
    for shape in gelu_shapes:
        out += _gelu_rows(shape, "tanh", rng, repeat)
    out += _gelu_rows(gelu_shapes[0], "none", rng, repeat)
    return out
