"""`Conv2d`: a learned 2-D convolution over (N, C, H, W) images.

The weight has shape (out_channels, in_channels / groups, kh, kw): each output channel sees
only the in_channels / groups input channels of its group. Two special cases have names:
groups = in_channels is a *depthwise* convolution (one filter per channel), and
kernel_size = 1 a *pointwise* one (a Linear layer applied at every pixel); MobileNet's
depthwise-separable block is the one followed by the other, with about
1 / out_channels + 1 / (kh kw) of a full convolution's FLOPs.

Default initialisation as `Linear`: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias,
with fan_in = (in_channels / groups) kh kw.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.functional._utils import pair
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter, factory_dtype
from minigrad.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """2-D convolution (cross-correlation), as `torch.nn.Conv2d`.

    Args:
        in_channels: channels C of the input.
        out_channels: channels Cout of the output.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw).
        padding: int or (ph, pw) added on both sides, or 'valid' (none) or 'same' (output
            size = input size; stride 1 only).
        dilation: int or (dh, dw), the spacing between kernel taps.
        groups: split the channels into this many independent convolutions; in_channels and
            out_channels must be multiples of it.
        bias: learn an additive bias per output channel.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular': what the padding holds.
        device: None or "cpu".
        dtype: the parameters' floating point dtype (default float32).

    Attributes:
        weight: (out_channels, in_channels / groups, kh, kw) Parameter.
        bias: (out_channels,) Parameter, or None.

    Shapes:
        input (N, C, H, W) or (C, H, W) -> output (N, Cout, OH, OW) or (Cout, OH, OW), with
        OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 and likewise OW.

    Raises:
        ValueError: groups not positive or not dividing the channel counts, an unknown
            padding string or padding_mode, or padding='same' with a stride.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__()
        np_dtype = factory_dtype(dtype, device, "Conv2d")
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"Conv2d: groups must be a positive integer, got {groups!r}")
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"Conv2d: {name} ({channels}) must be divisible by groups "
                                 f"({groups})")
        self.stride = pair(stride, "stride", "Conv2d")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: invalid padding string {padding!r}, should be one "
                                 "of 'same', 'valid'")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", "Conv2d")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        self.groups = groups
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(Tensor._wrap(np.empty(shape, np_dtype)))
        if bias:
            self.bias = Parameter(Tensor._wrap(np.empty((out_channels,), np_dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _explicit_padding(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) for F.pad when padding_mode is not 'zeros'; for 'same',
        an odd total padding puts the extra row/column at the bottom/right, as conv2d does."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            (top, left) = (t // 2 for t in totals)
            return (left, totals[1] - left, top, totals[0] - top)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
