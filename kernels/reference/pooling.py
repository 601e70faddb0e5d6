"""Max, average and adaptive average pooling over 2-D windows."""

from __future__ import annotations

import numpy as np

from kernels.reference.window import (_crop, _padded_shape, col2im, im2col, pad2d, window_output_size,
                                       window_padding)

__all__ = [
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"
]


def max_pool2d_forward(x: np.ndarray, kernel_size: tuple, stride: tuple, padding: tuple,
                       dilation: tuple, ceil_mode: bool) -> tuple:
    """Maximum over each window; padding counts as -inf (it never wins).

    Args:
        x: (N, C, H, W) float array.
        kernel_size, stride, padding, dilation: (kh, kw), (sh, sw), (ph, pw), (dh, dw).
        ceil_mode: round the output size up (see `window_output_size`).

    Returns:
        out: (N, C, OH, OW) array, and indices: (N, C, OH, OW) int64, the flat position
        h W + w in the (H, W) plane of each maximum (the first one on ties; NaN wins, as in
        PyTorch). Comparisons: N C OH OW kh kw.
    """
    n, c, h, w = x.shape
    out_size = tuple(window_output_size(x.shape[2 + a], kernel_size[a], stride[a], padding[a],
                                        dilation[a], ceil_mode) for a in range(2))
    widths = window_padding((h, w), padding, out_size, kernel_size, stride, dilation)
    cols = im2col(pad2d(x, widths, value=-np.inf), kernel_size, stride, dilation, out_size)
    cols = cols.reshape(n, c, kernel_size[0] * kernel_size[1], *out_size)
    best = np.argmax(cols, axis=2)  # first maximum; NaN counts as the maximum
    out = np.take_along_axis(cols, best[:, :, None], axis=2)[:, :, 0]
    i, j = np.divmod(best, kernel_size[1])
    rows = np.arange(out_size[0])[:, None] * stride[0] - padding[0] + i * dilation[0]
    columns = np.arange(out_size[1])[None, :] * stride[1] - padding[1] + j * dilation[1]
    return out, (rows * w + columns).astype(np.int64)


def max_pool2d_backward(grad_out: np.ndarray, indices: np.ndarray,
                        input_shape: tuple) -> np.ndarray:
    """Send each output gradient to the input element that was the maximum.

    Args:
        grad_out: (N, C, OH, OW) array.
        indices: (N, C, OH, OW) int64 from `max_pool2d_forward`.
        input_shape: (N, C, H, W).

    Returns:
        (N, C, H, W) array. Overlapping windows may pick the same element, so the gradients
        are summed (a scatter-add, done with one `bincount`).
    """
    n, c, h, w = input_shape
    plane = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
    grad = np.bincount((plane + indices).ravel(), weights=grad_out.ravel(), minlength=n * c * h * w)
    return grad.astype(grad_out.dtype, copy=False).reshape(input_shape)


def _avg_pool_divisor(input_hw, output_size, kernel_size, stride, padding, count_include_pad):
    """(OH, OW) window sizes that average pooling divides by (PyTorch's AvgPool2d kernel).

    A window counts the padding it covers when `count_include_pad`, but never the part that a
    ceil_mode window reaches past the padded input.
    """
    counts = []
    for a in range(2):
        start = np.arange(output_size[a]) * stride[a] - padding[a]
        end = np.minimum(start + kernel_size[a], input_hw[a] + padding[a])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, input_hw[a])
        counts.append(end - start)
    return np.outer(counts[0], counts[1])


def avg_pool2d_forward(x: np.ndarray, kernel_size: tuple, stride: tuple, padding: tuple,
                       ceil_mode: bool, count_include_pad: bool,
                       divisor_override: int | None) -> np.ndarray:
    """Mean over each window: the window sum (padding adds 0) over a divisor.

    Args:
        x: (N, C, H, W) float array.
        kernel_size, stride, padding: (kh, kw), (sh, sw), (ph, pw).
        ceil_mode: round the output size up.
        count_include_pad: whether zero padding counts in the divisor.
        divisor_override: if not None, divide every window sum by this instead.

    Returns:
        (N, C, OH, OW) array. FLOPs: N C OH OW kh kw additions.
    """
    out_size = tuple(window_output_size(x.shape[2 + a], kernel_size[a], stride[a], padding[a],
                                        1, ceil_mode) for a in range(2))
    widths = window_padding(x.shape[2:], padding, out_size, kernel_size, stride, (1, 1))
    sums = im2col(pad2d(x, widths), kernel_size, stride, (1, 1), out_size).sum(axis=(2, 3))
    if divisor_override:
        return sums / np.asarray(divisor_override, dtype=x.dtype)
    divisor = _avg_pool_divisor(x.shape[2:], out_size, kernel_size, stride, padding,
                                count_include_pad)
    return sums / divisor.astype(x.dtype)


def avg_pool2d_backward(grad_out: np.ndarray, input_shape: tuple, kernel_size: tuple,
                        stride: tuple, padding: tuple, ceil_mode: bool,
                        count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """Every input element of a window gets the window's gradient over its divisor.

    Args:
        grad_out: (N, C, OH, OW) array.
        input_shape: (N, C, H, W).
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: as in
            `avg_pool2d_forward`.

    Returns:
        (N, C, H, W) array.
    """
    n, c, h, w = input_shape
    out_size = grad_out.shape[2:]
    if divisor_override:
        scaled = grad_out / np.asarray(divisor_override, dtype=grad_out.dtype)
    else:
        divisor = _avg_pool_divisor((h, w), out_size, kernel_size, stride, padding,
                                    count_include_pad)
        scaled = grad_out / divisor.astype(grad_out.dtype)
    cols = np.broadcast_to(scaled[:, :, None, None], (n, c, *kernel_size, *out_size))
    widths = window_padding((h, w), padding, out_size, kernel_size, stride, (1, 1))
    return _crop(col2im(cols, _padded_shape(input_shape, widths), stride, (1, 1)), widths)


def _adaptive_bins(size: int, out: int) -> list:
    """PyTorch's adaptive bins: [floor(i size / out), ceil((i + 1) size / out)) for each i."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: tuple) -> np.ndarray:
    """Mean over bins that tile the input (overlapping when the sizes do not divide).

    Args:
        x: (N, C, H, W) float array.
        output_size: (OH, OW).

    Returns:
        (N, C, OH, OW) array. FLOPs: about N C H W additions (more when bins overlap).
    """
    out = np.empty(x.shape[:2] + tuple(output_size), dtype=x.dtype)
    for oh, (h0, h1) in enumerate(_adaptive_bins(x.shape[2], output_size[0])):
        for ow, (w0, w1) in enumerate(_adaptive_bins(x.shape[3], output_size[1])):
            out[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def adaptive_avg_pool2d_backward(grad_out: np.ndarray, input_shape: tuple) -> np.ndarray:
    """Each bin spreads its gradient evenly over its elements (summed where bins overlap).

    Args:
        grad_out: (N, C, OH, OW) array.
        input_shape: (N, C, H, W).

    Returns:
        (N, C, H, W) array.
    """
    grad = np.zeros(input_shape, dtype=grad_out.dtype)
    oh_size, ow_size = grad_out.shape[2:]
    for oh, (h0, h1) in enumerate(_adaptive_bins(input_shape[2], oh_size)):
        for ow, (w0, w1) in enumerate(_adaptive_bins(input_shape[3], ow_size)):
            count = (h1 - h0) * (w1 - w0)
            grad[:, :, h0:h1, w0:w1] += (grad_out[:, :, oh, ow] / count)[:, :, None, None]
    return grad
