"""2-D convolution (cross-correlation, as every deep-learning framework computes it).

out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] x[n, c, y sh + i dh - ph,
x sw + j dw - pw], summed over the input channels c of output channel o's group. Groups split
the channels into G independent convolutions (G = C gives a depthwise convolution).

The reference kernel lowers it to one matrix product by im2col (Chellapilla et al. 2006):
copy each receptive field into a column, (N, C kh kw, OH OW), and multiply by the weight as a
(Cout, C kh kw) matrix. The backward is two more products with the same columns:
dL/dweight = G cols^T and dL/dcols = weight^T G, and col2im adds each column entry back to the
pixel it was copied from (see `kernels.reference.conv2d_backward`).
FLOPs: 2 N Cout OH OW (C / G) kh kw forward, twice that backward.

Output size per axis: floor((H + 2 p - d (k - 1) - 1) / s) + 1. padding='same' keeps H and W
(stride 1 only); when the total padding d (k - 1) is odd, the extra row and column go at the
bottom and right, as in PyTorch.
"""

from __future__ import annotations

from kernels import reference
from minigrad.autograd.function import Function
from minigrad.backend import kernel
from minigrad.nn.functional._utils import (batched_4d, check_float, check_positive,
                                           check_same_dtype, pair)
from minigrad.ops.shape import pad as pad_op
from minigrad.tensor import Tensor


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.options = (stride, padding, dilation, groups)
        ctx.save_for_backward(x, weight)
        return reference.conv2d_forward(x, weight, bias, stride, padding, dilation, groups,
                                        depthwise_forward=kernel("depthwise_conv2d_forward"))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return reference.conv2d_backward(grad, x, weight, *ctx.options,
                                         needs_input_grad=ctx.needs_input_grad[:3],
                                         depthwise_backward=kernel("depthwise_conv2d_backward"))


def _same_padding(input: Tensor, kernel: tuple, stride: tuple, dilation: tuple):
    """PyTorch's padding='same': symmetric padding, plus one extra row/column if needed."""
    if stride != (1, 1):
        raise RuntimeError(f"conv2d: padding='same' is not supported for strided convolutions "
                           f"(stride={stride})")
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    before = tuple(t // 2 for t in total)
    extra = [t - 2 * b for t, b in zip(total, before)]
    if any(extra):
        input = pad_op(input, (0, extra[1], 0, extra[0]))
    return input, before


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> Tensor:
    """2-D convolution over an (N, C, H, W) input.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) float tensor.
        weight: (Cout, C / groups, kh, kw) tensor of the input's dtype.
        bias: (Cout,) tensor, or None.
        stride: int or (sh, sw), the step between windows.
        padding: int or (ph, pw) zeros added on both sides, or 'valid' (0) or 'same' (output
            size = input size; stride 1 only).
        dilation: int or (dh, dw), the spacing between kernel taps.
        groups: split the channels into this many independent convolutions; C and Cout
            must be multiples of it.

    Returns:
        (N, Cout, OH, OW) tensor ((Cout, OH, OW) for unbatched input), with
        OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 and likewise OW.

    Raises:
        RuntimeError: on a shape, dtype, channel, groups or padding mismatch; the message
            names the shapes involved.
    """
    op = "conv2d"
    x, unbatched = batched_4d(input, op)
    check_float(x, "input", op)
    if weight.ndim != 4:
        raise RuntimeError(f"{op}: weight must be 4-D (Cout, C / groups, kh, kw), got shape "
                           f"{weight.shape}")
    check_same_dtype(x, weight, "input and weight", op)
    check_same_dtype(x, bias, "input and bias", op)
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: groups must be a positive int, got {groups!r}")
    c_out, c_group, kh, kw = weight.shape
    if c_out % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight of shape "
                           f"{weight.shape} to have Cout divisible by {groups}")
    if x.shape[1] != c_group * groups:
        raise RuntimeError(f"{op}: given groups={groups}, weight of shape {weight.shape} expects "
                           f"input with {c_group * groups} channels, but the input has shape "
                           f"{input.shape} ({x.shape[1]} channels)")
    if bias is not None and bias.shape != (c_out,):
        raise RuntimeError(f"{op}: expected bias of shape ({c_out},) for weight of shape "
                           f"{weight.shape}, got {bias.shape}")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        x, padding = _same_padding(x, (kh, kw), stride, dilation)
    elif isinstance(padding, str):
        raise RuntimeError(f"{op}: invalid padding string {padding!r}; use 'valid', 'same', an "
                           "int or a pair")
    else:
        padding = pair(padding, "padding", op)
        if min(padding) < 0:
            raise RuntimeError(f"{op}: negative padding {padding} is not supported")
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if padded[0] < span[0] or padded[1] < span[1]:
        raise RuntimeError(f"{op}: padded input size {padded} is smaller than the dilated "
                           f"kernel size {span} (input shape {input.shape}, weight shape "
                           f"{weight.shape}, padding {padding}, dilation {dilation})")
    out = Conv2d.apply(x, weight, bias, stride, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out
