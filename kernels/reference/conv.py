"""Convolution: im2col plus one matrix product, with fast paths for pointwise (1x1) and
depthwise convolutions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernels.reference.sums import channel_sum
from kernels.reference.window import (_conv_geometry, _crop, _padded_shape, col2im, im2col, pad2d,
                                       window_padding)

__all__ = [
    "conv2d_forward", "depthwise_conv2d_forward", "conv2d_backward",
    "depthwise_conv2d_backward"
]


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
