"""`minigrad bench overhead`: what the framework costs per op, next to PyTorch on the CPU.

On tiny tensors the arithmetic takes nanoseconds, so the time of an op is framework
overhead: Python calls, wrapping the result in a Tensor, recording the graph node, and in the
backward pass the topological walk and the bookkeeping of gradients. Each case below is one
function written once against the API minigrad and PyTorch share, so both frameworks run
exactly the same code on the same values:

- `add_forward`: `x + y` on 4x4 tensors that do not require grad: forward dispatch only;
- `mul_sum_backward`: `(x * w).sum().backward()` on 4x4 leaves: one op, a reduction, backward;
- `chain20_backward`: 20 elementwise ops (mul, add, tanh, sigmoid, exp, relu, ...) on 16x16,
  then `sum()`, then backward.

Between iterations the leaves' `.grad` is set to None, so every iteration does the same work.
Timing: `time.perf_counter` around a loop of `iterations` calls, after a warm-up of a tenth
of that; repeated `--repeat` times; we report microseconds per iteration, best and median over
the repeats. PyTorch runs on 1 thread (`torch.set_num_threads(1)`): overhead is what is
measured, and NumPy computes elementwise ops on one thread anyway.

The environment variable `MINIGRAD_BENCH_ITERATIONS=N` replaces every case's iteration count
(tests use it to run in a fraction of a second); the numbers are then noisier.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import minigrad
from minigrad.cli.machine import machine_info

TARGET_RATIO = 1.5  # from the issue: minigrad within 1.5x of PyTorch's eager overhead
THREADS = 1


def add_forward(x, y):
    return x + y


def mul_sum_backward(x, w):
    x.grad = None
    w.grad = None
    (x * w).sum().backward()


def chain20(x, w, b):
    """20 elementwise ops, then a sum; values stay in tanh/sigmoid range, so exp is safe."""
    h = x * w                  # 1
    h = h + b                  # 2
    h = h.tanh()               # 3
    h = h * 0.5                # 4
    h = h.sigmoid()            # 5
    h = h - x                  # 6
    h = h.exp()                # 7
    h = h.relu()               # 8
    h = h + w                  # 9
    h = h * x                  # 10
    h = h.tanh()               # 11
    h = -h                     # 12
    h = h.sigmoid()            # 13
    h = h * w                  # 14
    h = h + 1.0                # 15
    h = h.tanh()               # 16
    h = h * b                  # 17
    h = h.exp()                # 18
    h = h - w                  # 19
    h = h * 0.5                # 20
    return h.sum()             # and the reduction that backward starts from


def chain20_backward(x, w, b):
    x.grad = None
    w.grad = None
    b.grad = None
    chain20(x, w, b).backward()


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    fn: Callable
    shape: tuple
    inputs: int            # how many tensors fn takes
    ops: int               # ops per iteration in the forward pass
    requires_grad: bool
    iterations: int


CASES = (
    Case("add_forward", "x + y, forward only, no grad", add_forward, shape=(4, 4), inputs=2,
         ops=1, requires_grad=False, iterations=20_000),
    Case("mul_sum_backward", "(x * w).sum().backward()", mul_sum_backward, shape=(4, 4),
         inputs=2, ops=2, requires_grad=True, iterations=5_000),
    Case("chain20_backward", "20 elementwise ops, then sum(), forward + backward",
         chain20_backward, shape=(16, 16), inputs=3, ops=21, requires_grad=True,
         iterations=1_000),
)


def _import_torch():
    """PyTorch if it is installed, else None (the benchmark then times minigrad alone)."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def _inputs(module, case: Case, arrays: list[np.ndarray]) -> list:
    return [module.tensor(a, requires_grad=case.requires_grad) for a in arrays]


def _time(fn: Callable, args: list, iterations: int, repeat: int) -> dict:
    """Microseconds per call of fn(*args): best and median over `repeat` timed loops."""
    for _ in range(max(1, iterations // 10)):
        fn(*args)
    per_call = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(iterations):
            fn(*args)
        per_call.append((time.perf_counter() - start) / iterations * 1e6)
    return {"best_us": min(per_call), "median_us": statistics.median(per_call),
            "all_us": per_call}


def _check_same_values(case: Case, mg_args: list, torch_args: list) -> None:
    """Both frameworks must compute the same thing, or the comparison means nothing."""
    if case.fn is add_forward:
        pairs = [(add_forward(*mg_args).data, add_forward(*torch_args).detach().numpy())]
    else:
        case.fn(*mg_args)
        case.fn(*torch_args)
        pairs = [(m.grad.data, t.grad.numpy()) for m, t in zip(mg_args, torch_args)]
    for ours, theirs in pairs:
        if not np.allclose(ours, theirs, rtol=1e-4, atol=1e-5):
            raise RuntimeError(f"bench overhead: case {case.name}: minigrad and PyTorch disagree "
                               f"(max abs difference {np.abs(ours - theirs).max():.3g})")


def _iterations(case: Case) -> int:
    override = os.environ.get("MINIGRAD_BENCH_ITERATIONS")
    return int(override) if override else case.iterations


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise SystemExit(f"minigrad bench overhead: --repeat must be at least 1, got "
                         f"{args.repeat}")
    torch = _import_torch()
    if torch is None:
        print("PyTorch is not installed: timing minigrad alone "
              "(pip install -e \".[parity]\" to compare)")
        previous_threads = None
    else:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(THREADS)
    try:
        results = [_run_case(case, torch, args.repeat) for case in CASES]
    finally:
        if previous_threads is not None:
            torch.set_num_threads(previous_threads)

    report = {
        "benchmark": "overhead",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(torch),
        "settings": {
            "repeat": args.repeat,
            "warmup_iterations": "a tenth of iterations",
            "timer": "time.perf_counter",
            "dtype": "float32",
            "torch_threads": THREADS if torch is not None else None,
            "numpy_threads": "1 (elementwise ufuncs are single-threaded; no BLAS call here)",
            "grad_reset": "leaf.grad = None before every iteration",
            "target_ratio": TARGET_RATIO,
        },
        "torch_available": torch is not None,
        "cases": results,
    }
    _print_table(report)
    path = Path(args.out or "bench-overhead.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def _run_case(case: Case, torch, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(case.shape).astype(np.float32) for _ in range(case.inputs)]
    iterations = _iterations(case)
    mg_args = _inputs(minigrad, case, arrays)
    result = {
        "case": case.name,
        "description": case.description,
        "shape": list(case.shape),
        "ops": case.ops,
        "iterations": iterations,
        "minigrad": _time(case.fn, mg_args, iterations, repeat),
        "torch": None,
        "ratio_best": None,
        "ratio_median": None,
        "meets_target": None,
    }
    if torch is not None:
        torch_args = _inputs(torch, case, arrays)
        _check_same_values(case, mg_args, torch_args)
        ours, theirs = result["minigrad"], _time(case.fn, torch_args, iterations, repeat)
        result["torch"] = theirs
        result["ratio_best"] = ours["best_us"] / theirs["best_us"]
        result["ratio_median"] = ours["median_us"] / theirs["median_us"]
        result["meets_target"] = result["ratio_best"] <= TARGET_RATIO
    return result


def _print_table(report: dict) -> None:
    machine, settings = report["machine"], report["settings"]
    torch_version = machine["torch"] or "not installed"
    print(f"per-op overhead, microseconds per iteration, best (median) of {settings['repeat']}; "
          f"Python {machine['python']}, NumPy {machine['numpy']}, PyTorch {torch_version} on "
          f"{settings['torch_threads'] or '-'} thread(s); {machine['cpu_count']} CPUs")
    header = (f"{'case':<18} {'shape':>7} {'minigrad us':>19} {'torch us':>19} "
              f"{'ratio':>7}  within {settings['target_ratio']}x?")
    print(header)
    print("-" * len(header))
    for r in report["cases"]:
        shape = "x".join(map(str, r["shape"]))
        ours = f"{r['minigrad']['best_us']:.1f} ({r['minigrad']['median_us']:.1f})"
        if r["torch"] is None:
            theirs, ratio, verdict = "-", "-", "-"
        else:
            theirs = f"{r['torch']['best_us']:.1f} ({r['torch']['median_us']:.1f})"
            ratio = f"{r['ratio_best']:.2f}x"
            verdict = "yes" if r["meets_target"] else "no"
        print(f"{r['case']:<18} {shape:>7} {ours:>19} {theirs:>19} {ratio:>7}  {verdict}")
    print("ratio: minigrad / PyTorch, best times")
    chain = next(r for r in report["cases"] if r["case"] == "chain20_backward")
    per_op = f"chain20: {chain['minigrad']['best_us'] / chain['ops']:.1f} us per op in minigrad"
    if chain["torch"] is not None:
        per_op += f", {chain['torch']['best_us'] / chain['ops']:.1f} us in PyTorch"
    print(per_op + " (forward + backward)")
