"""`minigrad/cli/kernel_bench/matmul.py`: the quick rows are well formed and positive."""

import numpy as np

from minigrad.cli.kernel_bench import matmul


def test_quick_rows_cover_every_step_and_the_batched_product():
    rows = matmul.rows(quick=True, repeat=1)
    assert [r["kernel"] for r in rows] == ["naive", "ikj", "blocked", "parallel", "batched"]
    for r in rows:
        assert r["family"] == "matmul" and r["unit"] == "GFLOP/s" and r["dtype"] == "float32"
        assert r["direction"] == "forward" and r["ours_threads"] >= 1
        assert {"ours", "blas"} <= set(r["ms"]) <= {"ours", "blas", "torch"}
        assert all(np.isfinite(v) and v > 0 for v in r["ms"].values())
        assert all(v > 0 for v in r["throughput"].values())
        assert r["speedup_vs_blas"] > 0
    assert rows[0]["shape"] == "64x64x64" and rows[0]["work"] == 2 * 64 ** 3
    assert rows[-1]["shape"] == "B4 32x32x32" and rows[-1]["work"] == 2 * 4 * 32 ** 3
    assert rows[0]["ours_threads"] == 1
