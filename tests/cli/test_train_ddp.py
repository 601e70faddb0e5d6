"""`minigrad train --ddp`: under `mpiexec -n 2` (only rank 0 prints and writes, metrics record
the effective batch size), as one plain process (a world of one), and resuming it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.cli import build_parser
from minigrad.cli.recipes import Hyper, get_recipe
from minigrad.cli.train import fit
from tests.distributed.mpi_launch import run_mpi
from tests.distributed.mpi_launch import world_of_one as single_process_world


def test_ddp_flag_is_parsed_and_documented():
    parser = build_parser()
    assert parser.parse_args(["train", "gpt", "--ddp"]).ddp is True
    assert parser.parse_args(["train", "gpt"]).ddp is False
    train_help = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions
                      if "--ddp" in a.option_strings).help
    assert "mpirun -n 4 minigrad train gpt --ddp" in train_help
    assert "effective batch size is batch size x ranks" in train_help


def test_train_mlp_ddp_on_two_ranks(tmp_path):
    result = run_mpi(2, "ddp_train_cli.py", str(tmp_path), "train", "mlp", "--ddp", "--out",
                     "run", env={"MINIGRAD_FAST": "1"}, timeout=120)
    assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.stdout.count("effective batch: 128 = 64 per rank x 2 rank(s)") == 1
    assert result.stdout.count("mlp epoch 2/2:") == 1  # rank 0 alone reports
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    # loss_curve.png too when matplotlib is installed; nothing at all from rank 1
    assert {"rank0/run/last.ckpt", "rank0/run/metrics.json"} <= written
    assert written <= {"rank0/run/last.ckpt", "rank0/run/metrics.json",
                       "rank0/run/loss_curve.png"}
    metrics = json.loads((tmp_path / "rank0" / "run" / "metrics.json").read_text())
    assert metrics["distributed"] == {"world_size": 2, "rank_batch_size": 64,
                                      "effective_batch_size": 128,
                                      "evaluation": "rank 0 only", "step_losses": "rank 0's"}
    # 1,438 images: 719 per rank, 12 batches of 64 per epoch
    assert len(metrics["step_losses"]) == 2 * 12
    assert metrics["final"]["accuracy"] > 0.5


def test_ddp_without_mpirun_is_a_world_of_one(tmp_path):
    env = {**os.environ, "MINIGRAD_FAST": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "minigrad.cli", "train", "mlp", "--ddp",
                             "--epochs", "1", "--out", str(tmp_path)], capture_output=True,
                            text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "effective batch: 64 = 64 per rank x 1 rank(s)" in result.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["distributed"]["world_size"] == 1
    assert len(metrics["step_losses"]) == 23


@pytest.fixture
def world_of_one():
    with single_process_world():
        yield


class Crash(Exception):
    pass


def test_ddp_resume_continues_bit_identically(world_of_one, tmp_path, monkeypatch):
    """Under --ddp each epoch reseeds dropout and reshuffles the shard from (seed, epoch, rank),
    so a resumed run repeats the uninterrupted one exactly."""
    recipe = get_recipe("mlp")
    hyper = Hyper(epochs=2, batch_size=256, lr=3e-3)
    whole = fit(recipe, hyper, seed=4, out_dir=tmp_path / "whole", progress=False, ddp=True)
    real_save = mg.save

    def save_then_crash(obj, path):
        real_save(obj, path)
        raise Crash

    monkeypatch.setattr(mg, "save", save_then_crash)
    with pytest.raises(Crash):
        fit(recipe, hyper, seed=4, out_dir=tmp_path / "crashed", progress=False, ddp=True)
    monkeypatch.setattr(mg, "save", real_save)
    resumed = fit(recipe, None, out_dir=tmp_path / "crashed", progress=False, ddp=True,
                  resume=tmp_path / "crashed" / "last.ckpt")
    assert whole["step_losses"] == resumed["step_losses"]
    for (name, p), q in zip(whole["model"].named_parameters(), resumed["model"].parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
