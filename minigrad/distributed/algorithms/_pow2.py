"""Recursive halving and doubling on any P: fold P down to a power of two and back out.

Thakur, Rabenseifner and Gropp (2005, section 4): let p' be the largest power of two <= P
and r = P - p'. Among the first 2r ranks, each odd rank sends its whole buffer to the even
rank below it, which reduces it into its own and takes part; the odd ranks sit out. The p'
ranks left are renumbered 0 .. p' - 1 (even rank 2i < 2r -> i; rank k >= 2r -> k - r), run the
power-of-two algorithm, and each even rank of a pair sends the result to its odd partner at
the end. The fold costs one extra message of n elements in and one out for those pairs.

    P = 6: p' = 4, r = 2       ranks    0  1  2  3  4  5
                               fold     0<-1  2<-3  .  .
                               new rank 0  -  1  -  2  3
"""

from __future__ import annotations

import numpy as np

from minigrad.distributed.algorithms._link import Link


def largest_power_of_two(size: int) -> int:
    """The largest power of two <= `size` (>= 1)."""
    return 1 << (size.bit_length() - 1)


def fold_schedule(rank: int, size: int) -> tuple[int, int | None]:
    """This rank's part in the fold: (new rank or -1 if it sits out, fold partner or None)."""
    extra = size - largest_power_of_two(size)
    if rank < 2 * extra:
        return (rank // 2, rank + 1) if rank % 2 == 0 else (-1, rank - 1)
    return rank - extra, None


def real_rank(new_rank: int, size: int) -> int:
    """The group rank of power-of-two rank `new_rank` (inverse of the renumbering)."""
    extra = size - largest_power_of_two(size)
    return 2 * new_rank if new_rank < extra else new_rank + extra


def fold_in(link: Link, buffer: np.ndarray, ufunc: np.ufunc, scratch: np.ndarray) -> int:
    """Odd ranks of the first 2r send their buffer to the even one, which reduces it.

    Returns this rank's new rank (-1: it sits out until `fold_out`).
    """
    new_rank, partner = fold_schedule(link.rank, link.size)
    if partner is not None and new_rank < 0:
        link.send(buffer, partner)
    elif partner is not None:
        incoming = scratch[:buffer.size]
        link.recv(incoming, partner)
        ufunc(buffer, incoming, out=buffer)  # lower rank's data first, as everywhere
    return new_rank


def fold_out(link: Link, buffer: np.ndarray) -> None:
    """Even ranks of the first 2r send the finished buffer to their odd partner."""
    new_rank, partner = fold_schedule(link.rank, link.size)
    if partner is not None and new_rank < 0:
        link.recv(buffer, partner)
    elif partner is not None:
        link.send(buffer, partner)
