"""minigrad.distributed: data parallelism over MPI, with torch.distributed's names.

    import minigrad.distributed as dist
    dist.init_process_group()                 # under `mpiexec -n 4 python train.py`
    dist.all_reduce(grad, op=dist.ReduceOp.SUM, algorithm="ring")

Process groups wrap private MPI communicators (`process_group`); the collectives
(`collectives`) run hand-written algorithms (`algorithms`: ring, Rabenseifner, recursive
doubling, binomial tree) or MPI's own, synchronously or on a worker thread (`work`). Every
wait is polled against a deadline, and a stall names the ranks that did not join
(`watchdog`); an exception on any rank ends the whole job (`launch`).

mpi4py is imported (and MPI started) only by `init_process_group`, so importing this package
is cheap and works without MPI.
"""

from minigrad.distributed.algorithms import ALGORITHMS
from minigrad.distributed.algorithms._ops import ReduceOp
from minigrad.distributed.collectives import (
                                              all_gather,
                                              all_gather_into_tensor,
                                              all_reduce,
                                              broadcast,
                                              reduce,
                                              reduce_scatter,
                                              reduce_scatter_tensor,
)
from minigrad.distributed.process_group import (
                                              GroupMember,
                                              ProcessGroup,
                                              barrier,
                                              destroy_process_group,
                                              get_backend,
                                              get_rank,
                                              get_world_size,
                                              init_process_group,
                                              is_available,
                                              is_initialized,
                                              is_mpi_available,
                                              new_group,
)
from minigrad.distributed.work import Work
from minigrad.distributed.ddp import DistributedDataParallel  # last: it uses the names above

__all__ = [
    "ALGORITHMS", "DistributedDataParallel", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_mpi_available", "new_group", "reduce", "reduce_scatter",
    "reduce_scatter_tensor",
]
