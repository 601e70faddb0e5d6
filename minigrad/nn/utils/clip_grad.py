"""Gradient clipping: bound the gradients before an optimizer step.

Clipping by norm (Pascanu et al. 2013, "On the difficulty of training recurrent neural
networks", Sec. 3.2) treats all gradients as one vector g: if ||g|| exceeds max_norm, every
gradient is scaled by max_norm / ||g||, so the step keeps its direction but not a runaway
length. (The 1e-6 added to the norm guards against division by zero, as in PyTorch.)
Clipping by value clamps each element to [-clip_value, clip_value], which can change the
direction.

The functions change `.grad` in place, under `no_grad`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minigrad.autograd.grad_mode import no_grad
from minigrad.tensor import Tensor

TensorOrTensors = Tensor | Iterable[Tensor]


def _as_list(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(values: np.ndarray, norm_type: float) -> float:
    """The p-norm of all elements of `values`, computed in float64."""
    magnitudes = np.abs(values.astype(np.float64, copy=False)).ravel()
    if norm_type == math.inf:
        return float(magnitudes.max(initial=0.0))
    if norm_type == -math.inf:
        return float(magnitudes.min(initial=math.inf))
    if norm_type == 0:
        return float(np.count_nonzero(magnitudes))
    return float(np.sum(magnitudes**norm_type) ** (1.0 / norm_type))


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The norm of all `tensors` taken together, as if concatenated into one vector.

    Args:
        tensors: a Tensor or an iterable of Tensors (usually gradients).
        norm_type: p of the p-norm; `inf` (or "inf") for the largest magnitude.
        error_if_nonfinite: raise if the norm is NaN or infinite.
        foreach: accepted for PyTorch compatibility; ignored.

    Returns:
        A 0-d tensor in the tensors' (promoted) dtype; 0.0 for no tensors.

    Raises:
        RuntimeError: the norm is not finite and error_if_nonfinite is set.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    norms = np.array([_vector_norm(t.data, norm_type) for t in tensors])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    dtype = np.result_type(*(t.data.dtype for t in tensors))
    return Tensor._wrap(np.array(total, dtype=dtype))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale every `.grad` by min(1, max_norm / (total_norm + 1e-6)), in place.

    Args:
        parameters: a Tensor or an iterable of Tensors whose gradients are scaled.
        max_norm: the largest norm allowed.
        total_norm: the norm of all the gradients, from `get_total_norm`.
        foreach: accepted for PyTorch compatibility; ignored.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    # Always multiply, as PyTorch: a non-finite norm turns the gradients into NaN (or 0)
    # rather than leaving them unclipped.
    coefficient = min(float(max_norm) / (total + 1e-6), 1.0)
    with no_grad(), np.errstate(invalid="ignore"):  # inf * 0 = NaN is the intended result
        for grad in grads:
            grad.mul_(np.asarray(coefficient, dtype=grad.data.dtype))


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of `parameters` so that their total norm is at most `max_norm`.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. `model.parameters()`);
            those without a gradient are skipped.
        max_norm: the largest total norm allowed.
        norm_type: p of the p-norm; `inf` for the largest magnitude.
        error_if_nonfinite: raise if the total norm is NaN or infinite (otherwise the
            gradients are scaled by it anyway, as in PyTorch).
        foreach: accepted for PyTorch compatibility; ignored.

    Returns:
        The total norm of the gradients before clipping, a 0-d tensor.

    Raises:
        RuntimeError: the norm is not finite and error_if_nonfinite is set.
    """
    parameters = _as_list(parameters)  # a generator must be read only once
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place.

    Args:
        parameters: a Tensor or an iterable of Tensors; those without a gradient are skipped.
        clip_value: the largest magnitude allowed.
        foreach: accepted for PyTorch compatibility; ignored.
    """
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
