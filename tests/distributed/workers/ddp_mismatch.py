"""Run under `mpiexec -n N` with two arguments: what differs on the last rank (`shape`,
`dtype`, `name` or `count`) and `catch` or `raise`.

Building DistributedDataParallel must raise the same RuntimeError on every rank. With `catch`
each rank prints it (`rank R: message`) and the job ends normally once all have printed (when
a rank fails, mpiexec may kill the others before their output is forwarded); with `raise` it
is left uncaught, as in a user's script, and minigrad.distributed's excepthook ends the job."""

import os
import sys

import minigrad as mg
import minigrad.distributed as dist
from minigrad import nn
from minigrad.nn.parallel import DistributedDataParallel


def build(odd: bool, kind: str) -> nn.Module:
    layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)]
    if odd and kind == "shape":
        layers[2] = nn.Linear(8, 5)
    if odd and kind == "count":
        layers.append(nn.Linear(3, 3))
    model = nn.Sequential(*layers)
    if odd and kind == "dtype":
        model.double()
    if odd and kind == "name":
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 3)))
    return model


def main() -> None:
    kind, mode = sys.argv[1:3]
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    mg.manual_seed(0)
    if mode == "raise":
        DistributedDataParallel(build(rank == world - 1, kind))
    try:
        DistributedDataParallel(build(rank == world - 1, kind))
    except RuntimeError as error:
        # one write per line: print's separate newline lets mpiexec interleave the ranks' lines
        os.write(1, f"rank {rank}: {error}\n".encode())
        dist.barrier()
        return
    print(f"rank {rank}: no error", flush=True)


if __name__ == "__main__":
    main()
