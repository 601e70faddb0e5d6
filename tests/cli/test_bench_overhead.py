"""Tests of `minigrad/cli/bench_overhead.py`, with a few iterations so they run in a blink."""

import argparse
import json

import numpy as np
import pytest

import minigrad as mg
from minigrad.cli import bench_overhead

CASE_NAMES = ["add_forward", "mul_sum_backward", "chain20_backward"]


def _args(out, repeat=2):
    return argparse.Namespace(command="bench", suite="overhead", out=str(out), repeat=repeat)


@pytest.fixture(autouse=True)
def few_iterations(monkeypatch):
    monkeypatch.setenv("MINIGRAD_BENCH_ITERATIONS", "3")


def _check_timing(timing, repeat):
    assert len(timing["all_us"]) == repeat
    assert all(t > 0 for t in timing["all_us"])
    assert timing["best_us"] == min(timing["all_us"])
    assert timing["best_us"] <= timing["median_us"] <= max(timing["all_us"])


def test_writes_every_number_with_torch(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "sub" / "overhead.json"
    assert bench_overhead.run(_args(out, repeat=3)) == 0
    report = json.loads(out.read_text())
    assert report["torch_available"] is True
    assert {"platform", "cpu_count", "python", "numpy", "torch"} <= report["machine"].keys()
    assert report["machine"]["torch"]
    assert report["settings"]["repeat"] == 3
    assert report["settings"]["torch_threads"] == 1
    assert report["settings"]["target_ratio"] == 1.5
    assert [c["case"] for c in report["cases"]] == CASE_NAMES
    for case in report["cases"]:
        assert case["iterations"] == 3
        _check_timing(case["minigrad"], 3)
        _check_timing(case["torch"], 3)
        assert case["ratio_best"] == pytest.approx(
            case["minigrad"]["best_us"] / case["torch"]["best_us"])
        assert case["ratio_median"] > 0
        assert case["meets_target"] == (case["ratio_best"] <= 1.5)
    table = capsys.readouterr().out
    for name in CASE_NAMES:
        assert name in table
    assert "within 1.5x?" in table


def test_without_torch_times_minigrad_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_overhead, "_import_torch", lambda: None)
    out = tmp_path / "overhead.json"
    assert bench_overhead.run(_args(out)) == 0
    report = json.loads(out.read_text())
    assert report["torch_available"] is False
    assert report["machine"]["torch"] is None
    for case in report["cases"]:
        _check_timing(case["minigrad"], 2)
        assert case["torch"] is None and case["ratio_best"] is None
    assert "PyTorch is not installed" in capsys.readouterr().out


def test_torch_threads_are_restored(tmp_path):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    bench_overhead.run(_args(tmp_path / "o.json", repeat=1))
    assert torch.get_num_threads() == before


def test_chain_gradients_match_numpy_finite_differences():
    """The chain is a real function: check its gradient in float64 with gradcheck."""
    rng = np.random.default_rng(1)
    x, w, b = (mg.tensor(rng.standard_normal((3, 3)), dtype=mg.float64, requires_grad=True)
               for _ in range(3))
    assert mg.autograd.gradcheck(bench_overhead.chain20, (x, w, b))


def test_repeat_must_be_positive(tmp_path):
    with pytest.raises(SystemExit, match="--repeat must be at least 1"):
        bench_overhead.run(_args(tmp_path / "o.json", repeat=0))
