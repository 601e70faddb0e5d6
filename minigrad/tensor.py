"""`Tensor`: one NumPy array, plus what autograd needs to differentiate through it.

A Tensor holds
- `data`: the `numpy.ndarray` with the values (float32 by default for Python data);
- `requires_grad`: whether gradients should flow back to it;
- `grad_fn`: the `Function` node that produced it (None for leaves, the tensors you made);
- `grad`: after `backward()`, the gradient of the output with respect to this leaf;
- a version counter, bumped by every in-place write, shared with its views, so that
  backward can tell a saved value was overwritten.

The math methods (`t.exp()`, `t.sum(dim)`, `t @ u`, `t[1:]`, ...) are the functions of
`minigrad.ops`, attached to the class by `minigrad/ops/__init__.py`: the op is written once,
and `t.exp()` is literally `minigrad.ops.exp(t)`.
"""

from __future__ import annotations

import weakref

import numpy as np

from minigrad import dtype as _dt
from minigrad.autograd.grad_mode import _GradMode
from minigrad.utils.hooks import RemovableHandle

_new = object.__new__


class Tensor:
    """A multi-dimensional array that records the ops applied to it for reverse-mode autodiff.

    Build one with `minigrad.tensor(data, dtype=None, requires_grad=False)` (this constructor
    takes the same arguments).
    """

    __slots__ = (
        "data",
        "requires_grad",
        "grad",
        "grad_fn",
        "_version_counter",
        "_base",
        "_hooks",
        "_post_hooks",
        "_view_fn",  # views only: replays the view ops from `_base` (see autograd/inplace.py)
        "_view_version",  # views only: the version at which grad_fn was last rebuilt
        "__weakref__",
    )
    # NumPy defers `ndarray + Tensor` to Tensor.__radd__ instead of broadcasting over objects.
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad: bool = False) -> None:
        array = _to_array(data, dtype)
        self._init(array, False)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, array: np.ndarray, requires_grad: bool) -> None:
        self.data = array
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = None
        self._version_counter = [0]
        self._base = None
        self._hooks = None
        self._post_hooks = None

    @staticmethod
    def _wrap(array, requires_grad: bool = False) -> Tensor:
        """Wrap an array without copying or checking: the fast path every op result takes.

        It sets the same fields as `_init`, written out here because every op result comes
        this way and a method call per op is measurable in `minigrad bench overhead`.
        """
        if type(array) is not np.ndarray:
            array = np.asarray(array)
        t = _new(Tensor)
        t.data = array
        t.requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._version_counter = [0]
        t._base = None
        t._hooks = None
        t._post_hooks = None
        return t

    # -- metadata ----------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.from_numpy_dtype(self.data.dtype)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (what you create, and parameters)."""
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor (or a view of the same memory) has seen."""
        return self._version_counter[0]

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    def size(self, dim: int | None = None):
        """The shape, or its length along `dim`."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_check_dim(dim, self.data.ndim, "size")]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def element_size(self) -> int:
        return self.data.itemsize

    def stride(self, dim: int | None = None):
        """Strides in elements, as PyTorch reports them (NumPy's are in bytes)."""
        strides = tuple(s // self.data.itemsize for s in self.data.strides)
        return strides if dim is None else strides[_check_dim(dim, self.data.ndim, "stride")]

    def is_contiguous(self) -> bool:
        return self.data.flags.c_contiguous

    # -- autograd ----------------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        Args:
            gradient: dL/d(self), same shape as self; may be omitted for a one-element tensor.
            retain_graph: keep the saved values so backward can run through the graph again.
            inputs: if given, only these leaves accumulate gradients.
        """
        from minigrad.autograd.engine import run_backward

        self._sync_if_stale_view()
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn; create the "
                "leaves with requires_grad=True (and not inside no_grad())"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {self.shape}, so pass gradient= a tensor of that shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient,
                              dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {grad.shape} but the tensor has shape "
                    f"{self.data.shape}"
                )
        if inputs is None:
            run_backward([self], [grad], retain_graph)
            return
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        grads = run_backward([self], [grad], retain_graph, inputs=inputs)
        for t, g in zip(inputs, grads):
            if g is not None:
                t._accumulate_grad(g, hooks_ran=True)  # run_backward applied the hooks

    def _accumulate_grad(self, grad: np.ndarray, hooks_ran: bool = False) -> None:
        """Leaf end of the chain rule: hooks (unless `hooks_ran`), then `.grad += grad`, then
        post-accumulate hooks."""
        if not hooks_ran:
            grad = self._run_leaf_hooks(grad)
        if self.grad is None:
            # Own the array: backward may hand the same array to several leaves, or a read-only
            # broadcast view; in-place updates of one .grad must never show up in another.
            self.grad = Tensor._wrap(np.array(grad, dtype=self.data.dtype, copy=True, order="C"))
        else:
            self.grad.data += grad
        if self._post_hooks:
            for hook in self._post_hooks:
                hook(self)

    def _run_leaf_hooks(self, grad: np.ndarray) -> np.ndarray:
        if not self._hooks:
            return grad
        from minigrad.autograd.engine import run_hooks

        return run_hooks(self._hooks, grad, self)

    def register_hook(self, hook) -> RemovableHandle:
        """Call `hook(grad)` whenever the gradient of this tensor is computed.

        The hook may return a new gradient to use instead. On a leaf it runs before the
        gradient is accumulated into `.grad`.
        """
        self._sync_if_stale_view()
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            hooks = self._hooks
        else:
            self.grad_fn.register_hook(hook)
            hooks = self.grad_fn._tensor_hooks
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> RemovableHandle:
        """On a leaf, call `hook(tensor)` after its `.grad` was updated (DDP's trigger)."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks can only be registered on leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a "
                               "tensor that does not require grad")
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor too (leaves always keep theirs).

        The gradient stored is the one after all of this tensor's hooks, as in PyTorch. The
        node holds only a weak reference back to the tensor, so no reference cycle keeps the
        graph alive.
        """
        self._sync_if_stale_view()
        if self.grad_fn is None:
            return
        self.grad_fn._retained_by = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return node is not None and node._retained_by is not None and node._retained_by() is self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place on a leaf; returns self."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only valid on a leaf; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor with the same data and version counter, cut off from the graph."""
        t = Tensor._wrap(self.data)
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    # -- in-place writes: the rules live in minigrad/autograd/inplace.py ---------------------

    def _write_inplace(self, op, *args, direct=None) -> Tensor:
        """Make self hold the values and history of `op(self, *args)` (see inplace.py)."""
        return inplace.write_inplace(self, op, args, direct)

    def _sync_if_stale_view(self) -> None:
        inplace.sync_if_stale_view(self)

    def _sync_view(self) -> None:
        inplace.sync_view(self)

    def _bump_version(self) -> None:
        self._version_counter[0] += 1

    # -- conversion --------------------------------------------------------------------------

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self.data.size} elements cannot be converted to a "
                "Python scalar"
            )
        return self.data.item()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The underlying array (shared memory). As in PyTorch, refuses if it requires grad."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy() instead"
            )
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of a tensor with {self.data.size} values is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.item())

    def __format__(self, spec: str) -> str:
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        return format(repr(self), spec)

    __hash__ = object.__hash__  # == is elementwise, so hashing is by identity, as in PyTorch

    def __repr__(self) -> str:
        prefix = "tensor("
        if self.data.size == 0:
            body = f"[], size={self.data.shape}"
        else:
            # PyTorch's style: "1., 2." for whole numbers, otherwise four decimals
            values = self.data
            whole = values.dtype.kind == "f" and bool(np.all(values[np.isfinite(values)] % 1 == 0))
            body = np.array2string(values, separator=", ", prefix=prefix, threshold=1000,
                                   edgeitems=3, precision=4,
                                   floatmode="maxprec" if whole else "fixed")
        extras = []
        if self.data.dtype not in (np.float32, np.int64, np.bool_) or self.data.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return prefix + ", ".join([body] + extras) + ")"

    def new_tensor(self, data, dtype=None, requires_grad: bool = False) -> Tensor:
        return Tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        from minigrad.creation import zeros

        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        from minigrad.creation import ones

        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
        from minigrad.creation import full

        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert Python data, arrays or Tensors to a fresh array, choosing dtypes as PyTorch does.

    Python floats become float32 (ints int64, bools bool); NumPy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        np_dtype = _dt.to_numpy_dtype(dtype)
        return np.array(data, dtype=np_dtype, copy=True)
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, copy=True)
        _dt.from_numpy_dtype(array.dtype)  # raises a clear TypeError for unsupported dtypes
        return array
    array = np.array(data)
    if array.dtype.kind == "f" or array.dtype == object:
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind not in "b":
        raise TypeError(f"tensor(): can't build a tensor from {type(data).__name__} data "
                        f"(NumPy dtype {array.dtype})")
    return array


def _check_dim(dim: int, ndim: int, op: str) -> int:
    """Normalise a possibly negative `dim`; a clear IndexError if it is out of range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return dim % n


from minigrad.autograd import inplace  # noqa: E402  (inplace.py builds on Tensor)
