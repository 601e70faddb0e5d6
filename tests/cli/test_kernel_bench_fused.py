"""`minigrad/cli/kernel_bench/fused.py`: the quick rows are well formed and positive."""

import numpy as np

from minigrad.cli.kernel_bench import fused

KERNELS = {"softmax", "log_softmax", "cross_entropy", "layer_norm", "gelu_tanh", "gelu"}


def test_quick_rows_cover_every_kernel_both_ways_in_gb_per_second():
    rows = fused.rows(quick=True, repeat=1)
    assert {r["kernel"] for r in rows} == KERNELS
    assert {(r["kernel"], r["direction"]) for r in rows} == {
        (k, d) for k in KERNELS for d in ("forward", "forward+backward")}
    for r in rows:
        assert r["family"] == "fused" and r["unit"] == "GB/s" and r["dtype"] == "float32"
        assert {"ours", "numpy"} <= set(r["ms"]) <= {"ours", "numpy", "torch"}
        assert all(np.isfinite(v) and v > 0 for v in r["ms"].values())
        assert all(v > 0 for v in r["throughput"].values())
        assert r["speedup_vs_numpy"] > 0
    softmax = next(r for r in rows if r["kernel"] == "softmax" and r["direction"] == "forward")
    assert softmax["shape"] == "64x10" and softmax["work"] == 2 * 64 * 10 * 4  # x in, y out
