"""Window geometry shared by convolution and pooling, and the im2col/col2im loop nest.

Window ops (convolution, pooling) share one loop nest, `im2col`/`col2im`: instead of looping
over output pixels, loop over the kh*kw kernel offsets, and at each offset copy one strided
slice of the padded input, vectorised over N, C, OH, OW (Chellapilla et al., "High Performance
Convolutional Neural Networks for Document Processing", 2006, Sec. 2.1). A convolution is then
one matrix product, and its backward is the transposed copy (`col2im`) of another one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["window_output_size", "window_padding", "pad2d", "im2col", "col2im"]


def window_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                        ceil_mode: bool = False) -> int:
    """Number of window positions along one axis (PyTorch's `pooling_output_shape`).

    floor (or ceil) of (size + 2 padding - dilation (kernel - 1) - 1) / stride, plus 1. With
    `ceil_mode` a last partial window is kept only if it starts inside the input or the left
    padding, never entirely in the right padding.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def window_padding(input_hw: tuple, padding: tuple, output_size: tuple, kernel_size: tuple,
                   stride: tuple, dilation: tuple) -> tuple:
    """The (before, after) padding of each spatial axis so that all `output_size` windows fit.

    Before is `padding`; after is `padding` too, or more when the last ceil_mode window runs
    past the padded input (the extra cells hold the pad value as well).

    Args:
        input_hw: (H, W). padding: (ph, pw). output_size: (OH, OW). kernel_size: (kh, kw).
        stride: (sh, sw). dilation: (dh, dw).

    Returns:
        ((top, bottom), (left, right)).
    """
    widths = []
    for a in range(2):
        needed = (output_size[a] - 1) * stride[a] + dilation[a] * (kernel_size[a] - 1) + 1
        widths.append((padding[a], max(padding[a], needed - input_hw[a] - padding[a])))
    return tuple(widths)


def pad2d(x: np.ndarray, widths: tuple, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of x: (N, C, H, W) by widths ((top, bottom), (left, right)).

    `value` is 0 for convolution and average pooling, -inf for max pooling.
    """
    if widths == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(widths), mode="constant", constant_values=value)


def im2col(x_padded: np.ndarray, kernel_size: tuple, stride: tuple, dilation: tuple,
           output_size: tuple) -> np.ndarray:
    """Copy every window of the padded input into columns.

    cols[n, c, i, j, oh, ow] = x_padded[n, c, oh sh + i dh, ow sw + j dw].

    Args:
        x_padded: (N, C, Hp, Wp) array, already padded (see `window_padding`).
        kernel_size: (kh, kw). stride: (sh, sw). dilation: (dh, dw). output_size: (OH, OW).

    Returns:
        cols: (N, C, kh, kw, OH, OW) array (contiguous). Memory: kh kw times the output
        size per channel, the price of turning a convolution into one matrix product.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, output_size
    n, c = x_padded.shape[:2]
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x_padded.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x_padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                        j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return cols


def col2im(cols: np.ndarray, padded_shape: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """The adjoint of `im2col`: add every column entry back where it was copied from.

    Overlapping windows read an input pixel more than once, so its gradient is the sum of
    the gradients of all its copies.

    Args:
        cols: (N, C, kh, kw, OH, OW) array.
        padded_shape: (N, C, Hp, Wp), the shape of the padded input given to `im2col`.
        stride: (sh, sw). dilation: (dh, dw).

    Returns:
        (N, C, Hp, Wp) array; crop the padding off to get the input's gradient.
    """
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw, oh, ow = cols.shape[2:]
    out = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    return out


def _padded_shape(shape: tuple, widths: tuple) -> tuple:
    (top, bottom), (left, right) = widths
    return (shape[0], shape[1], shape[2] + top + bottom, shape[3] + left + right)


def _crop(padded: np.ndarray, widths: tuple) -> np.ndarray:
    """Cut the padding added by `pad2d` off again (the gradient of padding)."""
    (top, bottom), (left, right) = widths
    return padded[:, :, top:padded.shape[2] - bottom, left:padded.shape[3] - right]


def _conv_geometry(x_shape, weight_shape, stride, padding, dilation) -> tuple:
    kernel = weight_shape[2:]
    return tuple(window_output_size(x_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
                 for a in range(2))
