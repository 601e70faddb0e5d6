"""Pooling modules: `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d`.

Each stores its arguments as given (an int stays an int, as in PyTorch's repr) and calls the
function of `minigrad.nn.functional.pooling`, where the window arithmetic is explained.
`stride=None` means stride = kernel_size: non-overlapping windows.
"""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class MaxPool2d(Module):
    """2-D max pooling.

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); None means kernel_size.
        padding: int or (ph, pw) of implicit -inf padding, at most half the kernel.
        dilation: int or (dh, dw), the spacing between window elements.
        return_indices: also return the flat positions of the maxima.
        ceil_mode: round the output size up instead of down.

    Shapes:
        input (N, C, H, W) or (C, H, W) -> output (N, C, OH, OW) or (C, OH, OW).
    """

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """2-D average pooling.

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); None means kernel_size.
        padding: int or (ph, pw) of implicit zero padding, at most half the kernel.
        ceil_mode: round the output size up instead of down.
        count_include_pad: count the zero padding in each window's divisor.
        divisor_override: if given, divide every window's sum by it instead.

    Shapes:
        input (N, C, H, W) or (C, H, W) -> output (N, C, OH, OW) or (C, OH, OW).
    """

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Args:
        output_size: int or (OH, OW); an entry None keeps that input size.

    Shapes:
        input (N, C, H, W) or (C, H, W) -> output (N, C, OH, OW) or (C, OH, OW).
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
