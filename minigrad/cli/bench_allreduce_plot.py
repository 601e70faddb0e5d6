"""The two PNG figures of `minigrad bench allreduce` (both need matplotlib).

- measured: busbw against message size, one panel per world size, a solid line per
  algorithm and, dashed in the same colour, the cost model's prediction;
- model: which algorithm the cost model predicts fastest for P = 8 ... 4096 (powers of two
  and the 3 * 2^k between them, where the fold-in step of Rabenseifner and recursive
  doubling costs an extra 2 n beta) and sizes 4 B ... 1 GiB, next to every algorithm's
  predicted busbw at one P.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minigrad.cli.bench_allreduce_report import MODEL_PROCS, human_bytes
from minigrad.distributed import cost_model

COLORS = {"ring": "tab:blue", "rabenseifner": "tab:orange", "recursive_doubling": "tab:green",
          "tree": "tab:red", "mpi": "tab:purple", "mpi_blocking": "tab:gray"}


def _pyplot():
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


SKIPPED = "skipped the plot: matplotlib is not installed (pip install -e '.[plot]')"


def _size_axis(axis) -> None:
    axis.set_xscale("log", base=2)
    ticks = [t for t in (2 ** k for k in range(0, 31, 4))
             if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]]
    axis.set_xticks(ticks)
    axis.set_xticklabels([human_bytes(t).replace(" ", "") for t in ticks], fontsize=7)


def plot_measured(rows: list[dict], path: Path) -> str:
    """busbw against size per world size (measured solid, predicted dashed); returns what was
    done."""
    plt = _pyplot()
    if plt is None:
        return SKIPPED
    worlds = sorted({r["procs"] for r in rows if r["procs"] > 1})
    if not worlds:
        return "skipped the plot: no world of 2 or more ranks was measured"
    figure, axes = plt.subplots(1, len(worlds), figsize=(4.2 * len(worlds), 3.4),
                                squeeze=False, sharey=True)
    for axis, p in zip(axes[0], worlds):
        names = list(dict.fromkeys(r["algorithm"] for r in rows if r["procs"] == p))
        for name in names:
            mine = sorted((r for r in rows if r["procs"] == p and r["algorithm"] == name),
                          key=lambda r: r["bytes"])
            sizes = [r["bytes"] for r in mine]
            color = COLORS.get(name)
            axis.plot(sizes, [r["busbw_GBps"] for r in mine], "o-", ms=3, color=color,
                      label=name)
            if name != "mpi_blocking" and all("predicted_busbw_GBps" in r for r in mine):
                axis.plot(sizes, [r["predicted_busbw_GBps"] for r in mine], "--", lw=0.8,
                          color=color)
        _size_axis(axis)
        axis.set_title(f"P = {p} (dashed: cost model)", fontsize=9)
        axis.set_xlabel("message size")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("busbw (GB/s)")
    axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return f"wrote {path}"


def plot_model(model: dict, path: Path, busbw_procs: int = 1024) -> str:
    """The winner map for P = 8 ... 4096 and the predicted busbw at `busbw_procs`; returns
    what was done."""
    plt = _pyplot()
    if plt is None:
        return SKIPPED
    from matplotlib.colors import ListedColormap

    alpha, beta, gamma = (model["alpha_s"], model["beta_s_per_byte"],
                          model["gamma_s_per_byte"])
    algorithms = cost_model.MODEL_ALGORITHMS
    procs = MODEL_PROCS
    sizes = np.logspace(2, 30, 113, base=2)
    winners = cost_model.winner_map(sizes, procs, alpha, beta, gamma)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colormap = ListedColormap([COLORS[name] for name in algorithms])
    left.pcolormesh(sizes, np.arange(len(procs)), winners, cmap=colormap,
                    vmin=-0.5, vmax=len(algorithms) - 0.5, shading="nearest")
    left.set_yticks(range(len(procs)))
    left.set_yticklabels([str(p) for p in procs], fontsize=6)
    _size_axis(left)
    left.set_xlabel("message size")
    left.set_ylabel("P (ranks)")
    left.set_title(f"fastest predicted: {model['link_bandwidth_GBps']:g} GB/s, "
                   f"{model['link_latency_us']:g} us", fontsize=9)
    for name in algorithms:
        left.plot([], [], "s", color=COLORS[name], label=name)
        busbw = sizes / cost_model.predict(name, sizes, busbw_procs, alpha, beta, gamma) \
            / 1e9 * 2 * (busbw_procs - 1) / busbw_procs
        right.plot(sizes, busbw, color=COLORS[name], label=name)
    left.legend(fontsize=7, loc="lower left", framealpha=0.9)
    right.axhline(1 / beta / 1e9, linestyle=":", color="black", lw=0.8, label="link bandwidth")
    _size_axis(right)
    right.set_yscale("log")
    right.set_xlabel("message size")
    right.set_ylabel("predicted busbw (GB/s)")
    right.set_title(f"P = {busbw_procs}", fontsize=9)
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return f"wrote {path}"
