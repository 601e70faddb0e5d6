"""Tests of `minigrad/cli/bench_train.py`, with two steps per model so they run quickly."""

import argparse
import json

import pytest

from minigrad.cli import bench_train


def _args(out, models, threads="1", repeat=2):
    return argparse.Namespace(command="bench", suite="train", out=str(out), repeat=repeat,
                              threads=threads, models=models)


@pytest.fixture(autouse=True)
def few_steps(monkeypatch):
    monkeypatch.setenv("MINIGRAD_BENCH_ITERATIONS", "2")


def test_measure_times_the_requested_steps_in_this_process():
    result = bench_train.measure("minigrad", "mlp", steps=2, repeat=3)
    assert result["framework"] == "minigrad" and result["steps"] == 2
    assert 0 < result["ms_per_step_best"] <= result["ms_per_step_median"]
    assert result["batch_size"] == 64
    assert 2.0 < result["first_loss"] < 2.6  # cross-entropy of 10 classes at init, about ln 10


def test_run_without_torch_columns_when_torch_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_train.importlib.util, "find_spec", lambda name: None)
    out = tmp_path / "train.json"
    assert bench_train.run(_args(out, ["mlp"])) == 0
    report = json.loads(out.read_text())
    assert report["torch_available"] is False
    (row,) = report["results"]
    assert row["model"] == "mlp" and row["threads"] == 1 and "ratio" not in row
    assert row["minigrad_steps_per_s"] == pytest.approx(1e3 / row["minigrad_ms_per_step"])
    assert "--" in capsys.readouterr().out


@pytest.mark.slow  # twelve subprocesses, each loading the data and torch: about 25 s
def test_every_model_against_torch_same_losses_and_thread_settings(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "train.json"
    assert bench_train.run(_args(out, None, threads="1,2")) == 0
    report = json.loads(out.read_text())
    assert report["meta"]["optimizer"] == "AdamW" and report["meta"]["torch"]
    rows = report["results"]
    assert [(r["model"], r["threads"]) for r in rows] == [
        ("mlp", 1), ("cnn", 1), ("gpt", 1), ("mlp", 2), ("cnn", 2), ("gpt", 2)]
    for row in rows:
        # the same function from the same weights on the same batch: the first losses agree
        assert row["minigrad_first_loss"] == pytest.approx(row["torch_first_loss"], rel=1e-5)
        assert row["ratio"] == pytest.approx(row["minigrad_ms_per_step"]
                                             / row["torch_ms_per_step"])
    printed = capsys.readouterr().out
    assert "ratio = minigrad / PyTorch" in printed


def test_worker_runs_with_the_requested_thread_count(monkeypatch):
    pytest.importorskip("torch")
    seen = {}
    real_run = bench_train.subprocess.run

    def spy(cmd, env, **kwargs):
        seen.update({k: env[k] for k in bench_train.THREAD_VARIABLES})
        return real_run(cmd, env=env, **kwargs)

    monkeypatch.setattr(bench_train.subprocess, "run", spy)
    result = bench_train._in_subprocess("torch", "mlp", 2, 1, threads=2)
    assert seen == {name: "2" for name in bench_train.THREAD_VARIABLES}
    assert result["torch_threads"] == 2
