"""The stall watchdog: its report, and a rank that never joins a collective under mpiexec."""

import time

import pytest

from minigrad.distributed.watchdog import stall_message
from tests.distributed.mpi_launch import run_mpi


def test_stall_message_names_missing_ranks_and_where_the_others_are():
    text = stall_message("all_reduce", 12, 4, 2.0,
                         {0: (12, "all_reduce"), 2: (11, "broadcast"), 3: None})
    assert text == ("minigrad.distributed: all_reduce #12 on group of 4 timed out after 2 s; "
                    "ranks [2, 3] did not join (2: in broadcast #11; 3: not in any collective)")


def test_stall_message_for_a_sub_group_adds_world_ranks():
    text = stall_message("barrier", 1, 2, 5, {1: (0, "")}, world_ranks=[1, 3])
    assert text.endswith("ranks [1] did not join (1: no collective yet); world ranks [3]")


def test_stall_message_when_everyone_joined_blames_the_collective():
    text = stall_message("reduce", 3, 2, 1, {1: (3, "reduce")})
    assert "every rank joined it" in text and "different sizes" in text


@pytest.mark.parametrize("mode, report", [
    ("stall", ("all_reduce #4 on group of 3 timed out after 2 s; ranks [2] did not join "
               "(2: not in any collective)")),
    ("subgroup", ("all_reduce #1 on group of 2 timed out after 2 s; ranks [1] did not join "
                  "(1: not in any collective); world ranks [2]")),
    ("async", ("all_reduce #4 on group of 3 timed out after 2 s; ranks [2] did not join "
               "(2: not in any collective)")),
], ids=["world", "subgroup", "async"])
def test_a_rank_that_never_joins_is_named_and_the_job_ends(mode, report):
    start = time.monotonic()
    result = run_mpi(3, "collectives_fail.py", mode, timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "minigrad.distributed: " + report in result.stderr, result.stderr[-2000:]
    assert elapsed < 12, f"the job took {elapsed:.1f} s to end"
