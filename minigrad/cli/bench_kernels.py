"""`minigrad bench kernels`: every hand-written kernel next to NumPy, OpenBLAS and PyTorch.

One row per (kernel, shape, pass): the time of our Numba kernel, of the NumPy reference
kernel it is tested against, of OpenBLAS through NumPy where the kernel is a matrix product,
and of PyTorch's CPU implementation when PyTorch is installed, all measured in the same run,
each the best of `--repeat` measurements after a warm-up call (see
`minigrad.cli.kernel_bench.timing`), with the throughput in the row's unit (GFLOP/s, GOP/s or
GB/s) and our speedup over each of the others. The shapes and what each family measures are
in its module, `minigrad/cli/kernel_bench/<family>.py`. The `memory` family measures the
machine's bandwidth (STREAM triad); with the best sgemm it gives the roofline printed under
the table and stored under "roofline" in the JSON.

Threads: each family runs in a fresh Python process per thread count, with
NUMBA_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set before
anything loads and `torch.set_num_threads`, so that our kernels, OpenBLAS and PyTorch get the
same cores (`--threads 1,2`; default: all cores). The process also isolates the families'
memory, which the attention rows measure.

Writes the rows as JSON (`--out`, default bench-kernels.json), prints a table, and draws
a bar chart of the throughputs next to the JSON (a PNG; needs matplotlib). `--quick` runs
tiny shapes: a smoke test of the whole pipeline in seconds, not a measurement.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from minigrad.cli import KERNEL_FAMILIES as FAMILIES
from minigrad.cli.kernel_bench.memory import roofline
from minigrad.cli.machine import THREAD_VARIABLES, machine_info

IMPLEMENTATIONS = ("ours", "numpy", "blas", "torch")


def measure_family(family: str, quick: bool, repeat: int) -> list[dict]:
    """The rows of one family, measured in this process (the worker's job)."""
    threads = int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))
    if importlib.util.find_spec("torch") is not None:
        import torch
        torch.set_num_threads(threads)
    module = importlib.import_module(f"minigrad.cli.kernel_bench.{family}")
    rows = module.rows(quick=quick, repeat=repeat)
    for r in rows:
        r["threads"] = threads
    return rows


def _in_subprocess(family: str, quick: bool, repeat: int, threads: int) -> list[dict]:
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    job = json.dumps({"family": family, "quick": quick, "repeat": repeat})
    done = subprocess.run([sys.executable, "-m", "minigrad.cli.bench_kernels", "--worker", job],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench kernels: the {family} worker ({threads} threads) failed "
                           f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _number(value: float | None) -> str:
    if value is None:
        return "--"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_table(rows: list[dict]) -> str:
    """The rows as a text table: throughput of each implementation, then our speedups."""
    header = (f"{'kernel':<22} {'shape':<28} {'pass':<8} {'thr':>3} {'unit':<7} "
              + " ".join(f"{name:>7}" for name in IMPLEMENTATIONS)
              + " " + " ".join(f"{'x ' + name:>8}" for name in IMPLEMENTATIONS[1:]))
    lines = [header, "-" * len(header)]
    for r in rows:
        direction = "fwd" if r["direction"] == "forward" else "fwd+bwd"
        speedups = [r.get(f"speedup_vs_{name}") for name in IMPLEMENTATIONS[1:]]
        lines.append(
            f"{r['family'] + '/' + r['kernel']:<22} {r['shape']:<28} {direction:<8} "
            f"{r['threads']:>3} {r['unit']:<7} "
            + " ".join(f"{_number(r['throughput'].get(name)):>7}" for name in IMPLEMENTATIONS)
            + " " + " ".join(f"{_number(s) + ('x' if s else ''):>8}" for s in speedups))
    lines.append("throughput in the row's unit (higher is better); 'x numpy' = numpy's time "
                 "/ ours (above 1: ours is faster)")
    for threads, roof in roofline(rows).items():
        if roof.get("ridge_flops_per_byte") is not None:
            lines.append(f"roofline, {threads} thread(s): peak {roof['peak_gflops']:.0f} GFLOP/s "
                         f"(best OpenBLAS sgemm), memory {roof['bandwidth_gbs']:.1f} GB/s "
                         f"(STREAM triad), ridge point {roof['ridge_flops_per_byte']:.1f} "
                         f"FLOPs/byte")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> str:
    """A bar chart of every row's throughputs, one panel per family; returns what was done."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped the plot: matplotlib is not installed (pip install -e '.[plot]')"
    families = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
    figure, axes = plt.subplots(len(families), 1, figsize=(11, 3.2 * len(families)),
                                squeeze=False)
    width = 0.2
    for axis, family in zip(axes[:, 0], families):
        mine = [r for r in rows if r["family"] == family]
        for i, name in enumerate(IMPLEMENTATIONS):
            heights = [r["throughput"].get(name, 0.0) for r in mine]
            axis.bar([x + (i - 1.5) * width for x in range(len(mine))], heights, width,
                     label=name)
        axis.set_xticks(range(len(mine)))
        axis.set_xticklabels([f"{r['kernel']}\n{r['shape']}\n"
                              f"{'fwd' if r['direction'] == 'forward' else 'fwd+bwd'} "
                              f"{r['threads']}t" for r in mine], fontsize=6)
        axis.set_ylabel(mine[0]["unit"])
        axis.set_title(family)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return f"wrote {path}"


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise SystemExit(f"minigrad bench kernels: --repeat must be at least 1, got "
                         f"{args.repeat}")
    threads_list = [int(t) for t in str(args.threads or os.cpu_count() or 1).split(",")]
    families = getattr(args, "kernels", None) or FAMILIES
    quick = bool(getattr(args, "quick", False))
    rows = []
    for threads in threads_list:
        for family in families:
            rows += _in_subprocess(family, quick, args.repeat, threads)
            print(f"  measured {family} with {threads} thread(s)", flush=True)
    torch = None
    if importlib.util.find_spec("torch") is not None:
        import torch
    report = {
        "benchmark": "kernels",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(torch),
        "settings": {"repeat": args.repeat, "threads": threads_list, "quick": quick,
                     "timer": "time.perf_counter, best of repeat after one warm-up call"},
        "torch_available": torch is not None,
        "roofline": {str(t): roof for t, roof in roofline(rows).items()},
        "rows": rows,
    }
    print(format_table(rows))
    path = Path(args.out or "bench-kernels.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    print(plot(rows, path.with_suffix(".png")))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        job = json.loads(sys.argv[2])
        print(json.dumps(measure_family(job["family"], job["quick"], job["repeat"])))
    else:
        sys.exit("usage: python -m minigrad.cli.bench_kernels --worker JOB (run by "
                 "`minigrad bench kernels`)")
