"""Argument checks shared by the functional ops: int-or-pair arguments, reductions, arrays."""

from __future__ import annotations

import numpy as np

from minigrad.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def pair(value, name: str, op: str) -> tuple:
    """An int or a sequence of two ints, as the pair (height, width)."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    values = tuple(value)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) for v in values):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return (int(values[0]), int(values[1]))


def check_positive(values: tuple, name: str, op: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}: {name} must be positive, got {values}")


def check_reduction(reduction: str, op: str, allowed: tuple = REDUCTIONS) -> None:
    if reduction not in allowed:
        choices = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: reduction must be one of {choices}, got {reduction!r}")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply a loss reduction: 'mean' over all elements, 'sum', or 'none' (unchanged)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def array(x) -> np.ndarray:
    """The array behind a Tensor (or an array-like), without copying."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def check_float(x: Tensor, name: str, op: str) -> None:
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected {name} to be a floating point tensor, got dtype "
                           f"{x.dtype.name} (shape {x.shape})")


def check_same_dtype(a: Tensor, b: Tensor | None, names: str, op: str) -> None:
    if b is not None and a.data.dtype != b.data.dtype:
        raise RuntimeError(f"{op}: {names} must have the same dtype, got {a.dtype.name} and "
                           f"{b.dtype.name}")


def batched_4d(input: Tensor, op: str):
    """Accept (N, C, H, W) or unbatched (C, H, W); return the 4-D input and whether it was 3-D."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                           f"shape {input.shape}")
    if input.ndim == 3:
        return input.unsqueeze(0), True
    return input, False
