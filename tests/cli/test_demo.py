"""Tests of `minigrad/cli/demo.py`: a MINIGRAD_FAST=1 run of the whole demo, and its table."""

import json

from minigrad.cli import demo, main


def test_fast_demo_trains_all_three_and_reports_their_costs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIGRAD_FAST", "1")
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "demo.json").read_text())
    assert [r["model"] for r in rows] == ["mlp", "cnn", "gpt"]
    for row in rows:
        assert row["parameters"] > 0 and row["flops_per_step"] > 0
        assert row["throughput"] > 0 and row["latency_ms"] > 0
        assert (tmp_path / row["model"] / "last.ckpt").exists()
        assert (tmp_path / row["model"] / "metrics.json").exists()
    mlp, cnn, gpt = rows
    assert mlp["parameters"] == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    # one training step of the MLP: forward 2 B (sum of in*out) plus biases, backward about
    # twice that; the counter must land in that range
    matmul_forward = 2 * 64 * (64 * 128 + 128 * 128 + 128 * 10)
    assert 2.5 * matmul_forward < mlp["flops_per_step"] < 3.2 * matmul_forward
    assert 0.0 <= mlp["value"] <= 1.0 and gpt["value"] > 0
    assert gpt["sample"].startswith(demo.SAMPLE_PROMPT)
    assert len(gpt["sample"]) == len(demo.SAMPLE_PROMPT) + demo.SAMPLE_CHARS
    for text in ("test accuracy", "val loss", "bigram", "FLOPs/step", "samples/s", "tokens/s",
                 "The GPT continues"):
        assert text in out


def test_table_formats_each_kind_of_result():
    rows = [
        {"model": "mlp", "metric": "accuracy", "value": 0.975, "parameters": 26122,
         "flops_per_step": 9.0e6, "throughput": 25000.0, "unit": "samples",
         "latency_ms": 0.05, "train_seconds": 9.0},
        {"model": "gpt", "metric": "val_loss", "value": 1.93, "bigram_val_loss": 2.59,
         "parameters": 351456, "flops_per_step": 4.7e9, "throughput": 9000.0,
         "unit": "tokens", "latency_ms": 3.2, "train_seconds": 100.0},
    ]
    table = demo.format_table(rows)
    lines = table.splitlines()
    assert "test accuracy 97.5%" in lines[2] and "26,122" in lines[2]
    assert "val loss 1.930 (bigram 2.59)" in lines[3] and "tokens/s" in lines[3]
    assert len({len(line) for line in lines}) == 1  # columns line up
