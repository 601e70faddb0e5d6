"""What `minigrad bench allreduce` makes of its measurements: predictions, the ring-vs-MPI
check, the model at large P, and the text tables.

- Every measured row gets the cost model's prediction, from the alpha and beta that the
  row's own world fitted with its ping-pong and the gamma it measured
  (`minigrad.distributed.cost_model`); `mpi` and `mpi_blocking` are priced as MPICH's
  classic choice.
- The issue's target: the hand-written ring's busbw at least 0.8x that of MPI's all-reduce
  (stretch: 1.0x) for messages of 1 MiB and more, at P = 2 and 4. Both MPI rows are compared:
  `mpi` (MPI_Iallreduce through minigrad's queue) and `mpi_blocking` (MPI_Allreduce called
  directly).
- The model at P = 8 ... 4096 on a link of the user's bandwidth and latency (gamma from this
  machine): every algorithm's predicted time and the winner, per P and message size.
"""

from __future__ import annotations

from minigrad.distributed import cost_model

TARGET_MIN_BYTES = 1 << 20
TARGET_RATIO, STRETCH_RATIO = 0.8, 1.0
# 8 ... 4096: the powers of two and the 3 * 2^k between them, where Rabenseifner and
# recursive doubling pay their fold-in step
MODEL_PROCS = tuple(sorted({2 ** k for k in range(3, 13)} | {3 * 2 ** k for k in range(2, 11)}))
MODEL_SIZES = tuple(4 ** k for k in range(1, 16))          # 4 B ... 1 GiB


def model_algorithm(name: str) -> str:
    """The cost model's name for a benchmarked algorithm (both MPI rows are "mpi")."""
    return "mpi" if name.startswith("mpi") else name


def attach_predictions(world: dict) -> None:
    """Add `predicted_s` and `predicted_busbw_GBps` to every row of one world, in place.

    A world of one rank has no link to fit: its predictions are 0 s (nothing to send) and
    the predicted busbw is 0.
    """
    link, gamma = world["link"], world["gamma"]["slope_s_per_byte"]
    for row in world["rows"]:
        p, n = row["procs"], row["bytes"]
        if link is None:
            row["predicted_s"], row["predicted_busbw_GBps"] = 0.0, 0.0
            continue
        seconds = cost_model.predict(model_algorithm(row["algorithm"]), n, p,
                                     link["intercept_s"], link["slope_s_per_byte"], gamma)
        row["predicted_s"] = float(seconds)
        row["predicted_busbw_GBps"] = n / seconds / 1e9 * 2 * (p - 1) / p


def ring_versus_mpi(rows: list[dict]) -> list[dict]:
    """For every (P, size) with a ring row: its busbw over each MPI row's, and the target.

    Returns:
        rows {"procs", "bytes", "ring_busbw_GBps", "over_mpi", "over_mpi_blocking",
        "in_target_range"} (a ratio is None when that MPI row was not measured).
    """
    by_key = {(r["procs"], r["bytes"], r["algorithm"]): r for r in rows}
    result = []
    for r in rows:
        if r["algorithm"] != "ring" or r["procs"] < 2:
            continue
        entry = {"procs": r["procs"], "bytes": r["bytes"], "ring_busbw_GBps": r["busbw_GBps"],
                 "in_target_range": r["bytes"] >= TARGET_MIN_BYTES}
        for name in ("mpi", "mpi_blocking"):
            other = by_key.get((r["procs"], r["bytes"], name))
            entry[f"over_{name}"] = r["busbw_GBps"] / other["busbw_GBps"] if other else None
        result.append(entry)
    return result


def target_summary(comparisons: list[dict], baseline: str = "mpi_blocking") -> dict:
    """The issue's target over the sizes >= 1 MiB: the worst ring/MPI ratio per P and
    whether it reaches 0.8x (and 1.0x)."""
    summary = {}
    for c in comparisons:
        ratio = c[f"over_{baseline}"]
        if not c["in_target_range"] or ratio is None:
            continue
        worst = summary.setdefault(c["procs"], {"worst_ratio": ratio})
        worst["worst_ratio"] = min(worst["worst_ratio"], ratio)
    for entry in summary.values():
        entry["target_met"] = entry["worst_ratio"] >= TARGET_RATIO
        entry["stretch_met"] = entry["worst_ratio"] >= STRETCH_RATIO
    return {"baseline": baseline, "min_bytes": TARGET_MIN_BYTES, "ratio": TARGET_RATIO,
            "stretch": STRETCH_RATIO, "per_procs": {str(p): v for p, v in summary.items()}}


def large_scale_model(bandwidth_GBps: float, latency_us: float, gamma: float,
                      procs=MODEL_PROCS, sizes=MODEL_SIZES) -> dict:
    """The model's prediction of every algorithm at large P on a given link.

    Args:
        bandwidth_GBps: link bandwidth in GB/s (beta = 1 / bandwidth).
        latency_us: per-message latency in microseconds (alpha).
        gamma: seconds per byte reduced (measured on this machine).

    Returns:
        {"alpha_s", "beta_s_per_byte", "gamma_s_per_byte", "rows": [{"procs", "bytes",
        "seconds": {algorithm: s}, "best"}], "crossovers": [{"procs", "first", "second",
        "bytes"}]} where a crossover is the size above which `second` beats `first`.
    """
    alpha, beta = latency_us * 1e-6, 1.0 / (bandwidth_GBps * 1e9)
    rows = []
    for p in procs:
        for n in sizes:
            seconds = {name: float(cost_model.predict(name, n, p, alpha, beta, gamma))
                       for name in cost_model.MODEL_ALGORITHMS}
            rows.append({"procs": p, "bytes": n, "seconds": seconds,
                         "best": min(seconds, key=seconds.get)})
    crossovers = []
    for p in procs:
        for first, second in (("recursive_doubling", "rabenseifner"),
                              ("recursive_doubling", "ring"), ("tree", "ring")):
            n = cost_model.crossover_bytes(first, second, p, alpha, beta, gamma)
            crossovers.append({"procs": p, "first": first, "second": second, "bytes": n})
    return {"link_bandwidth_GBps": bandwidth_GBps, "link_latency_us": latency_us,
            "alpha_s": alpha, "beta_s_per_byte": beta, "gamma_s_per_byte": gamma,
            "rows": rows, "crossovers": crossovers}


def human_bytes(n: float) -> str:
    """4096 -> '4 KiB', 268435456 -> '256 MiB' (binary units, at most one decimal)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n:.0f} B"


def format_measured(rows: list[dict]) -> str:
    """One line per (P, size, algorithm): measured and predicted time and bandwidths."""
    header = (f"{'P':>2} {'size':>8} {'algorithm':<18} {'time ms':>9} {'median':>9} "
              f"{'algbw':>7} {'busbw':>7} {'pred ms':>9} {'pred/meas':>9}")
    lines = [header, "-" * len(header)]
    for r in rows:
        ratio = r["predicted_s"] / r["time_s"] if r.get("predicted_s") else None
        lines.append(f"{r['procs']:>2} {human_bytes(r['bytes']):>8} {r['algorithm']:<18} "
                     f"{r['time_s'] * 1e3:>9.3f} {r['time_median_s'] * 1e3:>9.3f} "
                     f"{r['algbw_GBps']:>7.2f} {r['busbw_GBps']:>7.2f} "
                     f"{r.get('predicted_s', 0.0) * 1e3:>9.3f} "
                     f"{'--' if ratio is None else f'{ratio:.2f}':>9}")
    lines.append("time: best of --repeat (slowest rank per call); bandwidths in GB/s (1e9 B/s); "
                 "busbw = algbw * 2(P-1)/P; pred: the cost model with this world's alpha, "
                 "beta, gamma")
    return "\n".join(lines)


def format_comparison(comparisons: list[dict], summaries: list[dict]) -> str:
    """The ring's busbw over MPI's, per P and size, then the target's verdict per P for
    each baseline's `target_summary`."""
    lines = [f"{'P':>2} {'size':>8} {'ring busbw':>10} {'/ mpi':>7} {'/ mpi_blocking':>14}"]
    for c in comparisons:
        ratios = [c["over_mpi"], c["over_mpi_blocking"]]
        mpi, blocking = ("--" if x is None else f"{x:.2f}x" for x in ratios)
        lines.append(f"{c['procs']:>2} {human_bytes(c['bytes']):>8} "
                     f"{c['ring_busbw_GBps']:>10.2f} {mpi:>7} {blocking:>14}")
    for summary in summaries:
        for p, entry in summary["per_procs"].items():
            verdict = ("met, stretch met" if entry["stretch_met"] else
                       "met" if entry["target_met"] else "NOT met")
            lines.append(f"target at P={p}: ring >= {summary['ratio']}x "
                         f"{summary['baseline']} busbw for sizes >= "
                         f"{human_bytes(summary['min_bytes'])}: worst "
                         f"{entry['worst_ratio']:.2f}x -> {verdict}")
    return "\n".join(lines)


def format_model(model: dict, sizes=(1 << 10, 1 << 20, 1 << 26)) -> str:
    """Per P: the winner and its predicted time at a few message sizes."""
    lines = [(f"model at {model['link_bandwidth_GBps']} GB/s, {model['link_latency_us']} us "
              f"per message, gamma {model['gamma_s_per_byte'] * 1e9:.3f} ns/B:"),
             f"{'P':>5} " + " ".join(f"{human_bytes(n):>30}" for n in sizes)]
    by_key = {(r["procs"], r["bytes"]): r for r in model["rows"]}
    for p in sorted({r["procs"] for r in model["rows"]}):
        cells = []
        for n in sizes:
            row = by_key.get((p, n))
            cells.append("--" if row is None else
                         f"{row['best']} {row['seconds'][row['best']] * 1e3:.3f} ms")
        lines.append(f"{p:>5} " + " ".join(f"{c:>30}" for c in cells))
    return "\n".join(lines)
