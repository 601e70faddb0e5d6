"""In-place writes and views under autograd: how `t.add_(u)`, `t[i] = v` and `y[0] += w` keep
every gradient right.

An in-place op overwrites memory that the graph may still need, and the memory may be shared
with views. Four rules, the same as PyTorch's, keep gradients correct or make them fail loudly:

1. **History moves with the values.** `t.op_(args)` runs the ordinary op on `t`'s old values
   and old history, then copies the result into `t` and makes the new node `t.grad_fn`
   (`write_inplace`). If that node saved the old values, it first gets its own copy of them
   (`keep_old_values`), so only ops whose backward needs the old values pay for a copy.
2. **The version counter.** Every write bumps a counter shared by a tensor and its views; a
   node that saved the old values elsewhere raises at backward time instead of computing a
   wrong gradient (see `Function.saved_tensors`).
3. **Writes through a view change the base's history** (`write_through_view`): a `CopySlices`
   node builds the new base from its old values outside the view's region and the op's
   result inside it.
4. **Views follow their base.** A view whose base (or sibling view) was written to since its
   grad_fn was made rebuilds it from the base's current history before it is used
   (`sync_view`), replaying its view ops (`ViewReplay` in function.py).

When nothing is being recorded (optimizer updates, data preparation), a `direct` function
writes the result straight into the array and only the counter is bumped.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.grad_mode import _GradMode


def records_inplace(tensor, args) -> bool:
    """Would an in-place op on `tensor` with `args` have to be recorded in the graph?"""
    return _GradMode.enabled and (
        tensor.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
    )


def write_inplace(tensor, op, args, direct=None):
    """Make `tensor` hold the values and history of the out-of-place `op(tensor, *args)`.

    `direct(array, *raw_args)`, if given, does the write on the array itself when nothing is
    recorded. `op` must build a single node: the version bump makes every other node that saved
    the old values refuse to backward, inner nodes of a composite op included.
    """
    sync_if_stale_view(tensor)  # a view whose base joined a graph must join it too
    recording = records_inplace(tensor, args)
    if direct is not None and not recording:
        direct(tensor.data, *(a.data if isinstance(a, Tensor) else a for a in args))
        tensor._version_counter[0] += 1
        return tensor
    if recording and tensor._base is not None:
        return write_through_view(tensor, op, args)
    if recording:
        if tensor.grad_fn is None and tensor.requires_grad:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap it in `with minigrad.no_grad():` (as optimizers do) or clone() it"
            )
        source = _before_the_write(tensor)
    else:
        source = tensor
    out = op(source, *args)
    if recording:
        keep_old_values(out.grad_fn, tensor.data)
    store_result(tensor, out)
    if recording:
        take_history(tensor, out.grad_fn)
    return tensor


def write_through_view(view, op, args):
    """An in-place op on a view, recorded: the base's history must change, not only the view's.

    With v = base[region]: the op runs on the region of the base as it is before the write;
    a `CopySlices` node then builds the new base (old values outside the region, the op's
    result inside), and the base takes that node as its grad_fn. The view's own grad_fn
    becomes the region of the new base (PyTorch records the same thing, under the same name).
    """
    from minigrad.ops.copying import CopySlices

    base = view._base
    if base.grad_fn is None and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf tensor that requires grad is being used in an in-place "
            "operation; wrap it in `with minigrad.no_grad():` or clone() the leaf first"
        )
    old_base = _before_the_write(base)
    out = op(view._view_fn(old_base), *args)
    check_result(view, out)
    keep_old_values(out.grad_fn, base.data)
    new_base = CopySlices.apply(old_base, out, view._view_fn)  # reads the old values
    store_result(view, out)
    base.grad_fn = new_base.grad_fn
    base.requires_grad = True
    sync_view(view)
    return view


def _before_the_write(tensor):
    """A second Tensor over the same memory and counter, carrying `tensor`'s current history:
    what the op reads, and what its node points back to."""
    alias = Tensor._wrap(tensor.data, tensor.requires_grad)
    alias.grad_fn = tensor.grad_fn
    alias._version_counter = tensor._version_counter
    return alias


def keep_old_values(node, memory: np.ndarray) -> None:
    """Before an in-place write into `memory`: give `node` its own copy of any saved array that
    lives there, so its backward still sees the values from before the write."""
    if node is None or not node._saved:
        return
    saved, versions = list(node._saved), list(node._saved_versions)
    for i, s in enumerate(saved):
        if isinstance(s, np.ndarray) and np.may_share_memory(s, memory):
            saved[i] = s.copy()
            versions[i] = (None, 0)  # a private copy: no later write can reach it
    node._saved, node._saved_versions = tuple(saved), versions


def check_result(tensor, out) -> None:
    """The result of an in-place op must fit the tensor: same shape, a castable dtype."""
    if out.data.shape != tensor.data.shape:
        raise RuntimeError(
            f"in-place op: output with shape {tensor.data.shape} doesn't match the broadcast "
            f"shape {out.data.shape}"
        )
    if not np.can_cast(out.data.dtype, tensor.data.dtype, casting="same_kind"):
        raise RuntimeError(
            f"in-place op: result type {out.dtype} can't be cast to the tensor's dtype "
            f"{tensor.dtype}"
        )


def store_result(tensor, out) -> None:
    """Copy an in-place op's result into the tensor's memory and bump the version counter."""
    check_result(tensor, out)
    np.copyto(tensor.data, out.data, casting="same_kind")
    tensor._version_counter[0] += 1


def sync_if_stale_view(tensor) -> None:
    if tensor._base is not None and tensor._view_version != tensor._version_counter[0]:
        sync_view(tensor)


def sync_view(view) -> None:
    """Rebuild a view's grad_fn from its base's current history.

    Needed after a recorded write through the base or through another view of it: the
    view's values changed, so its old grad_fn (pointing at the base's old history) would
    give a wrong gradient. Nothing to do while recording is off, or for a leaf base,
    whose identity, and so the view's node, stays right.
    """
    if not _GradMode.enabled:
        return
    view._view_version = view._version_counter[0]
    base = view._base
    if base.grad_fn is None:
        return
    alias = Tensor._wrap(base.data, True)
    alias.grad_fn = base.grad_fn
    take_history(view, view._view_fn(alias).grad_fn)


def take_history(tensor, node) -> None:
    """Make `node` the tensor's grad_fn (after an in-place write), keeping a retain_grad()."""
    old = tensor.grad_fn
    if old is not None and old._retained_by is not None and old._retained_by() is tensor:
        node._retained_by = old._retained_by
    tensor.grad_fn = node
    tensor.requires_grad = True


from minigrad.tensor import Tensor  # noqa: E402  (Tensor's methods call into this module)
