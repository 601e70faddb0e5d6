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


def test_a_command_error_on_one_rank_ends_the_job_not_the_watchdog():
    """`minigrad ...` catches user errors and returns 2; under mpirun that alone would leave
    the other ranks waiting in their next collective until the timeout."""
    start = time.monotonic()
    result = run_mpi(2, "collectives_fail.py", "cli", timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "minigrad.distributed: rank 1 of 2 failed: minigrad sample: error:" in result.stderr
    assert "/nonexistent/last.ckpt" in result.stderr
    assert "did not join" not in result.stderr  # ended by the abort, not by the watchdog
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end"

