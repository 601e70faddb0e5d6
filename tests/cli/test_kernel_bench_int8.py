"""`minigrad/cli/kernel_bench/int8.py`: the quick rows are well formed and positive."""

import numpy as np

from minigrad.cli.kernel_bench import int8


def test_quick_rows_cover_the_product_and_both_epilogues():
    rows = int8.rows(quick=True, repeat=1)
    assert [r["kernel"] for r in rows] == ["int8_gemm", "dequantize", "requantize"]
    for r in rows:
        assert r["family"] == "int8" and r["unit"] == "GOP/s" and r["direction"] == "forward"
        assert r["shape"] == "64x48x32" and r["work"] == 2 * 64 * 48 * 32
        assert {"ours", "blas"} <= set(r["ms"]) <= {"ours", "numpy", "blas", "torch"}
        assert all(np.isfinite(v) and v > 0 for v in r["ms"].values())
        assert all(v > 0 for v in r["throughput"].values())
        assert r["speedup_vs_blas"] > 0 and isinstance(r["vnni"], bool)
    assert "numpy" in rows[0]["ms"]  # NumPy's integer matmul is timed at small sizes
    assert [r["dtype"] for r in rows] == ["uint8 x int8 -> int32", "uint8 x int8 -> float32",
                                          "uint8 x int8 -> uint8"]
