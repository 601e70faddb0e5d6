"""`minigrad/cli/kernel_bench/depthwise.py`: the quick rows are well formed and positive."""

import numpy as np

from minigrad.cli.kernel_bench import depthwise


def test_quick_rows_cover_every_shape_forward_then_backward():
    rows = depthwise.rows(quick=True, repeat=1)
    assert [(r["shape"], r["direction"]) for r in rows] == [
        ("N2 C8 14x14 3x3 s1 p1", "forward"), ("N2 C8 14x14 3x3 s1 p1", "forward+backward"),
        ("N2 C4 9x9 3x3 s1 p1", "forward"), ("N2 C4 9x9 3x3 s1 p1", "forward+backward")]
    for r in rows:
        assert r["family"] == "depthwise" and r["kernel"] == "numba"
        assert r["unit"] == "GFLOP/s" and r["dtype"] == "float32" and r["ours_threads"] >= 1
        assert {"ours", "numpy"} <= set(r["ms"]) <= {"ours", "numpy", "torch"}
        assert all(np.isfinite(v) and v > 0 for v in r["ms"].values())
        assert all(v > 0 for v in r["throughput"].values())
        assert r["speedup_vs_numpy"] > 0 and r["pad_ms"] > 0
    forward, both = rows[0], rows[1]
    assert forward["work"] == 2 * 2 * 8 * 14 * 14 * 9 and both["work"] == 3 * forward["work"]
    assert forward["min_bytes"] == 2 * 2 * 8 * 14 * 14 * 4
    assert both["min_bytes"] == 5 * 2 * 8 * 14 * 14 * 4
