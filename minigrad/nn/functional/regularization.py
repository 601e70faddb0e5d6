"""Dropout: zero each element with probability p during training (Srivastava et al. 2014).

Inverted dropout scales the kept elements by 1 / (1 - p) at training time, so the expected
value of every element is unchanged and evaluation needs no rescaling: in evaluation
(`training=False`) dropout is the identity. The output is input * mask with a constant mask,
so the gradient is grad * mask: dropped elements get none.

The mask is drawn from minigrad's global generator (`minigrad.random.default_generator`),
so `minigrad.manual_seed(s)` makes it reproducible. It is not the same sequence as PyTorch's.
"""

from __future__ import annotations

import numpy as np

from minigrad.random import default_generator
from minigrad.tensor import Tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Randomly zero elements with probability p and scale the rest by 1 / (1 - p).

    Args:
        input: float tensor of any shape.
        p: probability of zeroing an element, in [0, 1]; p = 1 gives all zeros.
        training: apply dropout; when False the input is returned unchanged.
        inplace: write the result into `input` (as `input.mul_(mask)`).

    Returns:
        A tensor of the input's shape (the input itself when nothing is dropped).

    Raises:
        ValueError: p outside [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = np.zeros(input.shape, dtype=input.data.dtype)
    else:
        keep = default_generator.numpy.random(input.shape) >= p
        mask = keep.astype(input.data.dtype) / np.asarray(1 - p, dtype=input.data.dtype)
    return input.mul_(mask) if inplace else input * mask
