"""`Function`: one differentiable op, its forward and its backward side by side.

Every op in minigrad is a subclass::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):              # NumPy arrays in, one NumPy array out
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):             # dL/d(out) in, dL/d(each input) out
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    def mul(a, b):
        return Mul.apply(a, b)

`apply` unwraps Tensor arguments to their arrays, runs `forward`, wraps the result in a new
Tensor, and, when some input requires grad, makes the `ctx` object a node of the graph: it
remembers where each input's gradient must go (`ctx.parents`) and is the result's `grad_fn`.

Deviations from PyTorch's `torch.autograd.Function`, chosen to keep the engine small:
`forward` and `backward` see NumPy arrays, not Tensors; an op has exactly one output;
`backward` may omit trailing `None`s for non-tensor arguments. What PyTorch keeps: `ctx`,
`save_for_backward`/`saved_tensors`, `needs_input_grad`, and the version check that turns an
in-place change of a saved tensor into an error at backward time instead of a wrong gradient.
"""

from __future__ import annotations

import os

import numpy as np

from minigrad.autograd.grad_mode import _GradMode
from minigrad.utils.hooks import RemovableHandle

# MINIGRAD_DEBUG=1: record each input's shape and dtype, and have the engine check every
# gradient a backward returns against them (catches a wrong custom Function at its source).
DEBUG = os.environ.get("MINIGRAD_DEBUG", "0") not in ("", "0")


_new = object.__new__

# The op-level instrumentation point (FLOP and memory counting, `minigrad.profiler`): objects
# registered with `register_op_observer`. `apply` and the engine test this list once per op,
# so while it is empty (the normal case) observing costs one falsy check.
_op_observers: list = []


class OpObserver:
    """Base class of op observers: sees every op's forward and every node's backward.

    Override either method. Observers see NumPy arrays and must not run minigrad ops (those
    would be observed too). Register with `register_op_observer`.
    """

    def on_forward(self, op: type, ctx: Function, inputs: list, output: np.ndarray) -> None:
        """After `op.forward` ran: `inputs` are its arguments, Tensors replaced by their
        arrays (options such as `dim` as given); `output` is the result's array."""

    def on_backward(self, node: Function, grad_output: np.ndarray, grad_inputs: tuple) -> None:
        """After `node.backward` ran: `grad_output` is dL/d(output), `grad_inputs` holds one
        gradient (or None) per forward argument."""


def register_op_observer(observer: OpObserver) -> RemovableHandle:
    """Call `observer.on_forward`/`on_backward` for every op until the handle is removed.

    Returns:
        A `RemovableHandle`; `handle.remove()` (or leaving a `with handle:` block) stops it.
    """
    _op_observers.append(observer)
    return RemovableHandle(_op_observers, observer)


class Function:
    """Base class of every differentiable op; an instance is both `ctx` and graph node."""

    # True for ops whose output may alias the first input's memory (reshape, transpose, slicing):
    # the output then shares the input's version counter, so an in-place write through either
    # is seen by every saved copy.
    is_view = False

    # Set on nodes only where used; class defaults keep `apply` cheap.
    _saved = ()
    _saved_versions = ()
    _freed = False
    _tensor_hooks = None
    _retained_by = None
    _input_meta = ()

    @staticmethod
    def forward(ctx, *args):  # abstract: every op defines it
        raise NotImplementedError(f"{type(ctx).__name__}: forward is abstract; a Function subclass "
                                  "must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad):  # abstract: every differentiable op defines it
        raise NotImplementedError(f"{type(ctx).__name__}: backward is abstract; a Function subclass "
                                  "must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        """Run the op on `args` (Tensors, arrays, numbers, options) and return a Tensor."""
        ctx = _new(cls)
        arrays = []
        parents = []
        record = False
        grad_on = _GradMode.enabled
        for a in args:
            if isinstance(a, Tensor):
                if a._base is not None and a._view_version != a._version_counter[0]:
                    a._sync_view()  # the memory it views was written to since its grad_fn was set
                arrays.append(a.data)
                if grad_on and a.requires_grad:
                    record = True
                    parents.append(a.grad_fn or a)
                else:
                    parents.append(None)
            else:
                arrays.append(a)
                parents.append(None)
        ctx._recording = record
        ctx.parents = tuple(parents)
        result = cls.forward(ctx, *arrays)
        out = Tensor._wrap(result, record)
        if cls.is_view and np.may_share_memory(result, arrays[0]):
            src = args[0]
            out._version_counter = src._version_counter
            out._view_version = src._version_counter[0]
            out._base = src._base if src._base is not None else src
            out._view_fn = ViewReplay(src._view_fn if src._base is not None else None, cls,
                                      args[1:])
        if record:
            if DEBUG:
                ctx._check_ctx_attributes()
                ctx._input_meta = tuple(
                    (a.data.shape, a.data.dtype) if isinstance(a, Tensor) else None for a in args
                )
            out.grad_fn = ctx
            if ctx._saved:
                ctx._record_versions(args, out)
        if _op_observers:
            for observer in tuple(_op_observers):
                observer.on_forward(cls, ctx, arrays, out.data)
        return out

    # -- what forward and backward use ------------------------------------------------------

    def save_for_backward(self, *arrays) -> None:
        """Keep `arrays` (inputs or the output of forward) for backward; free otherwise."""
        if self._recording:
            self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """The arrays given to `save_for_backward`, after checking nobody modified them."""
        if self._freed:
            raise freed_graph_error(self)
        for i, (counter, version) in enumerate(self._saved_versions):
            if counter is not None and counter[0] != version:
                shape = tuple(self._saved[i].shape)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [tensor of shape {shape}], saved by {self!r}, is at "
                    f"version {counter[0]}; expected version {version} instead. Use an "
                    "out-of-place op (or .clone()) before modifying it."
                )
        return self._saved

    @property
    def needs_input_grad(self) -> tuple:
        """One bool per forward argument: does backward have to compute that gradient?"""
        return tuple(p is not None for p in self.parents)

    # -- used by apply and by the engine ----------------------------------------------------

    def _record_versions(self, args, out) -> None:
        """Note, for each saved array, the version counter of the tensor it belongs to."""
        versions = []
        for s in self._saved:
            counter = None  # None: a slot backward does not need, or an array nobody else has
            if s is not None and (s is out.data or s is out.data.base):  # the output (or its base)
                counter = out._version_counter
            elif s is not None:
                for a in args:
                    if isinstance(a, Tensor) and a.data is s:
                        counter = a._version_counter
                        break
            versions.append((counter, counter[0] if counter is not None else 0))
        self._saved_versions = versions

    def _release(self) -> None:
        """Free the saved arrays once backward has used them (unless retain_graph).

        A node that saved nothing can run again, as in PyTorch; one whose saved arrays are
        gone raises `freed_graph_error` if a second backward reaches it.
        """
        if self._saved:
            self._saved = ()
            self._saved_versions = ()
            self._freed = True

    def _store_retained_grad(self, grad) -> None:
        """`retain_grad()` on our output: keep its gradient in `.grad` (after all hooks ran)."""
        tensor = self._retained_by()
        if tensor is None or tensor.grad_fn is not self:
            return
        if tensor.grad is None:
            tensor.grad = Tensor._wrap(np.array(grad, copy=True))
        else:
            tensor.grad.data += grad

    def _check_ctx_attributes(self) -> None:
        """MINIGRAD_DEBUG=1: arrays for backward belong in save_for_backward, where backward
        frees them and the version counter guards them; not in plain ctx attributes."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            items = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, np.ndarray) and v.size > 1 for v in items):
                raise RuntimeError(
                    f"{self!r} keeps an array in ctx.{name}; keep arrays that backward needs "
                    "with ctx.save_for_backward(...) so they are freed after backward"
                )

    def register_hook(self, fn) -> None:
        """Run `fn(grad)` on this node's output gradient before its backward (tensor hooks)."""
        if self._tensor_hooks is None:
            self._tensor_hooks = []
        self._tensor_hooks.append(fn)

    @property
    def next_functions(self) -> tuple:
        """The parents of this node, as PyTorch names them: a node, a leaf Tensor, or None."""
        return self.parents

    def name(self) -> str:
        return f"{type(self).__name__}Backward"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


class ViewReplay:
    """A function base -> view: the view ops from the base up to this view, applied again.

    A write through a view must change the base's history too; to build that history (and to
    refresh a view whose base was written to) minigrad replays the view from the base, as
    PyTorch does with its view functions. The steps form a linked list (each replay points at
    the one of the view it was made from), replayed in a loop: chains of thousands of views
    cost neither recursion depth nor quadratic copying.
    """

    __slots__ = ("previous", "op", "options")

    def __init__(self, previous, op, options) -> None:
        self.previous, self.op, self.options = previous, op, options

    def __call__(self, base):
        steps = []
        step = self
        while step is not None:
            steps.append(step)
            step = step.previous
        for step in reversed(steps):
            base = step.op.apply(base, *step.options)
        return base


def freed_graph_error(node) -> RuntimeError:
    return RuntimeError(
        f"{node!r}: trying to backward through the graph a second time (or to access saved "
        "tensors after they were freed). Saved values are freed when you call .backward() or "
        "autograd.grad(); pass retain_graph=True to keep them."
    )


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo broadcasting: sum `grad` down to `shape`, the shape of the input it belongs to.

    Broadcasting copies an input along new leading axes and along axes of size 1, so by the
    chain rule its gradient is the sum of the output gradient over exactly those axes. This is
    the one place in minigrad where that happens; every op with broadcasting inputs calls it.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


from minigrad.tensor import Tensor  # noqa: E402  (Tensor and Function refer to each other)
