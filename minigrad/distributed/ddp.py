"""`DistributedDataParallel`: train one model on many processes, each on its own part of the
batch, with gradients averaged so that every replica takes the same step.

Why it works: the loss of a batch of B samples is the mean of per-sample losses, so its
gradient is the mean of per-sample gradients. Split the batch into N shards of B/N, one per
rank; each rank's gradient is the mean over its shard, and the mean of the N shard means is
the mean over all B samples: averaging gradients over ranks gives the big-batch gradient
(docs/concepts/distributed/ddp.md writes it out). Start every replica from the same weights,
give every rank the same averaged gradient, and they stay identical step after step.

What DDP does, step by step:

1. construction: check that every rank holds the same parameters and buffers (names, shapes,
   dtypes: one all-gather of a hash; on a mismatch every rank raises the same error naming the
   first difference), broadcast parameters and buffers from the group's first rank, and
   arrange the gradients into buckets with a hook on each parameter (`_buckets.py`);
2. forward: broadcast the buffers (BatchNorm statistics) from the first rank, arm the hooks;
3. backward: each gradient lands in its bucket; a full bucket's all-reduce starts at once and
   overlaps the rest of backward; when the pass ends, wait and write the averages to `.grad`;
4. `optimizer.step()` is unchanged: it sees the same averaged gradient on every rank.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

# the package, not its names: minigrad/distributed/__init__.py imports this module
import minigrad.distributed as dist
from minigrad.autograd.grad_mode import is_grad_enabled
from minigrad.distributed._buckets import Reducer
from minigrad.nn.module import Module
from minigrad.tensor import Tensor

if TYPE_CHECKING:
    from minigrad.distributed import ProcessGroup


class DistributedDataParallel(Module):
    """Wrap `module` so that its gradients are averaged over the ranks of a process group.

        dist.init_process_group()
        model = DistributedDataParallel(MLP(64, [128], 10))
        loss = F.cross_entropy(model(x_shard), y_shard)   # each rank: its own shard
        loss.backward()                                    # gradients now averaged
        optimizer.step()                                   # the same step on every rank

    Args:
        module: the model; every rank must build the same architecture.
        device_ids: must be None (minigrad runs on the CPU), as PyTorch for CPU modules.
        output_device: must be None.
        dim: kept for PyTorch compatibility; minigrad never scatters inputs.
        broadcast_buffers: broadcast the buffers from the group's first rank at construction
            and at every forward with gradients enabled (False: each rank keeps its own).
        process_group: the group to average over; None: the default (world) group.
        bucket_cap_mb: bucket size in MiB (1 MiB = 2**20 bytes); a bucket is closed once it
            holds at least this many bytes.
        find_unused_parameters: allow parameters that get no gradient in a backward pass:
            zeros are reduced in their place, and one that no rank used keeps its `.grad`.
            Without it such a parameter is a RuntimeError naming it.
        gradient_as_bucket_view: after the first reduction each `.grad` is a view of its slot
            in the bucket, saving one copy and one gradient's worth of memory.
        algorithm: minigrad's: the all-reduce algorithm (`dist.ALGORITHMS` or "auto"); None:
            MINIGRAD_ALLREDUCE_ALGORITHM, else "auto".
        overlap: minigrad's: False starts every bucket's all-reduce only after backward has
            finished, to measure what overlapping communication with backward buys.

    Attributes:
        module: the wrapped model (save `model.module.state_dict()` for a checkpoint that loads
            without DDP; `model.state_dict()` prefixes every key with `module.`, as PyTorch).
        require_backward_grad_sync: False inside `no_sync()`.

    Raises:
        RuntimeError: no process group initialised; no parameter requires grad; the model
            differs across ranks (on every rank, with the same message).
        ValueError: device_ids or output_device given, a non-positive bucket_cap_mb, or an
            unknown algorithm.

    Deviations from PyTorch: a parameter without a gradient is reported at the end of the
    backward pass that missed it (PyTorch reports it at the next forward); buckets keep their
    initial order (PyTorch rebuilds them after the first iteration in the order gradients
    arrived, and makes the first bucket 1 MiB); buffers are broadcast at every forward with
    gradients enabled outside `no_sync` (PyTorch: at a forward that follows such a forward);
    there are no communication hooks, `static_graph`, `join` or mixed precision; gradients
    of all ranks are averaged with `ReduceOp.AVG` (PyTorch divides by the world size, then
    sums); autograd.grad and `backward(inputs=...)` are not supported (neither is the former
    in PyTorch).
    """

    def __init__(self, module: Module, device_ids: list | None = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group: ProcessGroup | None = None, bucket_cap_mb: float = 25,
                 find_unused_parameters: bool = False, gradient_as_bucket_view: bool = False,
                 *, algorithm: str | None = None, overlap: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a minigrad.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "GPU modules; minigrad modules live on the CPU, so leave both None (got "
                f"device_ids {device_ids}, output_device {output_device})")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        if algorithm is not None and algorithm not in (*dist.ALGORITHMS, "auto"):
            raise ValueError(f"DistributedDataParallel: unknown algorithm {algorithm!r}; "
                             f"choose one of {[*dist.ALGORITHMS, 'auto']}")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: the default process group has not "
                               "been initialized; call minigrad.distributed."
                               "init_process_group() first")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.process_group = process_group
        self.device_ids, self.output_device, self.dim = None, None, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.bucket_bytes_cap = int(bucket_cap_mb * 2**20)
        self.algorithm = algorithm
        self.overlap = overlap
        self.require_backward_grad_sync = True

        group_ranks = _group_ranks(process_group)
        _check_same_model(module, process_group, group_ranks)
        self._src = group_ranks[0]  # broadcast takes a global rank, as torch.distributed
        buffers = [b for _, b in module.named_buffers()] if broadcast_buffers else []
        self._broadcast([p for _, p in module.named_parameters()] + buffers)
        self.reducer = Reducer([p for _, p in named], [n for n, _ in named],
                               self.bucket_bytes_cap, self._all_reduce,
                               dist.get_rank(process_group), overlap=overlap,
                               find_unused_parameters=find_unused_parameters,
                               gradient_as_bucket_view=gradient_as_bucket_view)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Broadcast the buffers, arm the gradient hooks, run the module."""
        if is_grad_enabled():
            if self.broadcast_buffers and self.require_backward_grad_sync:
                # not inside no_sync(): each rank's micro-batches update its own statistics
                self._broadcast([b for _, b in self.module.named_buffers()])
            self.reducer.prepare_for_backward(sync=self.require_backward_grad_sync)
        return self.module(*inputs, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip the all-reduce for forward and backward passes run inside this block.

        Gradients accumulate locally in `.grad`; the first forward and backward outside the
        block reduces the accumulated sum. For gradient accumulation over micro-batches:

            with model.no_sync():
                model(x1).sum().backward()   # local only
            model(x2).sum().backward()       # averages (g1 + g2) over the ranks

        The forward must run inside the block (the decision is taken there, as in PyTorch).
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _all_reduce(self, array: np.ndarray, op: str, async_op: bool):
        reduce_op = dist.ReduceOp.AVG if op == "avg" else dist.ReduceOp.SUM
        return dist.all_reduce(array, op=reduce_op, group=self.process_group,
                               async_op=async_op, algorithm=self.algorithm)

    def _broadcast(self, tensors: list[Tensor]) -> None:
        """Overwrite `tensors` with the first rank's values: one broadcast per dtype."""
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t.data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = np.concatenate([t.data.ravel() for t in group])
            dist.broadcast(flat, self._src, group=self.process_group)
            start = 0
            for t in group:
                t.data[...] = flat[start:start + t.data.size].reshape(t.shape)
                t._bump_version()  # an in-place write: a graph saved before it must fail
                start += t.data.size


def _group_ranks(group: ProcessGroup | None) -> list[int]:
    """The global ranks of the group's members, in group-rank order."""
    if group is None:
        return list(range(dist.get_world_size()))
    return list(group.ranks)


def _signature(module: Module) -> list[list]:
    """[kind, name, shape, dtype(, requires_grad)] of every parameter and buffer, in
    registration order. requires_grad matters: only those parameters are bucketed, so a layer
    frozen on one rank alone would give buckets of different lengths on different ranks."""
    entries = [["parameter", n, list(p.shape), str(p.data.dtype),
                "requires_grad" if p.requires_grad else "frozen"]
               for n, p in module.named_parameters()]
    entries += [["buffer", n, list(b.shape), str(b.data.dtype)]
                for n, b in module.named_buffers()]
    return entries


def _check_same_model(module: Module, group: ProcessGroup | None,
                      group_ranks: list[int]) -> None:
    """Raise the same RuntimeError on every rank unless all ranks hold the same parameters
    and buffers. One all-gather of a 32-byte hash when they agree; on a mismatch, every rank
    gathers every rank's list (two more all-gathers) and names the first difference."""
    encoded = np.frombuffer(json.dumps(_signature(module)).encode(), dtype=np.uint8)
    digest = np.frombuffer(hashlib.sha256(encoded.tobytes()).digest(), dtype=np.uint8).copy()
    digests = _all_gather(digest, group, len(group_ranks))
    if all(np.array_equal(d, digests[0]) for d in digests):
        return
    lengths = _all_gather(np.array([encoded.size], dtype=np.int64), group, len(group_ranks))
    padded = np.zeros(max(int(n[0]) for n in lengths), dtype=np.uint8)
    padded[:encoded.size] = encoded
    gathered = _all_gather(padded, group, len(group_ranks))
    signatures = [json.loads(g[:int(n[0])].tobytes()) for g, n in zip(gathered, lengths)]
    raise RuntimeError(_mismatch_message(signatures, group_ranks))


def _all_gather(array: np.ndarray, group: ProcessGroup | None, size: int) -> list:
    out = [np.empty_like(array) for _ in range(size)]
    dist.all_gather(out, array, group=group)
    return out


def _mismatch_message(signatures: list[list], ranks: list[int]) -> str:
    """Name the first parameter or buffer where some rank differs from the first rank."""
    length = max(len(s) for s in signatures)
    for i in range(length):
        entries = [(s[i][0], s[i][1], tuple(s[i][2]), *s[i][3:]) if i < len(s) else None
                   for s in signatures]
        if len(set(entries)) > 1:
            break
    by_entry = {}
    for rank, entry in zip(ranks, entries):
        by_entry.setdefault(entry, []).append(rank)
    variants = "; ".join(f"rank{'s' if len(r) > 1 else ''} {', '.join(map(str, r))}: "
                         + _describe(entry, i) for entry, r in by_entry.items())
    return (f"DistributedDataParallel: the model is not the same on every rank (parameters "
            f"and buffers must have the same names, shapes, dtypes and requires_grad, in the "
            f"same order). "
            f"First difference, at entry {i}: {variants}")


def _describe(entry: tuple | None, index: int) -> str:
    if entry is None:
        return f"nothing (only {index} parameters and buffers)"
    kind, name, shape, dtype, *grad = entry  # parameters also carry requires_grad/frozen
    return f"{kind} '{name}' of shape {shape} and dtype {dtype}" + \
        (" (frozen)" if grad == ["frozen"] else "")
