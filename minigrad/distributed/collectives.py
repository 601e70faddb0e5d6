"""The collectives of torch.distributed, in place on minigrad Tensors or NumPy arrays.

Each function checks its arguments on the calling thread (dtypes, sizes, ranks, the
algorithm), then hands the messages to the group (`ProcessGroup.submit`): run now, or queued
on the group's worker thread with `async_op=True` (a `Work` is returned). Buffers are worked
on as flat contiguous arrays: a contiguous tensor's own memory, or a contiguous copy that is
written back at the end. Tensors are changed in place through `.data` (no autograd record;
the version counter is bumped, as for any in-place op).

`algorithm` picks the implementation (`minigrad.distributed.algorithms`); None means
"auto", and for `all_reduce` the environment variable `MINIGRAD_ALLREDUCE_ALGORITHM` first.
Every rank must pass the same sizes, dtypes, op and algorithm; a mismatch ends in an MPI
error or in the watchdog's report, never in a silent hang.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from minigrad.distributed.algorithms import ALL_REDUCE, COLLECTIVE_ALGORITHMS, choose
from minigrad.distributed.algorithms._link import Link
from minigrad.distributed.algorithms._ops import (
    ReduceOp,
    check_dtype,
    finish_average,
    reduce_ufunc,
)
from minigrad.distributed.algorithms.ring import ring_all_gather, ring_reduce_scatter
from minigrad.distributed.algorithms.tree import binomial_broadcast, binomial_reduce
from minigrad.distributed.process_group import ProcessGroup, resolve_group
from minigrad.distributed.work import Work
from minigrad.tensor import Tensor


def _mpi():
    from minigrad.distributed.algorithms import mpi

    return mpi


def _array(obj, where: str, what: str) -> np.ndarray:
    if isinstance(obj, Tensor):
        array = obj.data
    elif isinstance(obj, np.ndarray):
        array = obj
    else:
        raise TypeError(f"{where}: {what} must be a minigrad Tensor or a NumPy array, "
                        f"got {type(obj).__name__}")
    check_dtype(where, array.dtype)
    return array


class _Target:
    """An output tensor worked on as a flat contiguous array, written back by `finish`."""

    def __init__(self, obj, where: str, what: str) -> None:
        self.obj = obj
        self.array = _array(obj, where, what)
        if not self.array.flags.writeable:
            raise ValueError(f"{where}: {what} is read-only; it is written in place")
        contiguous = self.array.flags.c_contiguous
        self.flat = self.array.reshape(-1) if contiguous else self.array.flatten()
        self._copy_back = not contiguous

    def finish(self) -> None:
        if self._copy_back:
            np.copyto(self.array, self.flat.reshape(self.array.shape))
        if isinstance(self.obj, Tensor):
            self.obj._bump_version()


def _algorithm(collective: str, algorithm: str | None, nbytes: int, size: int) -> str:
    available = COLLECTIVE_ALGORITHMS[collective]
    source = "algorithm"
    if algorithm is None and collective == "all_reduce":
        algorithm = os.environ.get("MINIGRAD_ALLREDUCE_ALGORITHM") or None
        source = "MINIGRAD_ALLREDUCE_ALGORITHM"
    if algorithm is None or algorithm == "auto":
        return choose(collective, nbytes, size)
    if algorithm not in available:
        raise ValueError(f"{collective}: {source} {algorithm!r} is not available; "
                         f"{collective} has {', '.join(available)} and auto")
    return algorithm


def _group_rank(pg: ProcessGroup, where: str, role: str, global_rank: int | None,
                group_rank: int | None) -> int:
    """The group rank of a root given as a world rank (`src`/`dst`) or a group rank."""
    if (global_rank is None) == (group_rank is None):
        raise ValueError(f"{where}: give exactly one of {role} (a world rank) and "
                         f"group_{role} (a rank in the group)")
    if group_rank is not None:
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{where}: group_{role}={group_rank} is out of range for a group "
                             f"of {pg.size()}")
        return group_rank
    if global_rank not in pg.ranks:
        raise ValueError(f"{where}: {role}={global_rank} is not a member of the group "
                         f"(world ranks {pg.ranks})")
    return pg.ranks.index(global_rank)


def _check_size(where: str, what: str, array: np.ndarray, size: int, dtype: np.dtype) -> None:
    if array.size != size or array.dtype != dtype:
        raise ValueError(f"{where}: {what} must have {size} elements of {dtype}, got shape "
                         f"{array.shape} of {array.dtype}")


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False, *, algorithm: str | None = None) -> Work | None:
    """Reduce `tensor` across the group, in place on every rank.

    Algorithms (n = tensor.nbytes, P = group size, per rank):
    `ring` 2(P-1) messages, 2(P-1)/P n bytes; `rabenseifner` 2 log2 P messages, 2(P-1)/P n
    bytes; `recursive_doubling` log2 P messages, n log2 P bytes; `tree` 2 log2 P rounds of n
    bytes; `mpi` MPI_Iallreduce. Non-powers of two add a fold of 2 n bytes to rabenseifner
    and recursive_doubling. "auto": `algorithms.choose_all_reduce`.

    Args:
        tensor: (any shape) Tensor or ndarray; every rank the same shape and dtype.
        op: SUM, AVG (floats only), PRODUCT, MIN, MAX.
        group: the group (None: the world).
        async_op: return a `Work` and run on the group's worker thread.
        algorithm: one of the above or "auto"; None: `MINIGRAD_ALLREDUCE_ALGORITHM`, else auto.

    Returns:
        A `Work` if `async_op`, else None (also None on a rank outside `group`).
    """
    pg = resolve_group(group, "all_reduce")
    if pg is None:
        return None
    target = _Target(tensor, "all_reduce", "tensor")
    ufunc = reduce_ufunc("all_reduce", op, target.array.dtype)
    name = _algorithm("all_reduce", algorithm, target.array.nbytes, pg.size())

    def run(link: Link) -> None:
        if name == "mpi":
            _mpi().mpi_all_reduce(link, target.flat, op)
        else:
            ALL_REDUCE[name](link, target.flat, ufunc)
        finish_average(target.flat, op, link.size)
        target.finish()

    return pg.submit("all_reduce", run, async_op)


def broadcast(tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None, *,
              algorithm: str | None = None) -> Work | None:
    """Copy `tensor` of the root to every rank of the group, in place.

    `tree`: binomial tree, ceil(log2 P) rounds of n bytes; `mpi`: MPI_Ibcast. "auto": tree.

    Args:
        tensor: (any shape) the data on the root, the destination elsewhere.
        src: the root's world rank (PyTorch's meaning, also with a sub-group).
        group_src: or the root's rank within `group`.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "broadcast")
    if pg is None:
        return None
    root = _group_rank(pg, "broadcast", "src", src, group_src)
    target = _Target(tensor, "broadcast", "tensor")
    name = _algorithm("broadcast", algorithm, target.array.nbytes, pg.size())

    def run(link: Link) -> None:
        if name == "mpi":
            _mpi().mpi_broadcast(link, target.flat, root)
        else:
            binomial_broadcast(link, target.flat, root)
        if link.rank != root:
            target.finish()

    return pg.submit("broadcast", run, async_op)


def reduce(tensor, dst: int | None = None, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None, *, algorithm: str | None = None) -> Work | None:
    """Reduce `tensor` across the group into the root's `tensor`; the others keep theirs.

    `tree`: binomial tree, ceil(log2 P) rounds of n bytes (non-roots reduce into a copy);
    `mpi`: MPI_Ireduce. "auto": tree.

    Args:
        tensor: (any shape) every rank's contribution; the result on the root.
        dst: the root's world rank; or `group_dst`, its rank within `group`.
        op: as for `all_reduce`.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "reduce")
    if pg is None:
        return None
    root = _group_rank(pg, "reduce", "dst", dst, group_dst)
    target = _Target(tensor, "reduce", "tensor")
    ufunc = reduce_ufunc("reduce", op, target.array.dtype)
    name = _algorithm("reduce", algorithm, target.array.nbytes, pg.size())

    def run(link: Link) -> None:
        is_root = link.rank == root
        if name == "mpi":
            _mpi().mpi_reduce(link, target.flat, op, root)
        else:
            binomial_reduce(link, target.flat if is_root else target.flat.copy(), root, ufunc)
        if is_root:
            finish_average(target.flat, op, link.size)
            target.finish()

    return pg.submit("reduce", run, async_op)


def _gather(where: str, pg: ProcessGroup, algorithm: str | None, output: np.ndarray,
            source: np.ndarray, done: Callable[[], None], async_op: bool) -> Work | None:
    """All-gather `source` (m,) of every rank into `output` (P * m,), then call `done`."""
    name = _algorithm("all_gather", algorithm, output.nbytes, pg.size())
    chunk = source.size

    def run(link: Link) -> None:
        # np.copyto copies correctly even when `source` is a view of this very chunk
        np.copyto(output[link.rank * chunk:(link.rank + 1) * chunk], source.reshape(-1))
        if name == "mpi":
            _mpi().mpi_all_gather(link, output)
        else:
            ring_all_gather(link, output, [i * chunk for i in range(link.size + 1)])
        done()

    return pg.submit(where, run, async_op)


def all_gather(tensor_list: Sequence, tensor, group: ProcessGroup | None = None,
               async_op: bool = False, *, algorithm: str | None = None) -> Work | None:
    """Gather every rank's `tensor` into `tensor_list` (entry i: rank i's) on every rank.

    `ring`: P - 1 messages, (P - 1) m bytes per rank; `mpi`: MPI_Iallgather. "auto": ring.

    Args:
        tensor_list: P tensors shaped and typed like `tensor`, overwritten.
        tensor: (any shape) this rank's contribution, m elements.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "all_gather")
    if pg is None:
        return None
    source = _array(tensor, "all_gather", "tensor")
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors; the group "
                         f"has {pg.size()} ranks")
    targets = [_Target(t, "all_gather", f"tensor_list[{i}]") for i, t in enumerate(tensor_list)]
    for i, t in enumerate(targets):
        _check_size("all_gather", f"tensor_list[{i}]", t.array, source.size, source.dtype)
    output = np.empty(pg.size() * source.size, source.dtype)

    def done() -> None:
        for i, t in enumerate(targets):
            np.copyto(t.flat, output[i * source.size:(i + 1) * source.size])
            t.finish()

    return _gather("all_gather", pg, algorithm, output, source, done, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group: ProcessGroup | None = None,
                           async_op: bool = False, *,
                           algorithm: str | None = None) -> Work | None:
    """Gather every rank's `input_tensor` into `output_tensor`, concatenated in rank order.

    Costs as for `all_gather`, without the copies into a list.

    Args:
        output_tensor: P * m elements (e.g. shape (P * m,) or (P, ...)), overwritten.
        input_tensor: (any shape) m elements, this rank's contribution.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "all_gather_into_tensor")
    if pg is None:
        return None
    source = _array(input_tensor, "all_gather_into_tensor", "input_tensor")
    target = _Target(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check_size("all_gather_into_tensor", "output_tensor", target.array,
                pg.size() * source.size, source.dtype)
    return _gather("all_gather_into_tensor", pg, algorithm, target.flat, source, target.finish,
                   async_op)


def _scatter(where: str, pg: ProcessGroup, algorithm: str | None, op: ReduceOp,
             work: Callable[[], np.ndarray], target: _Target, async_op: bool) -> Work | None:
    """Reduce-scatter `work()` (P * m,) into `target` (m,), chunk r to rank r."""
    ufunc = reduce_ufunc(where, op, target.array.dtype)
    chunk = target.array.size
    name = _algorithm("reduce_scatter", algorithm, pg.size() * target.array.nbytes, pg.size())

    def run(link: Link) -> None:
        buffer = work()
        if name == "mpi":
            _mpi().mpi_reduce_scatter(link, buffer, target.flat, op)
        else:
            ring_reduce_scatter(link, buffer, [i * chunk for i in range(link.size + 1)], ufunc)
            np.copyto(target.flat, buffer[link.rank * chunk:(link.rank + 1) * chunk])
        finish_average(target.flat, op, link.size)
        target.finish()

    return pg.submit(where, run, async_op)


def reduce_scatter(output, input_list: Sequence, op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False, *,
                   algorithm: str | None = None) -> Work | None:
    """Reduce `input_list[i]` across ranks into rank i's `output`.

    `ring`: P - 1 messages, (P - 1) m bytes per rank; `mpi`: MPI_Ireduce_scatter_block.
    "auto": ring. The inputs are not modified.

    Args:
        output: (any shape) m elements, overwritten with this rank's reduced chunk.
        input_list: P tensors of m elements of output's dtype.
        op: as for `all_reduce`.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "reduce_scatter")
    if pg is None:
        return None
    target = _Target(output, "reduce_scatter", "output")
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors; the group "
                         f"has {pg.size()} ranks")
    inputs = [_array(t, "reduce_scatter", f"input_list[{i}]") for i, t in enumerate(input_list)]
    for i, array in enumerate(inputs):
        _check_size("reduce_scatter", f"input_list[{i}]", array, target.array.size,
                    target.array.dtype)
    return _scatter("reduce_scatter", pg, algorithm, op,
                    lambda: np.concatenate([a.reshape(-1) for a in inputs]), target, async_op)


def reduce_scatter_tensor(output, input, op: ReduceOp = ReduceOp.SUM,
                          group: ProcessGroup | None = None, async_op: bool = False, *,
                          algorithm: str | None = None) -> Work | None:
    """Reduce `input` (P chunks of m) across ranks; chunk r of the result into rank r's `output`.

    Costs as for `reduce_scatter`; the input is not modified (the ring works on a copy).

    Args:
        output: (any shape) m elements, overwritten.
        input: P * m elements of output's dtype (e.g. shape (P * m,) or (P, ...)).
        op: as for `all_reduce`.
        group: as for `all_reduce`.
        async_op: as for `all_reduce`.
        algorithm: as for `all_reduce`.
    """
    pg = resolve_group(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    target = _Target(output, "reduce_scatter_tensor", "output")
    source = _array(input, "reduce_scatter_tensor", "input")
    _check_size("reduce_scatter_tensor", "input", source, pg.size() * target.array.size,
                target.array.dtype)
    return _scatter("reduce_scatter_tensor", pg, algorithm, op,
                    lambda: np.array(source, copy=True).reshape(-1), target, async_op)
