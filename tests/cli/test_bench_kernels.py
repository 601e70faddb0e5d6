"""`minigrad bench kernels`: the row format, the table, the plot, and one family end to end."""

import json
import subprocess
import sys

import pytest

from minigrad.cli.bench_kernels import format_table, plot
from minigrad.cli.kernel_bench.timing import best_ms, row


def test_row_computes_throughput_and_speedups():
    r = row("matmul", "blocked", "8x8x8", "float32", "forward", "GFLOP/s", work=2e9,
            ms={"ours": 10.0, "blas": 5.0, "numpy": 40.0, "torch": None})
    assert r["throughput"] == pytest.approx({"ours": 200.0, "blas": 400.0, "numpy": 50.0})
    assert r["speedup_vs_blas"] == pytest.approx(0.5)
    assert r["speedup_vs_numpy"] == pytest.approx(4.0)
    assert "speedup_vs_torch" not in r and "torch" not in r["ms"]


def test_best_ms_is_the_fastest_measurement():
    calls = []
    assert best_ms(lambda: calls.append(1), repeat=3) < 1.0
    assert len(calls) >= 5  # the warm-up, the calibration call and at least one per repeat


def test_table_lists_every_row_with_its_speedups():
    rows = [dict(row("depthwise", "numba", "N32 C32 112x112", "float32", "forward", "GFLOP/s",
                     work=1e9, ms={"ours": 1.0, "numpy": 8.0, "torch": 3.0}), threads=2)]
    text = format_table(rows)
    assert "depthwise/numba" in text and "N32 C32 112x112" in text
    assert "8.00x" in text and "3.00x" in text and "1000.0" in text


def test_plot_writes_a_png_or_says_why_not(tmp_path):
    rows = [dict(row("fused", "softmax", "2048x100", "float32", "forward", "GB/s", work=1e6,
                     ms={"ours": 0.1, "numpy": 0.3}), threads=1)]
    message = plot(rows, tmp_path / "k.png")
    assert (tmp_path / "k.png").exists() or "matplotlib is not installed" in message


@pytest.mark.parametrize("family", ["attention", "depthwise"])
def test_quick_run_end_to_end(tmp_path, family):
    out = tmp_path / "k.json"
    done = subprocess.run([sys.executable, "-m", "minigrad.cli", "bench", "kernels", "--quick",
                           "--kernels", family, "--repeat", "1", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["settings"]["threads"] == [1] and report["rows"]
    for r in report["rows"]:
        assert r["family"] == family and r["threads"] == 1
        assert r["ms"]["ours"] > 0 and r["throughput"]["ours"] > 0
    assert f"{family}/" in done.stdout
