"""`Dropout`: zero each element with probability p while training; the identity in evaluation.

Kept elements are scaled by 1 / (1 - p) (inverted dropout), so nothing needs rescaling at
evaluation time. Whether it drops is the module's `training` flag, which `model.train()` and
`model.eval()` set; the mask comes from minigrad's global generator.
"""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class Dropout(Module):
    """Randomly zero elements with probability `p` during training (Srivastava et al. 2014).

    Args:
        p: probability of zeroing an element, in [0, 1].
        inplace: overwrite the input instead of making a new tensor.

    Shapes:
        input `(*)` -> output `(*)`, the same shape.

    Raises:
        ValueError: p outside [0, 1].
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
