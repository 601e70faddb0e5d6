"""`minigrad bench allreduce`: every all-reduce algorithm's time and bus bandwidth over MPI,
next to MPI's own and to the alpha-beta-gamma cost model.

    mpirun -n 4 minigrad bench allreduce          # this world: P = 4
    minigrad bench allreduce --procs 2,3,4        # starts mpiexec -n 2, 3, 4 itself
    minigrad bench allreduce --quick              # 3 sizes, a smoke test

Under mpirun every rank measures and rank 0 reports; on its own the command starts one
`mpiexec -n P` per world size with one thread per rank and merges the worlds
(`bench_allreduce_jobs`). Each world fits alpha, beta and gamma, then times every
(size, algorithm) on a float32 vector (`bench_allreduce_measure`: best of `--repeat`
after a checked warm-up, a barrier before each call, the slowest rank's time; algbw =
bytes / time, busbw = algbw * 2(P-1)/P as nccl-tests define them).

Prints three tables: the measurements with the cost model's prediction beside each, the
ring's busbw over MPI's (the issue's target: >= 0.8x for messages >= 1 MiB at P = 2 and 4),
and the model's winners at P = 8 ... 4096 on a link of `--link-bandwidth` GB/s and
`--link-latency` us. Writes the JSON (`--out`, default bench-allreduce.json; with the
machine, the MPI library, each P and the commit) and, with matplotlib, two PNGs next to it:
the measured busbw (`.png`) and the model's winner map (`-model.png`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

from minigrad.cli import ALLREDUCE_ALGORITHMS
from minigrad.cli import bench_allreduce_report as report
from minigrad.cli.bench_allreduce_jobs import (
    launched_by_mpi,
    measure_launched_world,
    print_world_on_rank_0,
    run_worlds,
    source_commit,
)
from minigrad.cli.bench_allreduce_plot import plot_measured, plot_model
from minigrad.cli.errors import CommandError
from minigrad.cli.machine import machine_info

DEFAULT_SIZES = tuple(4096 * 4 ** k for k in range(9))     # 4 KiB ... 256 MiB
QUICK_SIZES = (4096, 64 * 1024, 1 << 20)
DEFAULT_PROCS = (2, 4)
WARMUP = 1
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """'4096' -> 4096, '4K' -> 4096, '1M' -> 1048576, '1G' (binary units, optional 'B' or
    'iB'); the size must be a positive multiple of 4 (float32 elements)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, flags=re.IGNORECASE)
    if match is None:
        raise CommandError(f"--sizes: cannot read {text!r}; write e.g. 4096, 4K, 1M or 1G")
    nbytes = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if nbytes <= 0 or nbytes % 4:
        raise CommandError(f"--sizes: {text!r} is {nbytes} bytes; sizes must be positive "
                           "multiples of 4 (the vector is float32)")
    return nbytes


def parse_procs(text: str | None, default: tuple[int, ...]) -> list[int]:
    """'2,4' -> [2, 4]; None -> `default`."""
    if text is None:
        return list(default)
    try:
        return [int(p) for p in text.split(",")]
    except ValueError as error:
        raise CommandError(f"--procs: expected comma-separated integers like 2,4, got "
                           f"{text!r}") from error


def build_report(worlds: list[dict], settings: dict, bandwidth_GBps: float,
                 latency_us: float) -> dict:
    """The JSON report from the worlds' measurements: predictions, comparison, model."""
    for world in worlds:
        report.attach_predictions(world)
    rows = [row for world in worlds for row in world["rows"]]
    comparisons = report.ring_versus_mpi(rows)
    gamma = worlds[0]["gamma"]["slope_s_per_byte"]
    return {
        "benchmark": "allreduce",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_commit(),
        "mpi": worlds[0]["mpi"],
        "settings": settings,
        "procs": [world["procs"] for world in worlds],
        "fits": [{"procs": w["procs"], "link": w["link"], "gamma": w["gamma"]} for w in worlds],
        "rows": rows,
        "ring_versus_mpi": comparisons,
        "target": {name: report.target_summary(comparisons, name)
                   for name in ("mpi_blocking", "mpi")},
        "model": report.large_scale_model(bandwidth_GBps, latency_us, gamma),
    }


def _fit_lines(fits: list[dict]) -> str:
    lines = []
    for fit in fits:
        link, gamma = fit["link"], fit["gamma"]
        text = (f"P={fit['procs']}: gamma {gamma['slope_s_per_byte'] * 1e9:.3f} ns/B "
                f"({1e-9 / gamma['slope_s_per_byte']:.1f} GB/s of np.add)")
        if link is not None:
            text = (f"P={fit['procs']}: alpha {link['intercept_s'] * 1e6:.2f} us, beta "
                    f"{link['slope_s_per_byte'] * 1e9:.3f} ns/B "
                    f"({1e-9 / link['slope_s_per_byte']:.1f} GB/s), ping-pong fit r2 "
                    f"{link['r2']:.4f}, worst error {link['max_relative_error']:.0%}; "
                    + text.split(": ", 1)[1])
        lines.append(text)
    return "\n".join(lines)


def print_report(result: dict) -> None:
    print(_fit_lines(result["fits"]))
    print(report.format_measured(result["rows"]))
    if result["ring_versus_mpi"]:
        print(report.format_comparison(result["ring_versus_mpi"],
                                       list(result["target"].values())))
    print(report.format_model(result["model"]))


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise CommandError(f"--repeat must be at least 1, got {args.repeat}")
    sizes = ([parse_size(s) for s in args.sizes.split(",")] if args.sizes else
             list(QUICK_SIZES if args.quick else DEFAULT_SIZES))
    settings = {"sizes": sizes, "algorithms": list(args.algorithms or ALLREDUCE_ALGORITHMS),
                "repeat": args.repeat, "warmup": WARMUP, "dtype": "float32",
                "timer": "time.perf_counter; best of repeat; slowest rank per call; a "
                         "barrier before each call"}
    if launched_by_mpi():
        from minigrad.cli.bench_allreduce_measure import measure_world
        worlds = measure_launched_world(args.procs, lambda: measure_world(
            sizes, settings["algorithms"], args.repeat, WARMUP))
        if worlds is None:
            return 0  # not rank 0: rank 0 reports
    else:
        procs = parse_procs(args.procs, DEFAULT_PROCS)
        worlds = run_worlds("minigrad.cli.bench_allreduce", settings, procs)
    result = build_report(worlds, settings, args.link_bandwidth, args.link_latency)
    print_report(result)
    path = Path(args.out or "bench-allreduce.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    print(plot_measured(result["rows"], path.with_suffix(".png")))
    print(plot_model(result["model"], path.with_name(path.stem + "-model.png")))
    return 0


def _worker(job: dict) -> None:
    """Measure in this MPI world; rank 0 prints the result as one JSON line."""
    from minigrad.cli.bench_allreduce_measure import measure_world
    print_world_on_rank_0(measure_world(job["sizes"], job["algorithms"], job["repeat"],
                                        job["warmup"]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: python -m minigrad.cli.bench_allreduce --worker JOB (run by "
                 "`minigrad bench allreduce`)")
