"""Tutorial 06 under `mpiexec -n 2` (tests/test_tutorials.py also runs it as one process): the
averaged gradients equal the big-batch gradient, DDP training ends with identical weights
on both ranks, and no_sync accumulation gives the big-batch gradient too."""

import re
from pathlib import Path

from tests.distributed.mpi_launch import run_mpi

TUTORIAL = Path(__file__).resolve().parent.parent / "tutorials" / "06_data_parallel.py"


def _number(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*=\s*([0-9.e+-]+)", text)
    assert match, f"{label!r} not in the output:\n{text}"
    return float(match.group(1))


def test_tutorial_06_on_two_ranks(tmp_path):
    result = run_mpi(2, TUTORIAL, env={"MINIGRAD_FAST": "1", "MPLBACKEND": "Agg"}, timeout=180)
    out = result.stdout
    assert result.returncode == 0, f"--- stdout\n{out}\n--- stderr\n{result.stderr}"
    assert "world size 2; this is rank 0" in out
    assert out.count("world size 2") == 1  # rank 0 alone prints
    assert _number(out, "max |shard gradient - big-batch gradient|") > 1e-3
    assert _number(out, "max |averaged gradient - big-batch gradient|") < 1e-6
    assert _number(out, "max |DDP gradient - big-batch gradient|") < 1e-6
    assert _number(out, "one all-reduce: max |gradient - big-batch gradient|") < 1e-6
    assert "bucket 0: ['head.bias', 'head.weight']" in out
    assert "effective batch 32 x 2 = 64" in out
    assert "identical weights on every rank: True" in out
