"""`Parameter`: a Tensor that a Module owns and an optimizer trains.

A Parameter is an ordinary Tensor in every way but one: assigning it as an attribute of a
`Module` (`self.weight = Parameter(...)`) registers it, so that `module.parameters()`,
`state_dict()`, `zero_grad()` and the optimizers find it. That is the whole reason for the
subclass; the data, autograd and every op are Tensor's. The result of an op on a Parameter
is a plain Tensor (ops build results with `Tensor._wrap`), as in PyTorch, so only the leaf
you created is registered, never an intermediate value.
"""

from __future__ import annotations

import copy

import numpy as np

from minigrad.dtype import from_numpy_dtype, to_numpy_dtype
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is registered as a parameter when assigned to a Module attribute.

    Args:
        data: the Tensor whose array the parameter takes over (shared, not copied: writes to
            one show in the other, and they share the version counter). None gives an empty
            float32 tensor of shape (0,). The parameter is always a leaf, even if `data` was
            produced by an op.
        requires_grad: whether the parameter requires a gradient (only floating point
            parameters can).

    Raises:
        TypeError: `data` is not a Tensor (PyTorch also refuses NumPy arrays here; wrap one
            with `minigrad.from_numpy` first).
        RuntimeError: requires_grad=True for a non-floating-point tensor.
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            self._init(np.empty((0,), dtype=np.float32), False)
        elif isinstance(data, Tensor):
            self._init(data.data, False)
            self._version_counter = data._version_counter
        else:
            raise TypeError(f"Parameter: data must be a minigrad.Tensor (or None), got "
                            f"{type(data).__name__}; use minigrad.from_numpy(array) for arrays")
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        """A Parameter with a copy of the data and the same requires_grad, as PyTorch's
        (the gradient is not copied)."""
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._wrap(copy.deepcopy(self.data, memo)), self.requires_grad)
        memo[id(self)] = result
        return result


def factory_dtype(dtype, device, layer: str) -> np.dtype:
    """The NumPy dtype for a layer's parameters from its `dtype=`/`device=` arguments.

    Layers take PyTorch's factory arguments: `dtype` (default float32) must be a floating
    point type, since parameters are trained by gradient; `device` may only be None or "cpu".
    """
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"{layer}: minigrad tensors live on the CPU; device {device!r} is "
                           "not available")
    np_dtype = np.dtype(np.float32) if dtype is None else to_numpy_dtype(dtype)
    if np_dtype.kind != "f":
        raise TypeError(f"{layer}: parameters must have a floating point dtype, got "
                        f"{from_numpy_dtype(np_dtype).name}")
    return np_dtype
