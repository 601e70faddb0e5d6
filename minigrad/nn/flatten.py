"""`Flatten`: merge a range of dimensions into one, e.g. (N, C, H, W) -> (N, C H W) between
the convolutional and the linear part of a CNN."""

from __future__ import annotations

from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim (inclusive) into one.

    Args:
        start_dim: first dimension to flatten (default 1: keep the batch dimension).
        end_dim: last dimension to flatten.

    Shapes:
        input `(*, S_start, ..., S_end, *)` -> output `(*, S_start ... S_end, *)`.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
