"""Failure cases; each must end the whole job quickly with a clear message and exit != 0.

    mpiexec -n P python collectives_fail.py exception   # rank 1 raises; the others wait
    mpiexec -n P python collectives_fail.py thread      # rank 1 raises in a user thread
    mpiexec -n P python collectives_fail.py stall       # rank P-1 never calls all_reduce
    mpiexec -n P python collectives_fail.py subgroup    # stall inside a sub-group [1 .. P-1]
    mpiexec -n P python collectives_fail.py async       # rank P-1 stalls; the others wait
                                                         # on their worker threads
    mpiexec -n P python collectives_fail.py cli         # a `minigrad` command fails with a
                                                         # user error (exit 2) on rank 1 only
"""

import sys
import threading
import time

import numpy as np

import minigrad.distributed as dist


def main(mode):
    dist.init_process_group(timeout=2.0)
    rank, size = dist.get_rank(), dist.get_world_size()
    x = np.ones(1000, np.float32)
    for _ in range(3):
        dist.all_reduce(x, algorithm="ring")
    if mode == "exception" and rank == 1:
        raise RuntimeError("boom on rank 1")
    if mode == "cli" and rank == 1:
        from minigrad.cli import main as minigrad_main

        sys.exit(minigrad_main(["sample", "--checkpoint", "/nonexistent/last.ckpt"]))
    if mode == "thread" and rank == 1:
        threading.Thread(target=lambda: 1 / 0, name="user-thread").start()
        time.sleep(30)
    if mode in ("stall", "async") and rank == size - 1:
        time.sleep(30)  # never joins all_reduce #4
    if mode == "async":
        dist.all_reduce(x, algorithm="ring", async_op=True).wait()
    if mode == "subgroup":
        group = dist.new_group(list(range(1, size)))
        if rank == size - 1:
            time.sleep(30)
        elif rank > 0:
            dist.all_reduce(x, group=group, algorithm="tree")
        else:
            time.sleep(30)
    dist.all_reduce(x, algorithm="ring")
    print(f"rank {rank} finished, which it should not have", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
