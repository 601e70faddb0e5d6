"""`rabenseifner`: reduce-scatter by recursive halving, then all-gather by recursive doubling.

Rabenseifner's algorithm (Thakur, Rabenseifner and Gropp 2005, section 4.4). On a power of
two p', the buffer is cut into p' segments (`chunk_bounds`).

Recursive halving, log2 p' steps with distance p'/2, p'/4, ..., 1: each rank holds a range
of segments, swaps half of it with its partner (rank XOR distance) and reduces the half it
keeps; the rank whose bit is 0 keeps the lower half. At the end rank i holds segment i
reduced over everybody, computed by rank i alone.

    P = 4, segments A B C D      step 1 (distance 2)      step 2 (distance 1)
    rank 0 keeps A B, sends C D      keeps A, sends B        -> A reduced
    rank 2 keeps C D, sends A B      keeps C, sends D        -> C reduced

Recursive doubling, log2 p' steps with distance 1, 2, ..., p'/2: partners swap what they
hold, so the finished range doubles each step, back to the whole buffer. Other P fold to p'
first (`_pow2`).

Cost per rank: 2 log2 p' messages and 2 (p' - 1) / p' * n elements, time
2 log2 p' alpha + 2 (p' - 1) / p' n beta + (p' - 1) / p' n gamma; the fold adds
2 (alpha + n beta) (+ n gamma) for non-powers of two. Same bandwidth as the ring with
log2 P instead of P - 1 latencies.
"""

from __future__ import annotations

import numpy as np

from minigrad.distributed.algorithms._link import Link
from minigrad.distributed.algorithms._pow2 import (
    fold_in,
    fold_out,
    largest_power_of_two,
    real_rank,
)
from minigrad.distributed.algorithms.ring import chunk_bounds


def rabenseifner_all_reduce(link: Link, buffer: np.ndarray, ufunc: np.ufunc) -> None:
    """All-reduce `buffer` (n,) in place by Rabenseifner's algorithm (see the module docstring)."""
    size = link.size
    if size == 1 or buffer.size == 0:
        return
    scratch = link.scratch(buffer.size, buffer.dtype)
    new_rank = fold_in(link, buffer, ufunc, scratch)
    if new_rank >= 0:
        segments = largest_power_of_two(size)
        bounds = chunk_bounds(buffer.size, segments)
        low, high = 0, segments  # the range of segments this rank still reduces
        distance = segments // 2
        while distance:
            peer = real_rank(new_rank ^ distance, size)
            middle = (low + high) // 2
            keep, give = ((middle, high), (low, middle)) if new_rank & distance else \
                ((low, middle), (middle, high))
            mine = buffer[bounds[keep[0]]:bounds[keep[1]]]
            incoming = scratch[:mine.size]
            link.sendrecv(buffer[bounds[give[0]]:bounds[give[1]]], peer, incoming, peer)
            ufunc(mine, incoming, out=mine)
            low, high = keep
            distance //= 2
        distance = 1
        while distance < segments:
            peer = real_rank(new_rank ^ distance, size)
            other = (low - distance, low) if new_rank & distance else (high, high + distance)
            link.sendrecv(buffer[bounds[low]:bounds[high]], peer,
                          buffer[bounds[other[0]]:bounds[other[1]]], peer)
            low, high = min(low, other[0]), max(high, other[1])
            distance *= 2
    fold_out(link, buffer)
