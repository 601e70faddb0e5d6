"""The collective algorithms, one module each, on flat contiguous NumPy buffers, in place.

Every algorithm talks to the other ranks only through a `Link` (polled point-to-point
messages) and reduces with a NumPy ufunc (`np.add(a, b, out=a)`); `mpi` calls MPI's own
collectives instead. Which collective has which algorithm:

| collective | algorithms | "auto" picks |
|---|---|---|
| all_reduce | ring, rabenseifner, recursive_doubling, tree, mpi | `choose_all_reduce` |
| broadcast | tree, mpi | tree |
| reduce | tree, mpi | tree |
| all_gather | ring, mpi | ring |
| reduce_scatter | ring, mpi | ring |

Nothing here imports mpi4py at import time except `mpi`, so the pure parts (chunk
boundaries, the fold schedule, the choice of algorithm) load and test without MPI.
"""

from __future__ import annotations

ALGORITHMS = ("ring", "rabenseifner", "recursive_doubling", "tree", "mpi")

COLLECTIVE_ALGORITHMS = {
    "all_reduce": ALGORITHMS,
    "broadcast": ("tree", "mpi"),
    "reduce": ("tree", "mpi"),
    "all_gather": ("ring", "mpi"),
    "reduce_scatter": ("ring", "mpi"),
}

# all_reduce messages up to this size use recursive doubling (log2 P latencies, log2 P * n
# bytes); larger ones the bandwidth-optimal algorithms. Measured on the 2-core development
# machine with tests/distributed/workers/collectives_timing.py (see
# docs/concepts/distributed/collectives.md).
SHORT_MESSAGE_BYTES = 8192


def choose_all_reduce(nbytes: int, group_size: int) -> str:
    """The all-reduce algorithm "auto" runs for a message of `nbytes` on `group_size` ranks.

    From the alpha-beta model: below `SHORT_MESSAGE_BYTES` latency dominates and recursive
    doubling's log2 P messages win; above it the bandwidth term 2 (P - 1) / P * n beta of
    Rabenseifner's algorithm and the ring wins. Rabenseifner needs 2 log2 P messages instead
    of the ring's 2 (P - 1), but when P is not a power of two its fold sends the whole buffer
    twice more, so then the ring runs.
    """
    if nbytes <= SHORT_MESSAGE_BYTES:
        return "recursive_doubling"
    if group_size & (group_size - 1) == 0:
        return "rabenseifner"
    return "ring"


def choose(collective: str, nbytes: int, group_size: int) -> str:
    """The algorithm "auto" runs for `collective` (see the table in the module docstring)."""
    if collective == "all_reduce":
        return choose_all_reduce(nbytes, group_size)
    return COLLECTIVE_ALGORITHMS[collective][0]


# The hand-written all-reduce algorithms by name, each `(link, buffer, ufunc) -> None` in place
# (imported last: the modules import nothing from this package's namespace).
from minigrad.distributed.algorithms.rabenseifner import rabenseifner_all_reduce
from minigrad.distributed.algorithms.recursive_doubling import (
    recursive_doubling_all_reduce,
)
from minigrad.distributed.algorithms.ring import ring_all_reduce
from minigrad.distributed.algorithms.tree import tree_all_reduce

ALL_REDUCE = {"ring": ring_all_reduce, "rabenseifner": rabenseifner_all_reduce,
              "recursive_doubling": recursive_doubling_all_reduce, "tree": tree_all_reduce}

