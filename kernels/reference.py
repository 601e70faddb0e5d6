"""Plain-NumPy reference kernels: the specification every fast kernel must match.

Arrays in, arrays out; nothing here imports minigrad. Each forward returns what its backward
needs beyond the inputs (max-pool indices, normalisation statistics, attention weights), so
an autograd `Function` saves exactly those. The Numba (`kernels/cpu`) and CUDA (`kernels/cuda`)
kernels keep these names and signatures.

Conventions in the docstrings: `N` batch, `C` channels, `H, W` input height and width,
`OH, OW` output height and width, `kh, kw` kernel size, `G` groups. The FLOP counts count a
multiply-add as 2 FLOPs and leave out O(output size) terms such as adding a bias.

Window ops (convolution, pooling) share one loop nest, `im2col`/`col2im`: instead of looping
over output pixels, loop over the kh*kw kernel offsets, and at each offset copy one strided
slice of the padded input, vectorised over N, C, OH, OW (Chellapilla et al., "High Performance
Convolutional Neural Networks for Document Processing", 2006, Sec. 2.1). A convolution is then
one matrix product, and its backward is the transposed copy (`col2im`) of another one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# -- window geometry and im2col ---------------------------------------------------------------


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


def channel_sum(subscripts: str, *operands: np.ndarray) -> np.ndarray:
    """`np.einsum(subscripts, *operands)` accumulated in at least float32.

    The normalisations and softmax take their sums with einsum (one pass, several times
    faster than `ndarray.sum` over strided axes); einsum accumulates in the operands' dtype,
    so float16 inputs are summed in float32, as `ndarray.mean` and PyTorch do, then cast back.
    """
    dtype = operands[0].dtype
    if dtype == np.float16:
        return np.einsum(subscripts, *operands, dtype=np.float32).astype(dtype)
    return np.einsum(subscripts, *operands)


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


# -- convolution --------------------------------------------------------------------------------


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: tuple,
                   padding: tuple, dilation: tuple, groups: int,
                   depthwise_forward: Callable | None = None) -> np.ndarray:
    """2-D cross-correlation (what deep learning calls convolution), via im2col + matmul.

    out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] xp[n, g C/G + c, y sh + i dh,
    x sw + j dw], where g = o // (Cout / G) is the group of output channel o.

    Args:
        x: (N, C, H, W) float array.
        weight: (Cout, C / G, kh, kw) array of the same dtype.
        bias: (Cout,) array or None.
        stride, padding, dilation: (sh, sw), (ph, pw), (dh, dw) ints; padding is symmetric.
        groups: G; C and Cout are multiples of G.
        depthwise_forward: the kernel for the depthwise case (groups = C = Cout), with the
            signature of `depthwise_conv2d_forward` (the default): how a faster backend's
            kernel takes over that case while the padding and bias stay here.

    Returns:
        (N, Cout, OH, OW) array. FLOPs: 2 N Cout OH OW (C / G) kh kw.
    """
    n, c = x.shape[:2]
    c_out, c_group, kh, kw = weight.shape
    out_size = _conv_geometry(x.shape, weight.shape, stride, padding, dilation)
    widths = window_padding(x.shape[2:], padding, out_size, (kh, kw), stride, dilation)
    if _is_pointwise(weight, stride, widths, groups):
        out = np.matmul(weight.reshape(c_out, c), x.reshape(n, c, -1)).reshape(n, c_out, *out_size)
    elif _is_depthwise(weight, groups, c):
        out = (depthwise_forward or depthwise_conv2d_forward)(pad2d(x, widths), weight, stride,
                                                              dilation, out_size)
    else:
        out = _grouped_conv2d_im2col(x, weight, widths, stride, dilation, groups, out_size)
    if bias is not None:
        out += bias.reshape(1, c_out, 1, 1)
    return out


def _is_pointwise(weight: np.ndarray, stride: tuple, widths: tuple, groups: int) -> bool:
    """A 1x1 convolution without stride or padding is one matrix product per image."""
    return (weight.shape[2:] == (1, 1) and tuple(stride) == (1, 1) and groups == 1
            and tuple(map(tuple, widths)) == ((0, 0), (0, 0)))


def _is_depthwise(weight: np.ndarray, groups: int, channels: int) -> bool:
    """One filter per input channel (groups = C = Cout): MobileNet's depthwise convolution."""
    return groups == channels and weight.shape[:2] == (channels, 1)


def _window(xp: np.ndarray, i: int, j: int, stride: tuple, dilation: tuple,
            out_size: tuple) -> np.ndarray:
    """The (N, C, OH, OW) view of the padded input that kernel tap (i, j) multiplies."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_size
    return xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]


def depthwise_conv2d_forward(xp: np.ndarray, weight: np.ndarray, stride: tuple,
                             dilation: tuple, out_size: tuple) -> np.ndarray:
    """Depthwise convolution as a sum over the kh kw kernel taps of shifted input windows.

    out[n, c] = sum_{i, j} weight[c, 0, i, j] xp[n, c, i dh + sh y, j dw + sw x]. With one
    filter per channel there is no channel sum to turn into a matrix product, so im2col would
    copy kh kw times the input only to multiply it by a (1, kh kw) row; summing the kh kw
    shifted views in place reads the input kh kw times and writes nothing extra.

    Args:
        xp: (N, C, Hp, Wp) padded input. weight: (C, 1, kh, kw). out_size: (OH, OW).

    Returns:
        (N, C, OH, OW) array. FLOPs: 2 N C OH OW kh kw.
    """
    n, c = xp.shape[:2]
    kh, kw = weight.shape[2:]
    out = np.zeros((n, c, *out_size), dtype=xp.dtype)
    scratch = np.empty_like(out)
    for i in range(kh):
        for j in range(kw):
            np.multiply(_window(xp, i, j, stride, dilation, out_size),
                        weight[:, 0, i, j].reshape(1, c, 1, 1), out=scratch)
            out += scratch
    return out


def _grouped_conv2d_im2col(x, weight, widths, stride, dilation, groups, out_size):
    n = x.shape[0]
    c_out, c_group, kh, kw = weight.shape
    cols = im2col(pad2d(x, widths), (kh, kw), stride, dilation, out_size)
    cols = cols.reshape(n, groups, c_group * kh * kw, out_size[0] * out_size[1])
    w = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    return np.matmul(w, cols).reshape(n, c_out, *out_size)  # (G, Co/G, K) @ (N, G, K, L)


def conv2d_backward(grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, stride: tuple,
                    padding: tuple, dilation: tuple, groups: int,
                    needs_input_grad: tuple = (True, True, True),
                    depthwise_backward: Callable | None = None) -> tuple:
    """Gradients of `conv2d_forward` with respect to x, weight and bias.

    With cols = im2col(x) as (N, G, K, L) and g = grad_out as (N, G, Cout/G, L):
    dweight = sum_n g cols^T, dcols = weight^T g, dx = col2im(dcols), dbias = sum of g over
    N, OH, OW. im2col is recomputed from x rather than saved by the forward: it costs one
    copy of kh kw times the input, which is cheaper to redo than to keep alive.

    Args:
        grad_out: (N, Cout, OH, OW) array.
        x: (N, C, H, W) array, the forward input.
        weight: (Cout, C / G, kh, kw) array.
        stride, padding, dilation, groups: as in `conv2d_forward`.
        needs_input_grad: (x, weight, bias) flags; a gradient not needed is returned as None.
        depthwise_backward: the kernel for the depthwise case, with the signature of
            `depthwise_conv2d_backward` (the default).

    Returns:
        (grad_x (N, C, H, W) or None, grad_weight like weight or None, grad_bias (Cout,) or
        None). FLOPs: 2 N Cout OH OW (C / G) kh kw for each of grad_x and grad_weight.
    """
    n, c, h, w_in = x.shape
    c_out, c_group, kh, kw = weight.shape
    out_size = grad_out.shape[2:]
    k, length = c_group * kh * kw, out_size[0] * out_size[1]
    g = grad_out.reshape(n, groups, c_out // groups, length)
    widths = window_padding((h, w_in), padding, out_size, (kh, kw), stride, dilation)
    grad_x = grad_w = grad_b = None
    if needs_input_grad[2]:
        grad_b = grad_out.sum(axis=(0, 2, 3))
    if _is_pointwise(weight, stride, widths, groups):
        g = grad_out.reshape(n, c_out, length)
        if needs_input_grad[1]:  # sum over images and pixels of g x^T: one GEMM
            grad_w = np.tensordot(g, x.reshape(n, c, length), axes=([0, 2], [0, 2]))
            grad_w = grad_w.reshape(weight.shape)
        if needs_input_grad[0]:
            grad_x = np.matmul(weight.reshape(c_out, c).T, g).reshape(x.shape)
        return grad_x, grad_w, grad_b
    if _is_depthwise(weight, groups, c):
        grad_x, grad_w = (depthwise_backward or depthwise_conv2d_backward)(
            grad_out, pad2d(x, widths), weight, stride, dilation, needs_input_grad[:2])
        if grad_x is not None:
            grad_x = _crop(grad_x, widths)
        return grad_x, grad_w, grad_b
    if needs_input_grad[1]:
        cols = im2col(pad2d(x, widths), (kh, kw), stride, dilation, out_size)
        cols = cols.reshape(n, groups, k, length)
        # contract over batch and pixels at once: (G, Co/G, N L) @ (G, N L, K)
        g_flat = g.transpose(1, 2, 0, 3).reshape(groups, c_out // groups, n * length)
        cols_flat = cols.transpose(1, 0, 3, 2).reshape(groups, n * length, k)
        grad_w = np.matmul(g_flat, cols_flat).reshape(weight.shape)
    if needs_input_grad[0]:
        w = weight.reshape(groups, c_out // groups, k)
        dcols = np.matmul(w.transpose(0, 2, 1), g)  # (G, K, Co/G) @ (N, G, Co/G, L)
        dcols = dcols.reshape(n, c, kh, kw, *out_size)
        grad_x = _crop(col2im(dcols, _padded_shape(x.shape, widths), stride, dilation), widths)
    return grad_x, grad_w, grad_b


def depthwise_conv2d_backward(grad_out: np.ndarray, xp: np.ndarray, weight: np.ndarray,
                              stride: tuple, dilation: tuple,
                              needs_input_grad: tuple = (True, True)) -> tuple:
    """Gradients of `depthwise_conv2d_forward`, tap by tap.

    For tap (i, j) with input view V_ij: dweight[c, 0, i, j] = sum_{n, y, x} g V_ij, and
    V_ij's region of the padded input's gradient gains weight[c, 0, i, j] g.

    Args:
        grad_out: (N, C, OH, OW). xp: (N, C, Hp, Wp) padded forward input. weight: (C, 1, kh,
            kw). needs_input_grad: (input, weight) flags.

    Returns:
        (grad_xp (N, C, Hp, Wp) or None, grad_weight like weight or None).
    """
    c = xp.shape[1]
    kh, kw = weight.shape[2:]
    out_size = grad_out.shape[2:]
    grad_xp = np.zeros_like(xp) if needs_input_grad[0] else None
    grad_w = np.empty_like(weight) if needs_input_grad[1] else None
    for i in range(kh):
        for j in range(kw):
            if grad_w is not None:
                view = _window(xp, i, j, stride, dilation, out_size)
                grad_w[:, 0, i, j] = channel_sum("ncyx,ncyx->c", grad_out, view)
            if grad_xp is not None:
                _window(grad_xp, i, j, stride, dilation, out_size)[...] += (
                    grad_out * weight[:, 0, i, j].reshape(1, c, 1, 1))
    return grad_xp, grad_w


# -- pooling ------------------------------------------------------------------------------------


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


# -- normalisation ------------------------------------------------------------------------------




def _normalized_input_grad(g_hat: np.ndarray, x_hat: np.ndarray, rstd: np.ndarray,
                           axes: tuple) -> np.ndarray:
    """dL/dx of x_hat = (x - mean) rstd, given g_hat = dL/dx_hat, with statistics over `axes`.

    dx = rstd (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)): the two means are the paths
    through the mean and through the variance (Ioffe & Szegedy 2015, Sec. 3, the chain rule
    for BatchNorm, simplified; the same algebra gives LayerNorm's backward, Ba et al. 2016).
    """
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * x_hat).mean(axis=axes, keepdims=True)
    return rstd * (g_hat - mean_g - x_hat * mean_gx)


def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       eps: float) -> tuple:
    """Normalise each row to zero mean and unit variance, then scale and shift.

    y = (x - mean) rstd weight + bias, rstd = 1 / sqrt(var + eps), var biased (divides by D).

    Args:
        x: (M, D) float array: M rows, each normalised over its D elements.
        weight, bias: (D,) arrays or None.
        eps: added to the variance.

    Returns:
        y: (M, D); mean, rstd: (M, 1), what the backward needs. FLOPs: about 8 M D.
    """
    # row sums with einsum: 4x faster than x.mean(axis=1) on (2048, 96) float32
    mean = channel_sum("md->m", x).reshape(-1, 1) / x.shape[1]
    y = x - mean                                   # centred; then scaled in place
    variance = channel_sum("md,md->m", y, y).reshape(-1, 1) / x.shape[1]
    rstd = 1 / np.sqrt(variance + eps)
    y *= rstd
    if weight is not None:
        y *= weight
    if bias is not None:
        y += bias
    return y, mean, rstd


def layer_norm_backward(grad_out: np.ndarray, x: np.ndarray, mean: np.ndarray, rstd: np.ndarray,
                        weight: np.ndarray | None) -> tuple:
    """Gradients of `layer_norm_forward`, in one pass (see `_normalized_input_grad`).

    Args:
        grad_out, x: (M, D) arrays. mean, rstd: (M, 1) arrays from the forward.
        weight: (D,) array or None.

    Returns:
        (grad_x (M, D), grad_weight (D,), grad_bias (D,)); the last two are computed even when
        weight/bias were None (the caller drops them). FLOPs: about 10 M D.
    """
    x_hat = x - mean
    x_hat *= rstd
    grad_weight = channel_sum("md,md->d", grad_out, x_hat)
    grad_bias = grad_out.sum(axis=0)
    # _normalized_input_grad, with its two row means taken once and the rest in place
    g_hat = grad_out * weight if weight is not None else grad_out.copy()
    mean_g = channel_sum("md->m", g_hat).reshape(-1, 1) / x.shape[1]
    mean_gx = channel_sum("md,md->m", g_hat, x_hat).reshape(-1, 1) / x.shape[1]
    x_hat *= mean_gx
    g_hat -= mean_g
    g_hat -= x_hat
    g_hat *= rstd
    return g_hat, grad_weight, grad_bias


def batch_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       running_mean: np.ndarray | None, running_var: np.ndarray | None,
                       training: bool, momentum: float, eps: float) -> tuple:
    """Normalise each channel over the batch and spatial axes, then scale and shift.

    In training the statistics are the batch's (biased variance, dividing by m = N L), and
    the running estimates are updated in place: r <- (1 - momentum) r + momentum s, with the
    *unbiased* variance (dividing by m - 1), exactly as PyTorch. In evaluation the running
    estimates normalise.

    Args:
        x: (N, C, L) float array (L = product of the spatial sizes, 1 for (N, C) input).
        weight, bias: (C,) arrays or None.
        running_mean, running_var: (C,) arrays or None; updated in place when training.
        training: use batch statistics (and update the running ones).
        momentum: weight of the new batch statistics in the running update.
        eps: added to the variance.

    Returns:
        y: (N, C, L); mean, rstd: (1, C, 1), the statistics used. FLOPs: about 8 N C L.
    """
    c = x.shape[1]
    if training:
        # per-channel sums with einsum: NumPy's x.sum(axis=(0, 2)) walks the strided axes
        # several times slower than einsum's single pass
        m = x.shape[0] * x.shape[2]
        mean = (channel_sum("ncl->c", x) / m).reshape(1, c, 1)
        centred = x - mean
        var = (channel_sum("ncl,ncl->c", centred, centred) / m).reshape(1, c, 1)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean.reshape(-1)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var.reshape(-1) * (m / (m - 1))
    else:
        mean = running_mean.reshape(1, -1, 1).astype(x.dtype, copy=False)
        var = running_var.reshape(1, -1, 1).astype(x.dtype, copy=False)
        centred = x - mean
    rstd = 1 / np.sqrt(var + eps)
    # y = (x - mean) rstd weight + bias, with rstd weight folded into one per-channel scale
    scale = rstd * weight.reshape(1, c, 1) if weight is not None else rstd
    y = np.multiply(centred, scale, out=centred)
    if bias is not None:
        y += bias.reshape(1, c, 1)
    return y, mean, rstd


def batch_norm_backward(grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray | None,
                        mean: np.ndarray, rstd: np.ndarray, training: bool) -> tuple:
    """Gradients of `batch_norm_forward`.

    In training the statistics depend on x, so grad_x has the two extra mean terms of
    `_normalized_input_grad` (over N and L); in evaluation they are constants and
    grad_x = grad_out weight rstd. The two means of `_normalized_input_grad` are, per
    channel, weight times the bias and weight gradients divided by m = N L, so each sum over
    the batch is taken once.

    Args:
        grad_out, x: (N, C, L) arrays.
        weight: (C,) array or None.
        mean, rstd: (1, C, 1) arrays from the forward.
        training: the forward's `training`.

    Returns:
        (grad_x (N, C, L), grad_weight (C,), grad_bias (C,)). FLOPs: about 10 N C L.
    """
    c = x.shape[1]
    m = x.shape[0] * x.shape[2]
    x_hat = x - mean
    x_hat *= rstd
    grad_bias = channel_sum("ncl->c", grad_out)
    grad_weight = channel_sum("ncl,ncl->c", grad_out, x_hat)
    scale = rstd * weight.reshape(1, c, 1) if weight is not None else rstd
    if not training:
        return grad_out * scale, grad_weight, grad_bias
    # dx = w rstd (g - mean(g) - x_hat mean(g x_hat)), the means over N and L
    x_hat *= (grad_weight / m).reshape(1, c, 1)
    grad_x = grad_out - (grad_bias / m).reshape(1, c, 1)
    grad_x -= x_hat
    grad_x *= scale
    return grad_x, grad_weight, grad_bias


# -- attention ----------------------------------------------------------------------------------


def safe_softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along `axis` that gives 0 (not NaN) for a row whose entries are all -inf.

    Subtracting the row maximum keeps exp from overflowing; a fully masked row has maximum
    -inf, which is replaced by 0 so that exp(-inf - 0) = 0 and the row sums to 0.

    Args:
        scores: float array of any shape.
        axis: the axis to normalise.

    Returns:
        array of the same shape; rows sum to 1, or to 0 where fully masked.
    """
    return _softmax_in_place(np.array(scores, copy=True), axis)


def _softmax_in_place(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """`safe_softmax` written into `scores` itself: no temporary of the scores' size."""
    top = np.max(scores, axis=axis, keepdims=True)
    top[~np.isfinite(top)] = 0
    scores -= top
    np.exp(scores, out=scores)
    total = (channel_sum("...s->...", scores)[..., None] if axis in (-1, scores.ndim - 1)
             else np.sum(scores, axis=axis, keepdims=True))
    total[total == 0] = 1
    scores /= total
    return scores


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None,
                      scale: float, dropout_mask: np.ndarray | None) -> tuple:
    """Scaled dot-product attention, materialising the (L, S) weights (Vaswani et al. 2017).

    P = safe_softmax(q k^T scale + bias); out = (P * dropout_mask) v.

    Args:
        q: (..., L, E) float array. k: (..., S, E). v: (..., S, Ev). Batch axes broadcast.
        bias: array broadcastable to (..., L, S) added to the scores (-inf masks a pair),
            or None.
        scale: multiplies q k^T (usually 1 / sqrt(E)).
        dropout_mask: array broadcastable to (..., L, S) of 0 and 1 / (1 - p), or None.

    Returns:
        out: (..., L, Ev), and probs: (..., L, S), the attention weights before dropout
        (rows of zeros where every key is masked). FLOPs: 2 B L S (E + Ev), B = batch size.
    """
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= np.asarray(scale, dtype=q.dtype)
    if bias is not None:
        scores = scores + bias  # not in place: a bias may broadcast scores to a larger shape
    probs = _softmax_in_place(scores)
    dropped = probs if dropout_mask is None else probs * dropout_mask
    return np.matmul(dropped, v), probs


def attention_backward(grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                       probs: np.ndarray, scale: float, dropout_mask: np.ndarray | None) -> tuple:
    """Gradients of `attention_forward` with respect to q, k, v and the bias.

    With D = dropout_mask (1 if None) and G = grad_out: dv = (P D)^T G; dP = (G v^T) D;
    the softmax backward dS = P (dP - rowsum(dP P)); dq = dS k scale; dk = dS^T q scale.
    The bias is added to the scores, so its gradient is dS itself. Fully masked rows have
    P = 0, so they pass no gradient.

    Args:
        grad_out: (..., L, Ev) array. q, k, v: as in `attention_forward`.
        probs: (..., L, S) array from the forward.
        scale, dropout_mask: as in the forward.

    Returns:
        (dq, dk, dv, dbias) with the broadcast batch shape, dbias (..., L, S) (sum over
        broadcast axes to get the inputs' shapes). FLOPs: 4 B L S (E + Ev).
    """
    dropped = probs if dropout_mask is None else probs * dropout_mask
    dv = np.matmul(np.swapaxes(dropped, -1, -2), grad_out)
    d_scores = np.matmul(grad_out, np.swapaxes(v, -1, -2))   # dP, then dS in place
    if dropout_mask is not None:
        d_scores = d_scores * dropout_mask
    row = channel_sum("...ls,...ls->...l", d_scores, probs)[..., None]
    d_scores -= row
    d_scores *= probs
    # scale the (L, E) products rather than the (L, S) scores: fewer multiplications
    scale = np.asarray(scale, dtype=d_scores.dtype)
    dq = np.matmul(d_scores, k)
    dq *= scale
    dk = np.matmul(np.swapaxes(d_scores, -1, -2), q)
    dk *= scale
    return dq, dk, dv, d_scores
