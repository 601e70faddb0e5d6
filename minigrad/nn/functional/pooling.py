"""2-D pooling: max, average, and adaptive average, over (N, C, H, W) inputs.

Pooling slides a kh x kw window with stride (sh, sw) over each channel. The number of
windows per axis is floor((H + 2 p - d (k - 1) - 1) / s) + 1; `ceil_mode` rounds up instead,
keeping a last partial window as long as it starts inside the input or the left padding.

- Max pooling pads with -inf and keeps each window's maximum. Its gradient goes only to the
  element that was the maximum (the first one on ties, as PyTorch's CPU kernel), so the
  forward records the argmax of every window (`return_indices=True` hands them out: flat
  positions h W + w in each (H, W) plane).
- Average pooling pads with zeros and divides each window's sum by its size: the full
  kh kw, or only the part inside the input (`count_include_pad=False`), never counting the
  part of a ceil_mode window past the padding. Backward spreads each window's gradient
  evenly over its elements.
- Adaptive average pooling picks the windows for a requested output size: output i covers
  input [floor(i H / OH), ceil((i + 1) H / OH)), so bins may differ in size and overlap.

The window loops are `im2col`/`col2im` in `kernels.reference`, shared with convolution.
"""

from __future__ import annotations

from kernels import reference
from minigrad.autograd.function import Function
from minigrad.nn.functional._utils import batched_4d, check_float, check_positive, pair
from minigrad.tensor import Tensor


class MaxPool2d(Function):
    """The maxima come from the kernel before `apply`, which returns them as the output: the
    op has two results (values and indices) and a Function has one, the differentiable one.
    `kernel_size` is passed along unused, so that the profiler's FLOP formula sees it."""

    @staticmethod
    def forward(ctx, x, values, indices, kernel_size):
        ctx.input_shape = x.shape
        ctx.save_for_backward(indices)
        return values

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        return reference.max_pool2d_backward(grad, indices, ctx.input_shape)


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        ctx.input_shape = x.shape
        ctx.options = (kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)
        return reference.avg_pool2d_forward(x, *ctx.options)

    @staticmethod
    def backward(ctx, grad):
        return reference.avg_pool2d_backward(grad, ctx.input_shape, *ctx.options)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.input_shape = x.shape
        return reference.adaptive_avg_pool2d_forward(x, output_size)

    @staticmethod
    def backward(ctx, grad):
        return reference.adaptive_avg_pool2d_backward(grad, ctx.input_shape)


def _pool_arguments(input: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
                    op: str) -> tuple:
    """Check and normalise pooling arguments; return (x, unbatched, kernel, stride, padding)."""
    x, unbatched = batched_4d(input, op)
    check_float(x, "input", op)
    kernel = pair(kernel_size, "kernel_size", op)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    stride = kernel if no_stride else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    check_positive(kernel, "kernel_size", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{op}: padding should be non-negative and at most half of the "
                               f"effective kernel size, but got padding={padding}, "
                               f"kernel_size={kernel} and dilation={dilation}")
    out = tuple(reference.window_output_size(x.shape[2 + a], kernel[a], stride[a], padding[a],
                                             dilation[a], ceil_mode) for a in range(2))
    if min(out) < 1:
        raise RuntimeError(f"{op}: input of shape {input.shape} gives output size {out}, which "
                           f"is too small (kernel_size={kernel}, stride={stride}, "
                           f"padding={padding}, dilation={dilation})")
    return x, unbatched, kernel, stride, padding


def max_pool2d(input: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
               dilation: int | tuple[int, int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) float tensor.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); None means kernel_size.
        padding: int or (ph, pw) of implicit -inf padding, at most half the dilated kernel.
        dilation: int or (dh, dw), the spacing between window elements.
        ceil_mode: round the output size up instead of down.
        return_indices: also return the argmax positions.

    Returns:
        (N, C, OH, OW) tensor; with return_indices, also an int64 tensor of the same shape
        holding the flat index h W + w of each maximum in its (H, W) plane.

    Raises:
        RuntimeError: bad rank, padding larger than half the kernel, or an empty output.
    """
    dilation = pair(dilation, "dilation", "max_pool2d")
    x, unbatched, kernel, stride, padding = _pool_arguments(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    values, indices = reference.max_pool2d_forward(x.data, kernel, stride, padding, dilation,
                                                   ceil_mode)
    out = MaxPool2d.apply(x, values, indices, kernel)
    if unbatched:
        out, indices = out.squeeze(0), indices[0]
    return (out, Tensor._wrap(indices)) if return_indices else out


def avg_pool2d(input: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-D average pooling.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) float tensor.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); None means kernel_size.
        padding: int or (ph, pw) of implicit zero padding, at most half the kernel.
        ceil_mode: round the output size up instead of down.
        count_include_pad: count the zero padding in each window's divisor.
        divisor_override: if given, divide every window's sum by it instead.

    Returns:
        (N, C, OH, OW) tensor ((C, OH, OW) for unbatched input).

    Raises:
        RuntimeError: bad rank, padding larger than half the kernel, an empty output, or
            divisor_override = 0.
    """
    x, unbatched, kernel, stride, padding = _pool_arguments(
        input, kernel_size, stride, padding, (1, 1), ceil_mode, "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor_override must be non-zero")
    out = AvgPool2d.apply(x, kernel, stride, padding, ceil_mode, count_include_pad,
                          divisor_override)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]
                        ) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) float tensor.
        output_size: int or (OH, OW); an entry None keeps that input size.

    Returns:
        (N, C, OH, OW) tensor ((C, OH, OW) for unbatched input); output[i] averages input
        rows floor(i H / OH) to ceil((i + 1) H / OH) - 1 (and likewise for columns).

    Raises:
        RuntimeError: bad rank, or a negative output size.
    """
    x, unbatched = batched_4d(input, "adaptive_avg_pool2d")
    check_float(x, "input", "adaptive_avg_pool2d")
    sizes = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != 2:
        raise RuntimeError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                           f"{output_size!r}")
    sizes = tuple(x.shape[2 + a] if s is None else int(s) for a, s in enumerate(sizes))
    if min(sizes) < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: output_size must be non-negative, got {sizes}")
    out = AdaptiveAvgPool2d.apply(x, sizes)
    return out.squeeze(0) if unbatched else out
