"""`ring`: reduce-scatter then all-gather around a ring of P ranks (bandwidth-optimal).

The buffer of n elements is cut into P chunks of n // P or n // P + 1 elements
(`chunk_bounds`); any n works, including n < P (some chunks are empty) and n = 0. Rank r
sends to r + 1 and receives from r - 1 (mod P).

Reduce-scatter, P - 1 steps: at step s rank r sends chunk (r - s - 1) mod P and receives
chunk (r - s - 2) mod P into a scratch buffer, which it adds into its own copy of that chunk.
The chunk a rank sends is the one it reduced the step before, so after P - 1 steps rank r
holds chunk r reduced over all ranks, computed by rank r alone.

All-gather, P - 1 steps: at step s rank r sends chunk (r - s) mod P and receives chunk
(r - s - 1) mod P straight into its place. Reduced chunks are only copied, so every rank ends
with identical bytes.

Cost per rank (alpha: latency per message, beta: seconds per byte, gamma: per byte reduced):
all-reduce 2 (P - 1) messages and 2 (P - 1) / P * n bytes sent,
time 2 (P - 1) alpha + 2 (P - 1) / P * n beta + (P - 1) / P * n gamma
(Thakur, Rabenseifner and Gropp 2005, "Optimization of collective communication operations
in MPICH"; Patarasuk and Yuan 2009 show the bandwidth term is optimal).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from minigrad.distributed.algorithms._link import Link


def chunk_bounds(length: int, parts: int) -> list[int]:
    """Boundaries of `parts` nearly equal chunks of `length` elements.

    Chunk i is `[bounds[i], bounds[i + 1])`; sizes differ by at most one element.

    >>> chunk_bounds(10, 4)
    [0, 2, 5, 7, 10]
    """
    return [(length * i) // parts for i in range(parts + 1)]


def ring_reduce_scatter(link: Link, buffer: np.ndarray, bounds: list[int],
                        ufunc: np.ufunc) -> None:
    """Reduce-scatter `buffer` in place around the ring.

    Afterwards chunk `link.rank` of `buffer` (`bounds[r]:bounds[r + 1]`) holds that chunk
    reduced over all ranks; the other chunks hold partial sums. P - 1 messages, (P - 1) / P * n
    elements sent and reduced.

    Args:
        link: the collective's messages.
        buffer: (n,) contiguous, this rank's contribution; overwritten.
        bounds: (P + 1,) chunk boundaries, the same on every rank.
        ufunc: the elementwise reduction (`np.add`, ...).
    """
    rank, size = link.rank, link.size
    if size == 1 or bounds[-1] == 0:
        return
    right, left = (rank + 1) % size, (rank - 1) % size
    scratch = link.scratch(max(b - a for a, b in pairwise(bounds)), buffer.dtype)
    for step in range(size - 1):
        send = (rank - step - 1) % size
        recv = (rank - step - 2) % size
        mine = buffer[bounds[recv]:bounds[recv + 1]]
        incoming = scratch[:mine.size]
        link.sendrecv(buffer[bounds[send]:bounds[send + 1]], right, incoming, left)
        ufunc(mine, incoming, out=mine)


def ring_all_gather(link: Link, buffer: np.ndarray, bounds: list[int]) -> None:
    """All-gather in place around the ring: rank r contributes chunk r of `buffer`.

    P - 1 messages, (P - 1) / P * n elements sent per rank; chunks are received straight
    into their place, no scratch.

    Args:
        link: the collective's messages.
        buffer: (n,) contiguous; chunk r must hold rank r's data; the rest is overwritten.
        bounds: (P + 1,) chunk boundaries, the same on every rank.
    """
    rank, size = link.rank, link.size
    right, left = (rank + 1) % size, (rank - 1) % size
    for step in range(size - 1):
        send = (rank - step) % size
        recv = (rank - step - 1) % size
        link.sendrecv(buffer[bounds[send]:bounds[send + 1]], right,
                      buffer[bounds[recv]:bounds[recv + 1]], left)


def ring_all_reduce(link: Link, buffer: np.ndarray, ufunc: np.ufunc) -> None:
    """All-reduce `buffer` (n,) in place: ring reduce-scatter, then ring all-gather.

    2 (P - 1) messages and 2 (P - 1) / P * n elements sent per rank; see the module docstring.
    """
    bounds = chunk_bounds(buffer.size, link.size)
    ring_reduce_scatter(link, buffer, bounds, ufunc)
    ring_all_gather(link, buffer, bounds)
