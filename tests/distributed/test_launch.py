"""An exception on one rank ends the whole job, with its traceback, within seconds."""

import time

import pytest

from tests.distributed.mpi_launch import run_mpi


@pytest.mark.parametrize("mode, needle", [("exception", "RuntimeError: boom on rank 1"),
                                          ("thread", "ZeroDivisionError")])
def test_an_exception_on_rank_1_aborts_every_rank_with_its_traceback(mode, needle):
    start = time.monotonic()
    result = run_mpi(3, "collectives_fail.py", mode, timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "minigrad.distributed: rank 1 of 3 failed:" in result.stderr
    assert needle in result.stderr
    assert "finished, which it should not have" not in result.stdout
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end"
