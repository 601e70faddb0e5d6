"""`Linear` (y = x W^T + b) and `Identity` (y = x).

Default initialisation, as PyTorch: `kaiming_uniform_(weight, a=sqrt(5))`, which works out to
U(-1/sqrt(in_features), 1/sqrt(in_features)), and the bias from the same range. (He et al.'s
gain sqrt(2 / (1 + a^2)) with a = sqrt(5) is sqrt(1/3), and a uniform bound is sqrt(3) times
the standard deviation gain / sqrt(fan_in).) It keeps the output's variance about 1/3 of the
input's per layer, whatever the width.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter, factory_dtype
from minigrad.tensor import Tensor


class Identity(Module):
    """Returns its input unchanged; takes (and ignores) any constructor arguments, so it can
    stand in for a layer that was switched off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """The affine map y = x W^T + b.

    Args:
        in_features: size of each input's last dimension.
        out_features: size of each output's last dimension.
        bias: learn an additive bias.
        device: None or "cpu".
        dtype: the parameters' floating point dtype (default float32).

    Attributes:
        weight: (out_features, in_features) Parameter.
        bias: (out_features,) Parameter, or None.

    Shapes:
        input `(*, in_features)` -> output `(*, out_features)`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        np_dtype = factory_dtype(dtype, device, "Linear")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(Tensor._wrap(np.empty((out_features, in_features), np_dtype)))
        if bias:
            self.bias = Parameter(Tensor._wrap(np.empty((out_features,), np_dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
