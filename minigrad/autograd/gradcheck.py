"""`gradcheck`: compare backward's gradients with central finite differences.

For each input element x_i, the numerical derivative of every output element is
(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), with error O(eps^2) (central difference). The
check runs in float64: in float32 the rounding error of f, about 1e-7 |f| / eps, would swamp
the comparison for any useful eps.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.functional import grad as autograd_grad
from minigrad.autograd.grad_mode import no_grad
from minigrad.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytical gradient disagrees with the numerical one."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check the gradients of `fn(*inputs)` against central differences.

    Args:
        fn: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple of Tensors; those with `requires_grad=True` are checked and
            must be float64.
        eps: the finite-difference step.
        atol, rtol: the check is |analytical - numerical| <= atol + rtol |numerical|.
        raise_exception: raise GradcheckError naming the input and element on failure
            (otherwise return False).

    Returns:
        True when every gradient matches.
    """
    inputs = _as_tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i, t in enumerate(checked):
        if t.data.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {t.dtype}; use float64 "
                             "(finite differences are too noisy in lower precision)")
    outputs = _as_tuple(fn(*inputs))
    for o_index, out in enumerate(outputs):
        flat_size = out.data.size
        # analytical Jacobian, one row per output element: backprop a one-hot gradient. An
        # output that is not part of a graph has a zero Jacobian, which the numerical one then
        # contradicts if the function does depend on its inputs (a forgotten graph is a bug).
        analytical = [np.zeros((flat_size, t.data.size)) for t in checked]
        for k in range(flat_size if out.requires_grad else 0):
            onehot = np.zeros(out.data.size)
            onehot[k] = 1.0
            grads = autograd_grad([out], checked, [onehot.reshape(out.shape)],
                                  retain_graph=True, allow_unused=True)
            for j, g in enumerate(grads):
                if g is not None:
                    analytical[j][k] = g.data.reshape(-1)
        for j, t in enumerate(checked):
            numerical = _numerical_jacobian(fn, inputs, t, o_index, eps, flat_size)
            bad = np.abs(analytical[j] - numerical) > atol + rtol * np.abs(numerical)
            if bad.any():
                k, e = np.argwhere(bad)[0]
                message = (
                    f"gradcheck: Jacobian mismatch for output {o_index} with respect to input "
                    f"{j} (shape {t.shape}) at output element {k}, input element {e}: "
                    f"analytical {analytical[j][k, e]:.8g}, numerical {numerical[k, e]:.8g}"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def _numerical_jacobian(fn, inputs, t: Tensor, o_index: int, eps: float,
                        out_size: int) -> np.ndarray:
    """(out_size, t.numel()) matrix of central differences, one column per element of t."""
    flat = t.data.reshape(-1)  # a view when contiguous; otherwise work on a copy and write back
    contiguous = np.shares_memory(flat, t.data)
    data = flat if contiguous else t.data.copy().reshape(-1)
    columns = []
    with no_grad():
        for e in range(data.size):
            original = data[e]
            data[e] = original + eps
            if not contiguous:
                t.data[...] = data.reshape(t.shape)
            plus = np.array(_as_tuple(fn(*inputs))[o_index].data, dtype=np.float64, copy=True)
            data[e] = original - eps
            if not contiguous:
                t.data[...] = data.reshape(t.shape)
            minus = np.array(_as_tuple(fn(*inputs))[o_index].data, dtype=np.float64)
            data[e] = original
            if not contiguous:
                t.data[...] = data.reshape(t.shape)
            columns.append(((plus - minus) / (2 * eps)).reshape(-1))
    if not columns:
        return np.zeros((out_size, 0))
    return np.stack(columns, axis=1)
