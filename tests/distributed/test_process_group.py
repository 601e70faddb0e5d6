"""Process groups, async collectives and API details, under mpiexec and without MPI."""

import json
import subprocess
import sys

import pytest

import minigrad.distributed as dist
from tests.distributed.mpi_launch import run_mpi


@pytest.mark.parametrize("nprocs", [2, 3])
def test_async_order_tensors_layouts_groups_and_barrier(nprocs):
    result = run_mpi(nprocs, "collectives_api.py", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    checks = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(checks) == 8, result.stdout
    assert [c for c in checks if not c["ok"]] == []


def test_importing_does_not_start_mpi():
    code = ("import sys, minigrad.distributed as d; "
            "print('mpi4py.MPI' in sys.modules, d.is_available())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_calls_before_init_explain_themselves():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_world_size()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(None)


def test_public_names_follow_torch_distributed():
    for name in ["init_process_group", "destroy_process_group", "is_initialized", "get_rank",
                 "get_world_size", "get_backend", "barrier", "new_group", "all_reduce",
                 "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
                 "reduce_scatter", "reduce_scatter_tensor", "ReduceOp", "Work", "ProcessGroup",
                 "GroupMember", "is_available", "is_mpi_available"]:
        assert hasattr(dist, name), name
    assert dist.ALGORITHMS == ("ring", "rabenseifner", "recursive_doubling", "tree", "mpi")
    assert [op.name for op in dist.ReduceOp] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]


def test_pytorch_rendezvous_arguments_are_accepted_and_checked():
    code = ("import minigrad.distributed as d\n"
            "d.init_process_group('mpi', init_method='env://', world_size=1, rank=0)\n"
            "print(d.get_world_size())\n"
            "d.destroy_process_group()\n"
            "try:\n"
            "    d.init_process_group('mpi', world_size=4)\n"
            "except ValueError as e:\n"
            "    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    lines = result.stdout.splitlines()
    assert lines[0] == "1", result.stderr
    assert "world_size=4 but the MPI launcher started this process with world_size 1" in lines[1]

