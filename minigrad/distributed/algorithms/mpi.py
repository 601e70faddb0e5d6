"""`mpi`: MPI's own collectives (`Iallreduce`, `Ibcast`, ...), the baseline to measure against.

Each function starts the non-blocking MPI collective on the group's private communicator and
polls its request against the deadline (`link.wait`), exactly like the hand-written
algorithms' messages. Which algorithm MPI runs inside is its own choice (MPICH picks by
message size and group size, e.g. recursive doubling for short all-reduces and Rabenseifner's
reduce-scatter + all-gather for long ones).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from minigrad.distributed.algorithms._link import Link
from minigrad.distributed.algorithms._ops import ReduceOp

_MPI_OPS = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}
_MPI_BOOL_OPS = {ReduceOp.MAX: MPI.LOR, ReduceOp.MIN: MPI.LAND}


def mpi_op(op: ReduceOp, dtype: np.dtype) -> MPI.Op:
    """The MPI reduction for `op` on `dtype` (AVG: the sum; the caller divides)."""
    return (_MPI_BOOL_OPS if dtype == np.bool_ else _MPI_OPS)[op]


def mpi_all_reduce(link: Link, buffer: np.ndarray, op: ReduceOp) -> None:
    """All-reduce `buffer` (flat, contiguous) in place with `MPI_Iallreduce`."""
    if buffer.size:
        link.wait([link.comm.Iallreduce(MPI.IN_PLACE, buffer, op=mpi_op(op, buffer.dtype))])


def mpi_broadcast(link: Link, buffer: np.ndarray, root: int) -> None:
    """Broadcast `buffer` from group rank `root` with `MPI_Ibcast`."""
    if buffer.size:
        link.wait([link.comm.Ibcast(buffer, root=root)])


def mpi_reduce(link: Link, buffer: np.ndarray, op: ReduceOp, root: int) -> None:
    """Reduce every rank's `buffer` into `buffer` on `root` with `MPI_Ireduce`.

    The other ranks' buffers are left unchanged.
    """
    if buffer.size:
        send = MPI.IN_PLACE if link.rank == root else buffer
        link.wait([link.comm.Ireduce(send, buffer, op=mpi_op(op, buffer.dtype), root=root)])


def mpi_all_gather(link: Link, buffer: np.ndarray) -> None:
    """All-gather in place: `buffer` holds P equal chunks, this rank's own already at its index."""
    if buffer.size:
        link.wait([link.comm.Iallgather(MPI.IN_PLACE, buffer)])


def mpi_reduce_scatter(link: Link, send: np.ndarray, recv: np.ndarray, op: ReduceOp) -> None:
    """Reduce `send` (P equal chunks) across ranks; chunk r of the sum lands in rank r's `recv`."""
    if recv.size:
        request = link.comm.Ireduce_scatter_block(send, recv, op=mpi_op(op, recv.dtype))
        link.wait([request])
