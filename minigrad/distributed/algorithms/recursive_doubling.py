"""`recursive_doubling`: log2 P exchanges of the whole buffer (latency-optimal, for short messages).

On a power of two p', at step k = 0 .. log2 p' - 1 rank i exchanges its whole buffer with
rank i XOR 2^k and reduces: after step k each rank holds the reduction over its aligned block
of 2^(k+1) ranks. Both partners compute op(lower block, higher block) with the operands in
the same order, so both hold the same bytes (this matters for MAX/MIN of -0.0 and +0.0 and
NaN payloads, not for sums, which IEEE makes commutative). Other P fold to p' first
(`_pow2`).

    P = 4   step 0: 0<->1  2<->3     step 1: 0<->2  1<->3

Cost per rank: log2 p' messages of n elements, time
log2 p' (alpha + n beta + n gamma), plus 2 (alpha + n beta) for folded ranks when P is not a
power of two (Thakur, Rabenseifner and Gropp 2005). The log2 P * n bytes make it a poor
choice for long messages.
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


def recursive_doubling_all_reduce(link: Link, buffer: np.ndarray, ufunc: np.ufunc) -> None:
    """All-reduce `buffer` (n,) in place by recursive doubling (see the module docstring)."""
    size = link.size
    if size == 1 or buffer.size == 0:
        return
    scratch = link.scratch(buffer.size, buffer.dtype)
    new_rank = fold_in(link, buffer, ufunc, scratch)
    if new_rank >= 0:
        mask = 1
        while mask < largest_power_of_two(size):
            peer_new = new_rank ^ mask
            peer = real_rank(peer_new, size)
            link.sendrecv(buffer, peer, scratch, peer)
            if new_rank < peer_new:
                ufunc(buffer, scratch, out=buffer)
            else:
                ufunc(scratch, buffer, out=buffer)
            mask <<= 1
    fold_out(link, buffer)
