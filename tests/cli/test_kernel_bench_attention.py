"""The attention family of `minigrad bench kernels`: rows well formed, FLOPs as
FlashAttention counts them, and a peak-memory probe that sees what a call allocates."""

import numpy as np
import pytest

from minigrad.cli.kernel_bench import attention


def test_quick_rows_are_well_formed_and_positive():
    rows = attention.rows(quick=True, repeat=1)
    lengths = attention.QUICK["lengths"]
    assert len(rows) == len(lengths) * 2 * 2  # (T) x (forward, forward+backward) x causal
    for r in rows:
        assert r["family"] == "attention" and r["unit"] == "GFLOP/s"
        assert r["direction"] in ("forward", "forward+backward")
        assert r["ms"]["ours"] > 0 and r["throughput"]["ours"] > 0
        assert set(r["ms"]) >= {"ours", "numpy"} and set(r["peak_mb"]) == set(r["ms"])
        assert all(value >= 0 for value in r["peak_mb"].values())
        assert r["work"] == attention.attention_flops(1, 2, r["length"], 16, r["causal"],
                                                      r["direction"])
        assert ("causal" in r["shape"]) == r["causal"]


def test_flops_follow_the_flash_attention_accounting():
    forward = attention.attention_flops(4, 8, 1024, 64, False, "forward")
    assert forward == 4 * 4 * 8 * 1024 * 1024 * 64
    assert attention.attention_flops(4, 8, 1024, 64, True, "forward") == forward / 2
    assert attention.attention_flops(4, 8, 1024, 64, False, "forward+backward") == 3.5 * forward


def test_numpy_reference_is_skipped_only_where_it_needs_gigabytes():
    assert attention.numpy_bytes(4, 8, 1024, "forward+backward") < attention.NUMPY_LIMIT_BYTES
    assert attention.numpy_bytes(4, 8, 4096, "forward") > attention.NUMPY_LIMIT_BYTES


def test_peak_growth_sees_memory_allocated_and_freed_inside_the_call():
    def call():
        block = np.ones(64 * 2**20 // 8)  # 64 MB, touched, then freed on return
        assert block.sum() > 0

    assert attention.peak_growth_mb(call) > 50


@pytest.mark.slow
def test_flash_memory_grows_linearly_and_the_reference_quadratically():
    """Doubling T doubles what the flash kernels add (O(T D)) and quadruples what the
    materialising reference adds (O(T^2)); each measured in a fresh process."""
    grow = {impl: [attention.peak_mb_in_subprocess(impl, 2, 4, length, 64, True, "forward")
                   for length in (1024, 2048)] for impl in ("ours", "numpy")}
    assert grow["ours"][1] < 2.6 * grow["ours"][0] + 1
    assert grow["numpy"][1] > 3.2 * grow["numpy"][0]
    assert grow["ours"][1] < grow["numpy"][1] / 10
