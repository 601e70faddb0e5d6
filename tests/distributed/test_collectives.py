"""Every collective x algorithm x op x dtype x length under `mpiexec -n 2, 3, 4`, and on one rank.

One launch per world size runs all cases (workers/collectives_cases.py); the tests read the
JSON lines rank 0 printed. P = 3 and 4 share 2 cores here and take 5-15 s each, so they are
marked slow (CI runs them); the thread-simulated tests in test_algorithms.py cover other
non-powers of two quickly.
"""

import json

import pytest

from minigrad.distributed.algorithms import SHORT_MESSAGE_BYTES
from tests.distributed.mpi_launch import run_mpi, run_python

COLLECTIVES = ["all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
               "reduce_scatter", "reduce_scatter_tensor"]
SAME_BYTES_EVERYWHERE = {"all_reduce", "broadcast", "all_gather", "all_gather_into_tensor"}


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module", params=[2, pytest.param(3, marks=pytest.mark.slow),
                                        pytest.param(4, marks=pytest.mark.slow)])
def cases(request):
    result = run_mpi(request.param, "collectives_cases.py", "-W", "ignore", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = json_lines(result.stdout)
    assert lines and lines[-1] == {"done": True, "size": request.param}, result.stdout[-2000:]
    return request.param, lines[:-1]


def failures(lines):
    return [f"{c['group']} {c['collective']} {c['algorithm']} {c['op']} {c['dtype']} "
            f"n={c['n']} {c['detail']}" for c in lines if not c["ok"]]


@pytest.mark.parametrize("collective", COLLECTIVES)
def test_results_equal_numpy_on_every_rank(cases, collective):
    _, lines = cases
    mine = [c for c in lines if c["collective"] == collective]
    assert len(mine) > 20
    assert not failures(mine), failures(mine)[:20]


@pytest.mark.parametrize("collective", sorted(SAME_BYTES_EVERYWHERE))
def test_every_rank_ends_with_identical_bytes(cases, collective):
    _, lines = cases
    different = [c for c in lines if c["collective"] == collective and not c["identical"]]
    assert not different, different[:10]


def test_cases_cover_lengths_dtypes_ops_algorithms_and_a_sub_group(cases):
    size, lines = cases
    world = [c for c in lines if c["group"] == "world" and c["collective"] == "all_reduce"]
    for algorithm in ["ring", "rabenseifner", "recursive_doubling", "tree", "mpi"]:
        mine = [c for c in world if c["algorithm"] == algorithm]
        assert {0, 1, size - 1, size + 1, 7, 13, 101} <= {c["n"] for c in mine}, algorithm
        assert {c["op"] for c in mine} == {"SUM", "AVG", "PRODUCT", "MAX", "MIN"}
        assert len({c["dtype"] for c in mine}) == 9
        assert {c["dtype"] for c in mine if c["n"] > 1 << 20} == {"float32", "int64"}
    auto = {c["n"] * (8 if c["dtype"] == "int64" else 4) for c in world
            if c["algorithm"] == "auto"}
    assert min(auto) == 0 and max(auto) > SHORT_MESSAGE_BYTES
    assert any(0 < b <= SHORT_MESSAGE_BYTES for b in auto)
    for collective in COLLECTIVES:
        assert any(c["algorithm"] == "auto" for c in lines if c["collective"] == collective)
    assert any(c["group"] != "world" for c in lines)


def test_a_plain_process_is_a_world_of_one_and_bad_arguments_raise_clear_errors():
    result = run_python("collectives_single.py", timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    checks = json_lines(result.stdout)
    assert len(checks) >= 30
    assert [c for c in checks if not c["ok"]] == []


def test_timing_script_reports_time_and_bus_bandwidth():
    result = run_mpi(3, "collectives_timing.py", "--sizes", "4096,65536", "--algorithms",
                     "ring,mpi", "--seconds", "0.01", timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json_lines(result.stdout)
    assert [(r["bytes"], r["algorithm"]) for r in rows] == [
        (4096, "ring"), (4096, "mpi"), (65536, "ring"), (65536, "mpi")]
    for r in rows:
        algbw = r["bytes"] / (r["us"] * 1e-6) / 1e9
        assert r["us"] > 0 and abs(r["algbw_GBps"] - algbw) <= 0.01 * algbw + 1e-3
        assert r["P"] == 3
        assert r["busbw_GBps"] == pytest.approx(r["algbw_GBps"] * 4 / 3, rel=0.01, abs=2e-3)
