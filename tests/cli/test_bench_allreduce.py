"""`minigrad bench allreduce`: sizes, bandwidths, predictions, the target check, the tables,
and two quick runs end to end (starting mpiexec itself, and under mpiexec)."""

import json
import subprocess
import sys

import pytest

from minigrad.cli import ALLREDUCE_ALGORITHMS
from minigrad.cli import bench_allreduce_report as report
from minigrad.cli.bench_allreduce import parse_procs, parse_size
from minigrad.cli.bench_allreduce_jobs import check_world_size, launched_by_mpi
from minigrad.cli.bench_allreduce_measure import bandwidths
from minigrad.cli.bench_allreduce_plot import plot_measured, plot_model
from minigrad.cli.errors import CommandError
from minigrad.distributed import cost_model


def test_parse_size_reads_binary_units():
    assert [parse_size(s) for s in ("4096", "4K", "4KiB", "1M", "256m", "1G")] == [
        4096, 4096, 4096, 1 << 20, 256 << 20, 1 << 30]
    with pytest.raises(CommandError, match="cannot read '4Q'"):
        parse_size("4Q")
    with pytest.raises(CommandError, match="'6' is 6 bytes; sizes must be positive multiples"):
        parse_size("6")
    assert parse_procs("2,3,4", (2,)) == [2, 3, 4] and parse_procs(None, (2, 4)) == [2, 4]
    with pytest.raises(CommandError, match="--procs: expected comma-separated integers"):
        parse_procs("two", (2,))


def test_bus_bandwidth_is_nccl_tests_definition():
    algbw, busbw = bandwidths(1 << 30, 0.5, 4)
    assert algbw == pytest.approx(2 * (1 << 30) / 1e9)
    assert busbw == pytest.approx(algbw * 2 * 3 / 4)
    assert bandwidths(1000, 1e-6, 1)[1] == 0.0


def test_launch_detection_reads_the_launchers_variables(monkeypatch):
    for name in ("PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_mpi()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launched_by_mpi()
    check_world_size(4)
    with pytest.raises(CommandError, match="started 4 processes .* but MPI's world has 1"):
        check_world_size(1)


def _world(procs=2, alpha=2e-6, beta=1e-10, gamma=5e-11):
    rows = []
    for name, seconds in (("ring", 2e-4), ("mpi", 2.5e-4), ("mpi_blocking", 1.6e-4)):
        for nbytes, scale in ((4096, 0.01), (1 << 20, 1.0), (4 << 20, 4.0)):
            algbw, busbw = bandwidths(nbytes, seconds * scale, procs)
            rows.append({"procs": procs, "algorithm": name, "bytes": nbytes,
                         "time_s": seconds * scale, "time_median_s": seconds * scale,
                         "algbw_GBps": algbw, "busbw_GBps": busbw})
    return {"procs": procs, "rows": rows,
            "link": {"intercept_s": alpha, "slope_s_per_byte": beta},
            "gamma": {"slope_s_per_byte": gamma}}


def test_predictions_use_the_worlds_fit():
    world = _world()
    report.attach_predictions(world)
    ring = next(r for r in world["rows"] if r["algorithm"] == "ring" and r["bytes"] == 1 << 20)
    assert ring["predicted_s"] == pytest.approx(
        cost_model.predict("ring", 1 << 20, 2, 2e-6, 1e-10, 5e-11))
    blocking = next(r for r in world["rows"] if r["algorithm"] == "mpi_blocking")
    assert blocking["predicted_s"] == pytest.approx(
        cost_model.predict("mpi", blocking["bytes"], 2, 2e-6, 1e-10, 5e-11))
    alone = {"procs": 1, "link": None, "gamma": {"slope_s_per_byte": 1e-10},
             "rows": [{"procs": 1, "algorithm": "ring", "bytes": 4096}]}
    report.attach_predictions(alone)
    assert alone["rows"][0]["predicted_s"] == 0.0


def test_ring_versus_mpi_and_the_target():
    comparisons = report.ring_versus_mpi(_world()["rows"])
    assert [c["bytes"] for c in comparisons] == [4096, 1 << 20, 4 << 20]
    big = comparisons[1]
    assert big["over_mpi"] == pytest.approx(2.5 / 2.0)
    assert big["over_mpi_blocking"] == pytest.approx(1.6 / 2.0)
    assert not comparisons[0]["in_target_range"] and big["in_target_range"]
    blocking = report.target_summary(comparisons, "mpi_blocking")["per_procs"]["2"]
    assert blocking == {"worst_ratio": pytest.approx(0.8), "target_met": True,
                        "stretch_met": False}
    mpi = report.target_summary(comparisons, "mpi")["per_procs"]["2"]
    assert mpi["stretch_met"]
    text = report.format_comparison(comparisons, [report.target_summary(comparisons,
                                                                        "mpi_blocking")])
    assert "1 MiB" in text and "0.80x" in text and "-> met" in text


def test_large_scale_model_lists_winners_and_crossovers():
    model = report.large_scale_model(12.5, 2.0, 5e-11, procs=(8, 12), sizes=(64, 1 << 26))
    best = {(r["procs"], r["bytes"]): r["best"] for r in model["rows"]}
    assert best == {(8, 64): "recursive_doubling", (8, 1 << 26): "rabenseifner",
                    (12, 64): "recursive_doubling", (12, 1 << 26): "ring"}
    assert model["alpha_s"] == pytest.approx(2e-6) and model["beta_s_per_byte"] == 8e-11
    crossover = next(c for c in model["crossovers"] if c["procs"] == 8
                     and c["second"] == "rabenseifner")
    assert crossover["bytes"] == pytest.approx(cost_model.crossover_bytes(
        "recursive_doubling", "rabenseifner", 8, 2e-6, 8e-11, 5e-11))
    assert "ring" in report.format_model(model, sizes=(64, 1 << 26))


def test_measured_table_and_plots(tmp_path):
    world = _world()
    report.attach_predictions(world)
    text = report.format_measured(world["rows"])
    assert "4 KiB" in text and "mpi_blocking" in text and "pred/meas" in text
    message = plot_measured(world["rows"], tmp_path / "m.png")
    assert (tmp_path / "m.png").exists() or "matplotlib is not installed" in message
    model = report.large_scale_model(12.5, 2.0, 5e-11)
    message = plot_model(model, tmp_path / "model.png")
    assert (tmp_path / "model.png").exists() or "matplotlib is not installed" in message


def _check_report(result: dict, procs: list[int]) -> None:
    assert result["procs"] == procs and result["settings"]["sizes"] == [4096, 65536, 1 << 20]
    assert result["mpi"]["library"] and "commit" in result["source"]
    for fit in result["fits"]:
        assert fit["link"]["intercept_s"] > 0 and fit["link"]["slope_s_per_byte"] > 0
        assert fit["gamma"]["slope_s_per_byte"] > 0
    rows = result["rows"]
    assert len(rows) == len(procs) * 3 * len(ALLREDUCE_ALGORITHMS)
    for p in procs:
        assert {r["algorithm"] for r in rows if r["procs"] == p} == set(ALLREDUCE_ALGORITHMS)
    for r in rows:
        assert 0 < r["time_s"] <= r["time_median_s"]
        assert r["algbw_GBps"] == pytest.approx(r["bytes"] / r["time_s"] / 1e9)
        assert r["busbw_GBps"] == pytest.approx(
            r["algbw_GBps"] * 2 * (r["procs"] - 1) / r["procs"])
        assert r["predicted_s"] > 0
    assert {c["procs"] for c in result["ring_versus_mpi"]} == set(procs)
    assert result["model"]["rows"] and result["target"]["mpi_blocking"]["ratio"] == 0.8


def test_quick_run_starts_mpiexec_itself(tmp_path):
    pytest.importorskip("mpi4py")
    out = tmp_path / "ar.json"
    done = subprocess.run([sys.executable, "-m", "minigrad.cli", "bench", "allreduce",
                           "--quick", "--procs", "2", "--repeat", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _check_report(json.loads(out.read_text()), [2])
    assert "target at P=2" in done.stdout and "rabenseifner" in done.stdout


def test_quick_run_under_mpiexec(tmp_path):
    pytest.importorskip("mpi4py")
    from tests.distributed.mpi_launch import run_mpi

    out = tmp_path / "ar.json"
    done = run_mpi(2, "bench_cli.py", "bench", "allreduce", "--quick", "--repeat", "2",
                   "--out", str(out), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    _check_report(json.loads(out.read_text()), [2])
    assert done.stdout.count("wrote") >= 1        # rank 0 alone reports


def test_procs_under_mpiexec_is_an_error(tmp_path):
    pytest.importorskip("mpi4py")
    from tests.distributed.mpi_launch import run_mpi

    done = run_mpi(1, "bench_cli.py", "bench", "allreduce", "--quick", "--procs", "2",
                   "--out", str(tmp_path / "x.json"), timeout=60)
    assert done.returncode == 2
    assert "--procs starts mpiexec itself" in done.stderr
