"""Time `all_reduce` per algorithm and message size; rank 0 prints one JSON line per case.

    mpiexec -n 4 python tests/distributed/workers/collectives_timing.py [--sizes 4096,1048576]
        [--algorithms ring,mpi] [--seconds 0.2]

Each case runs warm-up calls, then as many calls as fit in `--seconds` (at least 3), each
started after a barrier; the time is the median over calls of the slowest rank's time.
Bus bandwidth follows nccl-tests: busbw = algbw * 2 (P - 1) / P, algbw = bytes / time.
The measurements behind `algorithms.SHORT_MESSAGE_BYTES` come from this script.
"""

import argparse
import json
import time

import numpy as np

import minigrad.distributed as dist


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(str(4096 << (2 * i)) for i in range(8)))
    parser.add_argument("--algorithms", default=",".join(dist.ALGORITHMS))
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args()
    dist.init_process_group()
    size = dist.get_world_size()
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    for nbytes in map(int, args.sizes.split(",")):
        buffer = np.ones(nbytes // 4, np.float32)
        for algorithm in args.algorithms.split(","):
            for _ in range(2):
                dist.all_reduce(buffer, algorithm=algorithm)
            times = []
            # the stopping rule uses the slowest rank's times, the same numbers on every rank,
            # so every rank runs the same number of collectives
            while len(times) < 3 or sum(times) < args.seconds:
                buffer.fill(1.0)
                dist.barrier()
                begin = time.perf_counter()
                dist.all_reduce(buffer, algorithm=algorithm)
                times.append(world.allreduce(time.perf_counter() - begin, op=MPI.MAX))
            seconds = float(np.median(times))
            algbw = nbytes / seconds / 1e9
            if dist.get_rank() == 0:
                print(json.dumps({"P": size, "bytes": nbytes, "algorithm": algorithm,
                                  "us": round(seconds * 1e6, 1), "algbw_GBps": round(algbw, 3),
                                  "busbw_GBps": round(algbw * 2 * (size - 1) / size, 3)}),
                      flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
