"""`minigrad bench ddp`: the scaling summary, the table, and quick runs end to end at P = 1, 2
(starting mpiexec itself, and under mpiexec)."""

import json
import subprocess
import sys

import pytest

from minigrad.cli.bench_ddp import TARGET_SPEEDUP, format_table, scaling


def _row(procs, mode, throughput, model="gpt"):
    return {"procs": procs, "model": model, "mode": mode, "unit": "tokens",
            "per_rank_batch": 32 // procs if mode != "single" else 32,
            "ms_per_step": 1.0, "ms_per_step_median": 1.1,
            "cpu_ms_per_step": 100.0 if mode == "single" else 100.0 * 1.1 / procs,
            "throughput": throughput}


def test_scaling_against_the_one_process_run():
    rows = [_row(1, "single", 1000.0), _row(2, "ddp", 1800.0), _row(2, "ddp_no_overlap", 1500.0),
            _row(4, "ddp", 2000.0)]
    two, two_no_overlap, four = scaling(rows)
    assert two["mode"] == "ddp" and two_no_overlap["mode"] == "ddp_no_overlap"
    assert two["speedup"] == pytest.approx(1.8) and two["efficiency"] == pytest.approx(0.9)
    assert two["overlap_gain"] == pytest.approx(1.2) and two["target_met"] is True
    assert two["cpu_speedup"] == pytest.approx(2 / 1.1)
    assert two_no_overlap["speedup"] == pytest.approx(1.5)
    assert two_no_overlap["overlap_gain"] is None and two_no_overlap["target_met"] is False
    assert four["speedup"] == pytest.approx(2.0) and four["efficiency"] == pytest.approx(0.5)
    assert four["overlap_gain"] is None and four["target_met"] is None
    assert TARGET_SPEEDUP == 1.7


def test_scaling_falls_back_to_rank_zero_alone_under_mpirun():
    rows = [_row(2, "single", 1000.0), _row(2, "ddp", 1600.0)]
    (two,) = scaling(rows)
    assert two["speedup"] == pytest.approx(1.6) and two["target_met"] is False
    text = format_table(rows, [two])
    assert "1.60x" in text and "80%" in text and "NOT met" in text


def _check(result, procs):
    assert result["procs"] == procs and result["mpi"]["library"]
    rows = result["rows"]
    assert {(r["procs"], r["mode"]) for r in rows} == (
        {(1, "single")} if 1 in procs else {(2, "single")}) | {(2, "ddp"), (2, "ddp_no_overlap")}
    for r in rows:
        assert r["model"] == "mlp" and r["unit"] == "samples" and r["global_batch"] == 64
        assert r["per_rank_batch"] == (64 if r["mode"] == "single" else 32)
        assert r["cpu_ms_per_step"] > 0
        assert r["throughput"] == pytest.approx(r["items_per_step"] * r["steps"]
                                                / (r["ms_per_step"] * r["steps"] / 1e3))
    two, two_no_overlap = result["scaling"]
    assert two["procs"] == 2 and two["speedup"] > 0 and two["overlap_gain"] > 0
    assert two_no_overlap["mode"] == "ddp_no_overlap" and two_no_overlap["speedup"] > 0


def test_quick_run_starts_mpiexec_itself(tmp_path):
    pytest.importorskip("mpi4py")
    out = tmp_path / "ddp.json"
    done = subprocess.run([sys.executable, "-m", "minigrad.cli", "bench", "ddp", "--quick",
                           "--procs", "1,2", "--models", "mlp", "--repeat", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _check(json.loads(out.read_text()), [1, 2])
    assert "speedup" in done.stdout


def test_quick_run_under_mpiexec(tmp_path):
    pytest.importorskip("mpi4py")
    from tests.distributed.mpi_launch import run_mpi

    out = tmp_path / "ddp.json"
    done = run_mpi(2, "bench_cli.py", "bench", "ddp", "--quick", "--models", "mlp",
                   "--repeat", "1", "--out", str(out), timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    _check(json.loads(out.read_text()), [2])


def test_a_batch_that_does_not_split_is_an_error(tmp_path):
    pytest.importorskip("mpi4py")
    done = subprocess.run([sys.executable, "-m", "minigrad.cli", "bench", "ddp", "--quick",
                           "--procs", "2", "--models", "mlp", "--batch-size", "63",
                           "--out", str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "global batch 63 of mlp does not split evenly over 2 ranks" in done.stderr
