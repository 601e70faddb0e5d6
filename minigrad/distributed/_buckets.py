"""Gradient buckets: how DistributedDataParallel turns per-parameter gradients into a few
large all-reduces that overlap with the rest of the backward pass.

One all-reduce per parameter pays the per-message latency (alpha in the cost model) once per
parameter; one all-reduce of the whole model cannot start before the last gradient exists.
Buckets sit between the two. The parameters, in *reverse* registration order (backward
produces the last layer's gradients first), are packed into flat buffers of about
`bucket_cap_mb`; a post-accumulate-grad hook copies each gradient into its slot, and once
every slot of a bucket is filled the bucket's all-reduce starts (`async_op=True`) while
backward goes on computing earlier layers' gradients. When the pass ends, the reducer waits
for every bucket and writes the averaged gradients back into `.grad`:

    backward:  [grad fc3][grad fc2][grad fc1]
    buckets:            [all-reduce b0      ][all-reduce b1]      <- b0 overlaps fc1's backward
                                                          ^ end of pass: wait, copy back

Buckets are launched strictly in index order, on every rank, even if a later bucket fills
first: the collectives of a process group must be issued in the same order everywhere, or
rank 0's bucket 1 would be summed with rank 1's bucket 0.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.engine import queue_callback
from minigrad.tensor import Tensor


def assign_buckets(sizes: list[tuple[int, np.dtype]], cap_bytes: int) -> list[list[int]]:
    """Group tensors into buckets by size and dtype (PyTorch's
    `_compute_bucket_assignment_by_size`).

    Walk the tensors in the given order, keeping one open bucket per dtype; append each tensor
    to its dtype's bucket and close the bucket once it holds at least `cap_bytes` (so a bucket
    may exceed the cap by its last tensor, and a tensor larger than the cap sits alone).

    Args:
        sizes: (number of elements, dtype) of each tensor, in the order gradients are expected.
        cap_bytes: the size at which a bucket is closed.

    Returns:
        Lists of positions into `sizes`, one per bucket, ordered by their first position (so
        that buckets become ready in index order when gradients arrive in the given order).
    """
    closed, open_buckets = [], {}
    for position, (numel, dtype) in enumerate(sizes):
        bucket = open_buckets.setdefault(dtype, [[], 0])
        bucket[0].append(position)
        bucket[1] += numel * dtype.itemsize
        if bucket[1] >= cap_bytes:
            closed.append(bucket[0])
            del open_buckets[dtype]
    closed.extend(positions for positions, _ in open_buckets.values())
    return sorted(closed, key=lambda positions: positions[0])


class Bucket:
    """One flat buffer holding the gradients of a few parameters of one dtype.

    Attributes:
        params: the parameters, in the order their gradients are expected.
        buffer: (sum of their numels,) the flat array that is all-reduced.
        views: one view of `buffer` per parameter, with the parameter's shape.
        pending: how many parameters have not yet delivered their gradient in this pass.
        work: the handle of the all-reduce in flight, or None.
    """

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        numels = [p.data.size for p in params]
        self.buffer = np.zeros(sum(numels), dtype=params[0].data.dtype)
        offsets = np.cumsum([0, *numels])
        self.views = [self.buffer[start:stop].reshape(p.shape)
                      for p, start, stop in zip(params, offsets[:-1], offsets[1:])]
        self.pending = len(params)
        self.work = None

    def copy_in(self, slot: int, grad: Tensor | None) -> None:
        """Put a parameter's gradient into its slot (zeros for None; nothing to copy when the
        gradient already is the slot, with gradient_as_bucket_view)."""
        view = self.views[slot]
        if grad is None:
            view.fill(0)
        elif grad.data is not view:
            np.copyto(view, grad.data)

    def copy_out(self, slot: int, as_view: bool) -> None:
        """Write the reduced slot back into the parameter's `.grad` (or make `.grad` the slot)."""
        param, view = self.params[slot], self.views[slot]
        if as_view:
            if param.grad is None or param.grad.data is not view:
                param.grad = Tensor._wrap(view)
        elif param.grad is None:
            param.grad = Tensor._wrap(view.copy())
        else:
            np.copyto(param.grad.data, view)

    def wait(self) -> None:
        """Wait for the bucket's all-reduce, if one is in flight."""
        work, self.work = self.work, None
        if work is not None:
            work.wait()


class Reducer:
    """Averages the gradients of `params` over a process group, bucket by bucket.

    `prepare_for_backward(sync)` arms it for the next backward pass (DDP's forward calls it);
    in a synchronising pass, each parameter's post-accumulate hook fills its bucket slot, full
    buckets start their all-reduce in index order (at once with `overlap`, else all at the end),
    and a callback queued on the autograd engine finishes the pass: it deals with parameters
    that got no gradient, waits for every bucket and writes the averages back into `.grad`.

    Args:
        params: the parameters that require grad, in registration order.
        names: their names, for error messages.
        cap_bytes: the bucket size (see `assign_buckets`).
        all_reduce: `all_reduce(array, op_name, async_op) -> Work | None`, bound to the group
            and the algorithm; op_name is "avg" or "sum".
        rank: this process's rank, for error messages.
        overlap: start each bucket's all-reduce as soon as it is full (else after backward).
        find_unused_parameters: reduce zeros for parameters without a gradient instead of
            raising; a parameter that no rank used keeps its `.grad` as it was.
        gradient_as_bucket_view: make each `.grad` a view of its bucket slot (no copy back).
    """

    def __init__(self, params: list[Tensor], names: list[str], cap_bytes: int, all_reduce,
                 rank: int, *, overlap: bool, find_unused_parameters: bool,
                 gradient_as_bucket_view: bool) -> None:
        self.names = names
        self.all_reduce = all_reduce
        self.rank = rank
        self.overlap = overlap
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        gradient_order = list(reversed(range(len(params))))
        assignment = assign_buckets([(params[i].data.size, params[i].data.dtype)
                                     for i in gradient_order], cap_bytes)
        self.buckets = []
        self.slot_of = {}  # id(param) -> (index in params, bucket, slot in bucket)
        for positions in assignment:
            members = [gradient_order[pos] for pos in positions]
            bucket = Bucket([params[i] for i in members])
            self.buckets.append(bucket)
            for slot, i in enumerate(members):
                self.slot_of[id(params[i])] = (i, bucket, slot)
        self.params = params
        for p in params:
            p.register_post_accumulate_grad_hook(self._on_grad_ready)
        self.mode = None  # None: hooks off; "sync": reduce this pass; "accumulate": no_sync
        self.used = np.zeros(len(params), dtype=np.int32)  # since the last reduction
        self._reset_pass()

    def bucket_members(self) -> list[list[str]]:
        """The parameter names of each bucket, in bucket order (for docs, tests, debugging)."""
        return [[self.names[self.slot_of[id(p)][0]] for p in b.params] for b in self.buckets]

    def prepare_for_backward(self, sync: bool) -> None:
        """Arm the hooks for the next backward pass: reduce (`sync`) or only accumulate."""
        self._wait_all()  # a pass that raised half-way may have left buckets in flight
        self._reset_pass()
        self.mode = "sync" if sync else "accumulate"

    def _reset_pass(self) -> None:
        self.ready = np.zeros(len(self.params), dtype=bool)
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)
        self.next_bucket = 0
        self.callback_queued = False

    def _on_grad_ready(self, param: Tensor) -> None:
        if self.mode is None:
            return
        index, bucket, slot = self.slot_of[id(param)]
        self.used[index] = 1
        if self.mode == "accumulate":
            return
        if self.ready[index]:
            raise RuntimeError(f"DistributedDataParallel: parameter '{self.names[index]}' "
                               "received its gradient twice in one backward pass")
        if not self.callback_queued:
            try:
                queue_callback(self._finish_pass)
            except RuntimeError as e:
                raise RuntimeError(
                    f"DistributedDataParallel: the gradient of '{self.names[index]}' was "
                    "accumulated outside a backward pass (as Tensor.backward(inputs=...) "
                    "does), so DDP cannot reduce it") from e
            self.callback_queued = True
        self.ready[index] = True
        bucket.copy_in(slot, param.grad)
        bucket.pending -= 1
        if bucket.pending == 0 and self.overlap:
            self._launch_ready_buckets()

    def _launch_ready_buckets(self) -> None:
        """Start the all-reduce of every full bucket from `next_bucket` on, in index order."""
        while (self.next_bucket < len(self.buckets)
               and self.buckets[self.next_bucket].pending == 0):
            bucket = self.buckets[self.next_bucket]
            bucket.work = self.all_reduce(bucket.buffer, "avg", True)
            self.next_bucket += 1

    def _wait_all(self) -> None:
        for bucket in self.buckets:
            bucket.wait()

    def _finish_pass(self) -> None:
        """End of a synchronising backward pass (run by the autograd engine)."""
        try:
            missing = np.flatnonzero(~self.ready)
            if missing.size and not self.find_unused_parameters:
                self._wait_all()
                raise RuntimeError(self._unused_message(missing))
            for index in missing:  # only with find_unused_parameters
                param = self.params[index]
                _, bucket, slot = self.slot_of[id(param)]
                bucket.copy_in(slot, param.grad)  # zeros, or what no_sync accumulated
                bucket.pending -= 1
            self._launch_ready_buckets()
            if self.find_unused_parameters:
                self.all_reduce(self.used, "sum", False)  # runs after the buckets, in order
            self._wait_all()
            for index, param in enumerate(self.params):
                if self.find_unused_parameters and self.used[index] == 0:
                    continue  # no rank used it: its .grad stays as it was, as in PyTorch
                _, bucket, slot = self.slot_of[id(param)]
                bucket.copy_out(slot, self.gradient_as_bucket_view)
        finally:
            self.mode = None
            self.used[:] = 0
            self._reset_pass()

    def _unused_message(self, missing: np.ndarray) -> str:
        names = ", ".join(self.names[i] for i in missing)
        return (f"DistributedDataParallel: on rank {self.rank}, {missing.size} parameter(s) "
                f"received no gradient in this backward pass: {names} (indices "
                f"{' '.join(str(i) for i in missing)}). Every parameter must take part in "
                "computing the loss, since its bucket's all-reduce waits for it; pass "
                "find_unused_parameters=True to DistributedDataParallel to reduce zeros for "
                "such parameters, or freeze them with requires_grad_(False) before wrapping "
                "the model.")
