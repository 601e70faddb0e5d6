"""`minigrad/cli/kernel_bench/memory.py`: the triad row and the roofline built from rows."""

import numpy as np
import pytest

from minigrad.cli.kernel_bench import memory


def test_quick_triad_row_counts_twelve_bytes_per_element():
    (r,) = memory.rows(quick=True, repeat=1)
    assert r["family"] == "memory" and r["kernel"] == "stream_triad" and r["unit"] == "GB/s"
    assert r["work"] == 12 * memory.QUICK_ELEMENTS
    assert set(r["ms"]) == {"ours", "numpy"}
    assert all(np.isfinite(v) and v > 0 for v in r["ms"].values())
    assert r["throughput"]["ours"] == pytest.approx(r["work"] / (r["ms"]["ours"] * 1e-3) / 1e9)


def test_triad_computes_b_plus_s_times_c():
    b = np.arange(5, dtype=np.float32)
    c = np.ones(5, dtype=np.float32)
    a = np.empty_like(b)
    memory._triad(a, b, c, np.float32(2.0))
    np.testing.assert_array_equal(a, b + 2)
    memory._numpy_triad(a, b, c, np.float32(3.0))
    np.testing.assert_array_equal(a, b + 3)


def _fake(family, threads, blas=None, ours=None):
    throughput = {}
    if blas is not None:
        throughput["blas"] = blas
    if ours is not None:
        throughput["ours"] = ours
    return {"family": family, "threads": threads, "throughput": throughput}


def test_roofline_takes_best_sgemm_and_best_triad_per_thread_count():
    rows = [_fake("matmul", 1, blas=100.0, ours=50.0), _fake("matmul", 1, blas=150.0),
            _fake("memory", 1, ours=10.0), _fake("matmul", 2, blas=300.0),
            _fake("memory", 2, ours=15.0), _fake("fused", 2, ours=999.0)]
    roof = memory.roofline(rows)
    assert roof[1] == {"peak_gflops": 150.0, "bandwidth_gbs": 10.0, "ridge_flops_per_byte": 15.0}
    assert roof[2]["ridge_flops_per_byte"] == pytest.approx(20.0)


def test_roofline_without_a_memory_row_has_no_ridge_point():
    roof = memory.roofline([_fake("matmul", 1, blas=100.0)])
    assert roof[1]["bandwidth_gbs"] is None and "ridge_flops_per_byte" not in roof[1]
