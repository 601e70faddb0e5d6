"""API checks under mpiexec: async order, Work, tensors, layouts, groups, barrier, root ranks.

Rank 0 prints one JSON line per check: {"check": name, "ok": bool, "detail": str}; a check
is ok when it held on every rank.
"""

import json
import warnings

import numpy as np

import minigrad
import minigrad.distributed as dist
from minigrad.distributed import ReduceOp


def check_async_order(rank, size):
    """Async collectives of one group run in issue order; a sync one waits for them."""
    buffers = [np.full(1000, float(rank + i), np.float64) for i in range(6)]
    works = [dist.all_reduce(b, async_op=True, algorithm=a)
             for b, a in zip(buffers, ["ring", "rabenseifner", "recursive_doubling", "tree",
                                       "mpi", "ring"])]
    total = np.zeros(3)
    dist.all_reduce(total + rank)  # sync, queued behind the async ones
    results = [w.wait() for w in works]
    expected = [sum(r + i for r in range(size)) for i in range(6)]
    ok = all(results) and all(w.is_completed() and w.is_success() for w in works)
    ok = ok and all(np.all(b == e) for b, e in zip(buffers, expected))
    return ok, ""


def check_async_mixed(rank, size):
    """Broadcast, all_gather and reduce_scatter async, waited in reverse order."""
    b = np.full(5, rank, np.int32)
    w1 = dist.broadcast(b, src=size - 1, async_op=True)
    out = np.zeros((size, 2), np.int64)
    w2 = dist.all_gather_into_tensor(out, np.array([rank, -rank]), async_op=True)
    rs = np.zeros(2, np.float32)
    w3 = dist.reduce_scatter_tensor(rs, np.ones(2 * size, np.float32), op=ReduceOp.AVG,
                                    async_op=True)
    w3.wait(), w2.wait(), w1.wait()
    ok = np.all(b == size - 1) and np.array_equal(out[:, 0], np.arange(size))
    return ok and np.all(rs == 1.0), ""


def check_tensor_inplace(rank, size):
    """A minigrad Tensor is reduced in place (same array object) and its version bumps."""
    t = minigrad.tensor(np.full((2, 3), rank + 1.0, np.float32), requires_grad=True)
    data, version = t.data, t._version
    dist.all_reduce(t, op=ReduceOp.AVG)
    want = sum(range(1, size + 1)) / size
    ok = t.data is data and t._version == version + 1 and np.allclose(t.data, want)
    return ok, f"version {version} -> {t._version}"


def check_non_contiguous(rank, size):
    """A strided view is reduced through a contiguous copy and written back; the rest stays."""
    base = np.arange(24, dtype=np.float64).reshape(4, 6) + 100 * rank
    view = base[:, ::2]
    dist.all_reduce(view, op=ReduceOp.MAX, algorithm="ring")
    ok = np.array_equal(view, np.arange(24.0).reshape(4, 6)[:, ::2] + 100 * (size - 1))
    ok = ok and np.array_equal(base[:, 1::2], np.arange(24.0).reshape(4, 6)[:, 1::2] + 100 * rank)
    gathered = [np.zeros((2, 2)).T for _ in range(size)]  # Fortran-ordered outputs
    dist.all_gather(gathered, np.full((2, 2), float(rank)))
    return ok and all(np.all(g == r) for r, g in enumerate(gathered)), ""


def check_aliased_all_gather(rank, size):
    """The input may be this rank's own slot of the output (PyTorch allows it)."""
    out = np.zeros((size, 3), np.float32)
    out[rank] = rank + 0.5
    dist.all_gather_into_tensor(out, out[rank], algorithm="ring")
    return bool(np.all(out == (np.arange(size) + 0.5)[:, None])), ""


def check_groups(rank, size):
    """Sub-groups: src/dst are world ranks; group_src/group_dst group ranks; non-members."""
    members = [size - 1, 0]
    group = dist.new_group(members)
    details = []
    if rank in members:
        if group.ranks != [0, size - 1] or dist.get_world_size(group) != 2:
            details.append(f"ranks {group.ranks}")
        x = np.array([rank], np.int64)
        dist.broadcast(x, src=size - 1, group=group)
        y = np.array([rank], np.int64)
        dist.broadcast(y, group_src=0, group=group)
        z = np.array([1.0])
        dist.reduce(z, dst=size - 1, group=group)
        if x[0] != size - 1 or y[0] != 0 or (rank == size - 1 and z[0] != 2.0):
            details.append(f"x={x} y={y} z={z}")
        try:
            dist.broadcast(np.zeros(1), src=1 if size > 2 else 5, group=group)
            details.append("src outside the group accepted")
        except ValueError:
            pass
        dist.barrier(group)
        dist.destroy_process_group(group)
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            none = dist.all_reduce(np.ones(2), group=group)
        if group is not dist.GroupMember.NON_GROUP_MEMBER or none is not None or not caught:
            details.append(f"non-member got {group!r}")
        if dist.get_rank(group) != -1:
            details.append("get_rank of a non-member is not -1")
    whole = dist.new_group()
    x = np.array([1])
    dist.all_reduce(x, group=whole)
    if x[0] != size:
        details.append(f"whole-world group gave {x}")
    return not details, "; ".join(details)


def check_barrier(rank, size):
    work = dist.barrier(async_op=True)
    return work.wait() and dist.barrier() is None, ""


def check_env_algorithm(rank, size):
    """MINIGRAD_ALLREDUCE_ALGORITHM is read per call; an unknown name is a clear ValueError."""
    import os

    os.environ["MINIGRAD_ALLREDUCE_ALGORITHM"] = "bogus"
    try:
        dist.all_reduce(np.ones(3))
        return False, "accepted bogus"
    except ValueError as error:
        message = str(error)
    finally:
        del os.environ["MINIGRAD_ALLREDUCE_ALGORITHM"]
    return "MINIGRAD_ALLREDUCE_ALGORITHM" in message and "rabenseifner" in message, message


CHECKS = [check_async_order, check_async_mixed, check_tensor_inplace, check_non_contiguous,
          check_aliased_all_gather, check_groups, check_barrier, check_env_algorithm]


def main():
    from mpi4py import MPI

    dist.init_process_group(timeout=30)
    rank, size = dist.get_rank(), dist.get_world_size()
    results = []
    for check in CHECKS:
        ok, detail = check(rank, size)
        results.append((check.__name__, bool(ok), detail))
    everyone = MPI.COMM_WORLD.gather(results, root=0)
    if rank == 0:
        for i, (name, _, _) in enumerate(results):
            print(json.dumps({"check": name, "ok": all(r[i][1] for r in everyone),
                              "detail": " | ".join(r[i][2] for r in everyone if not r[i][1])}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
