"""The measurement of `minigrad bench allreduce` inside one MPI world (every rank runs it).

For each message size and algorithm, on a float32 vector of that many bytes:

1. one untimed all-reduce (`warmup` of them), after which every element must equal
   1 + 2 + ... + P (each rank filled its vector with rank + 1): a wrong algorithm fails the
   benchmark instead of reporting a time;
2. `repeat` timed all-reduces, each after refilling the vector and a barrier, so that all
   ranks start together; a call's time is the slowest rank's (an all-reduce is done when
   its last rank is). The algorithms take turns, one call each per round, so that load
   from other programs disturbs them alike;
3. the row: the best of those times (noise only ever adds time), the median, and the
   bandwidths as nccl-tests defines them (github.com/NVIDIA/nccl-tests, doc/PERFORMANCE.md):
   algbw = bytes / time, and busbw = algbw * 2 (P - 1) / P, the rate at which each rank's
   link moves data in an optimal all-reduce, comparable across P and with the link's speed.

Algorithms: the five of `minigrad.distributed.all_reduce`, plus `mpi_blocking`, MPI's
blocking `MPI_Allreduce` called directly on a duplicate of COMM_WORLD, outside minigrad:
the baseline that no Python layer slows down (`mpi` goes through minigrad's queue and polls
MPI's non-blocking `MPI_Iallreduce` against the watchdog's deadline).

Before measuring, the world fits the cost model: alpha and beta from a ping-pong between
ranks 0 and 1, gamma from `np.add` on every rank at once (`minigrad.distributed.cost_model`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from minigrad.cli.bench_allreduce_jobs import mpi_info
from minigrad.distributed import cost_model

REFERENCE = "mpi_blocking"


def bandwidths(nbytes: int, seconds: float, procs: int) -> tuple[float, float]:
    """(algbw, busbw) in GB/s (1e9 bytes per second) of an all-reduce of `nbytes` on `procs`
    ranks that took `seconds`."""
    algbw = nbytes / seconds / 1e9
    return algbw, algbw * 2 * (procs - 1) / procs


def _collective(name: str, buffer: np.ndarray, comm):
    """A function of no arguments that all-reduces `buffer` in place with algorithm `name`."""
    if name == REFERENCE:
        from mpi4py import MPI
        return lambda: comm.Allreduce(MPI.IN_PLACE, buffer)
    import minigrad.distributed as dist
    return lambda: dist.all_reduce(buffer, algorithm=name)


def _check(name: str, call, buffer: np.ndarray, comm, warmup: int) -> None:
    """Run `warmup` untimed calls; raise unless every element is 1 + 2 + ... + P everywhere."""
    from mpi4py import MPI

    rank, procs = comm.Get_rank(), comm.Get_size()
    for _ in range(warmup):
        buffer.fill(rank + 1)
        call()
    expected = procs * (procs + 1) / 2
    wrong = np.array([0 if np.all(buffer == expected) else 1], dtype=np.int64)
    comm.Allreduce(MPI.IN_PLACE, wrong)
    if wrong[0]:
        raise RuntimeError(f"bench allreduce: {name} gave a wrong sum on {wrong[0]} of "
                           f"{procs} ranks for {buffer.nbytes} bytes (expected {expected} "
                           f"everywhere)")


def time_algorithms(names: list[str], buffer: np.ndarray, comm, repeat: int, warmup: int
                    ) -> dict[str, np.ndarray]:
    """The slowest rank's seconds for each of `repeat` calls of every algorithm in `names`.

    The repetitions are interleaved (one call of each algorithm, then the next round), so
    that on a machine shared with other work every algorithm meets the same disturbances.

    Returns:
        {name: (repeat,) seconds}.
    """
    from mpi4py import MPI

    rank = comm.Get_rank()
    calls = {name: _collective(name, buffer, comm) for name in names}
    for name, call in calls.items():
        _check(name, call, buffer, comm, warmup)
    times = np.empty((len(names), repeat))
    for i in range(repeat):
        for j, call in enumerate(calls.values()):
            buffer.fill(rank + 1)
            comm.Barrier()
            start = time.perf_counter()
            call()
            times[j, i] = time.perf_counter() - start
    comm.Allreduce(MPI.IN_PLACE, times, op=MPI.MAX)
    return dict(zip(names, times))


def measure_world(sizes: list[int], algorithms: list[str], repeat: int, warmup: int = 1
                  ) -> dict:
    """Fit the cost model and time every (size, algorithm) in this MPI world.

    Collective: every rank of COMM_WORLD calls it; all get the same result.

    Args:
        sizes: message sizes in bytes, multiples of 4 (float32 elements).
        algorithms: names from `minigrad.distributed.ALGORITHMS` and/or "mpi_blocking".
        repeat: timed calls per row (at least 1).
        warmup: untimed calls per row before them (at least 1: the first call checks the sum).

    Returns:
        {"procs", "link": LinearFit dict or None (one rank), "gamma": LinearFit dict,
         "rows": [{"procs", "algorithm", "bytes", "time_s", "time_median_s", "algbw_GBps",
         "busbw_GBps"}], "mpi": `mpi_info()`}
    """
    from mpi4py import MPI

    if any(name != REFERENCE for name in algorithms):
        import minigrad.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group()
    comm = MPI.COMM_WORLD.Dup()
    rank, procs = comm.Get_rank(), comm.Get_size()
    link = cost_model.fit_alpha_beta(comm) if procs > 1 else None
    gamma = cost_model.measure_gamma(comm)
    rows = []
    for nbytes in sizes:
        buffer = np.empty(nbytes // 4, dtype=np.float32)
        measured = time_algorithms(algorithms, buffer, comm, repeat, max(1, warmup))
        for name, times in measured.items():
            best = float(times.min())
            algbw, busbw = bandwidths(nbytes, best, procs)
            rows.append({"procs": procs, "algorithm": name, "bytes": nbytes,
                         "time_s": best, "time_median_s": float(np.median(times)),
                         "algbw_GBps": algbw, "busbw_GBps": busbw})
            if rank == 0:
                print(f"  P={procs} {name:<18} {nbytes:>11} B  {best * 1e3:9.3f} ms  busbw "
                      f"{busbw:6.2f} GB/s", file=sys.stderr, flush=True)
        del buffer
    comm.Free()
    return {"procs": procs, "link": link.to_dict() if link else None,
            "gamma": gamma.to_dict(), "rows": rows, "mpi": mpi_info()}

