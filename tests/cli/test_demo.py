"""Tests of `minigrad/cli/demo.py`: the spiral data, and short training runs that must learn."""

import argparse
import json

import numpy as np

import minigrad as mg
from minigrad.cli import demo, main


def _args(steps, out=None, seed=0):
    return argparse.Namespace(command="demo", steps=steps, seed=seed, out=out)


def test_spirals_are_deterministic_and_balanced():
    mg.manual_seed(3)
    x, y = demo.make_spirals(50, 3, 0.2)
    mg.manual_seed(3)
    x2, y2 = demo.make_spirals(50, 3, 0.2)
    assert x.shape == (150, 2) and x.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    np.testing.assert_array_equal(x, x2)
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert np.abs(x).max() <= 1.0  # every point lies within radius 1


def test_describe_graph_counts_ops_and_leaves():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    text = demo.describe_graph((a * b + a * a).sum())
    assert "a graph of 4 ops" in text and "back to 2 leaves" in text
    assert "MulBackward x2" in text


def test_short_run_lowers_the_loss_and_writes_json(tmp_path, capsys):
    assert demo.run(_args(steps=40, out=str(tmp_path))) == 0
    results = json.loads((tmp_path / "demo.json").read_text())
    history = results["history"]
    assert history[0]["step"] == 1 and history[-1]["step"] == 40
    assert history[-1]["loss"] < history[0]["loss"] - 0.1
    assert results["settings"]["steps"] == 40
    assert results["model"]["parameters"] == 2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["seconds"] > 0
    out = capsys.readouterr().out
    assert "step    40  train loss" in out
    assert "test accuracy" in out


def test_test_accuracy_above_90_percent(tmp_path):
    """A few hundred steps already separate the three arms on held-out points."""
    demo.run(_args(steps=300, out=str(tmp_path / "run.json")))
    results = json.loads((tmp_path / "run.json").read_text())
    assert results["test_accuracy"] > 0.9


def test_same_seed_same_run_different_seed_different_run(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        demo.run(_args(steps=5, out=str(tmp_path / f"{name}.json"), seed=seed))
    a, b, c = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "abc")
    assert a["history"] == b["history"]
    assert a["history"] != c["history"]


def test_minigrad_fast_shortens_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGRAD_FAST", "1")
    assert main(["demo", "--out", str(tmp_path / "fast.json")]) == 0
    results = json.loads((tmp_path / "fast.json").read_text())
    assert results["settings"]["steps"] == demo.FAST_STEPS < demo.DEFAULT_STEPS
