"""`tree`: binomial-tree reduce to a root and binomial-tree broadcast from it.

Ranks are numbered relative to the root, v = (rank - root) mod P. In the binomial tree the
parent of v is v with its lowest set bit cleared; v's children are v + 2^k for the 2^k below
v's lowest set bit (the root: every power of two < P).

    P = 8 broadcast   step 1: 0->4   step 2: 0->2 4->6   step 3: 0->1 2->3 4->5 6->7

Reduce runs the same tree upwards: each rank reduces its children's buffers into its own,
from the nearest child out, then sends the result to its parent.

Cost: ceil(log2 P) rounds of whole-buffer messages, time ceil(log2 P) (alpha + n beta) for
broadcast (+ n gamma per round for reduce); the root sends or receives log2 P * n elements.
All-reduce = reduce + broadcast: 2 ceil(log2 P) (alpha + n beta) + ceil(log2 P) n gamma.
Good for short messages; for long ones the ring and Rabenseifner's algorithm move less data.
"""

from __future__ import annotations

import numpy as np

from minigrad.distributed.algorithms._link import Link


def binomial_broadcast(link: Link, buffer: np.ndarray, root: int) -> None:
    """Broadcast `buffer` (n,) from group rank `root` down a binomial tree, in place."""
    size = link.size
    relative = (link.rank - root) % size
    mask = 1
    while mask < size:
        if relative & mask:
            link.recv(buffer, (relative - mask + root) % size)
            break
        mask <<= 1
    mask >>= 1
    while mask:
        if relative + mask < size:
            link.send(buffer, (relative + mask + root) % size)
        mask >>= 1


def binomial_reduce(link: Link, buffer: np.ndarray, root: int, ufunc: np.ufunc) -> None:
    """Reduce every rank's `buffer` (n,) onto `root` up a binomial tree.

    On `root` the result lands in `buffer`; on the other ranks `buffer` is overwritten with
    partial results (pass a copy to keep it).
    """
    size = link.size
    relative = (link.rank - root) % size
    scratch = None
    mask = 1
    while mask < size:
        if relative & mask:
            link.send(buffer, (relative - mask + root) % size)
            return
        child = relative | mask
        if child < size:
            if scratch is None:
                scratch = link.scratch(buffer.size, buffer.dtype)
            link.recv(scratch, (child + root) % size)
            ufunc(buffer, scratch, out=buffer)
        mask <<= 1


def tree_all_reduce(link: Link, buffer: np.ndarray, ufunc: np.ufunc) -> None:
    """All-reduce `buffer` (n,) in place: binomial reduce to rank 0, binomial broadcast back."""
    if link.size == 1 or buffer.size == 0:
        return
    binomial_reduce(link, buffer, 0, ufunc)
    binomial_broadcast(link, buffer, 0)
