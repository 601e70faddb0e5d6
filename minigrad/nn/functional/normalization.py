"""Layer normalisation and batch normalisation, each one Function with a fused backward.

Both compute x_hat = (x - mean) / sqrt(var + eps) and y = x_hat weight + bias; they differ in
which elements share a mean and variance:

- layer norm (Ba, Kiros & Hinton 2016): the last len(normalized_shape) dimensions of each
  example, so it behaves the same in training and evaluation;
- batch norm (Ioffe & Szegedy 2015): each channel, over the batch and spatial dimensions.
  In training it normalises with the batch's statistics (biased variance) and updates the
  running estimates in place with the unbiased variance, m / (m - 1) times the biased one
  (m = number of elements per channel); in evaluation it normalises with the running ones.

Written as a chain of ops, the backward would walk ~10 nodes and keep their intermediates.
Derived by hand (Ioffe & Szegedy 2015, Sec. 3) it is one pass: with g_hat = dL/dy weight,
dL/dx = rstd (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)), the means taken over the
normalised elements; dL/dweight = sum(dL/dy x_hat), dL/dbias = sum(dL/dy). The arithmetic
lives in the kernels: layer norm's is `kernel("layer_norm_forward")` and
`kernel("layer_norm_backward")`, chosen by `minigrad.backend` (the NumPy reference or the
Numba kernels of `kernels.cpu.fused`); batch norm's is `kernels.reference`'s.
"""

from __future__ import annotations

import math

from kernels import reference
from minigrad.autograd.function import Function
from minigrad.backend import kernel
from minigrad.nn.functional._utils import array, check_float, check_same_dtype
from minigrad.tensor import Tensor


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        size = math.prod(normalized_shape)
        rows = x.reshape(-1, size)
        flat_weight = None if weight is None else weight.reshape(size)
        flat_bias = None if bias is None else bias.reshape(size)
        y, mean, rstd = kernel("layer_norm_forward")(rows, flat_weight, flat_bias, eps)
        ctx.normalized_shape = normalized_shape
        ctx.save_for_backward(x, weight, mean, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved_tensors
        shape = ctx.normalized_shape
        size = math.prod(shape)
        flat_weight = None if weight is None else weight.reshape(size)
        grad_x, grad_w, grad_b = kernel("layer_norm_backward")(
            grad.reshape(-1, size), x.reshape(-1, size), mean, rstd, flat_weight)
        return (grad_x.reshape(x.shape) if ctx.parents[0] is not None else None,
                grad_w.reshape(shape) if ctx.parents[1] is not None else None,
                grad_b.reshape(shape) if ctx.parents[2] is not None else None)


class BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        y, mean, rstd = reference.batch_norm_forward(flat, weight, bias, running_mean,
                                                     running_var, training, momentum, eps)
        ctx.training = training
        ctx.save_for_backward(x, weight, mean, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved_tensors
        shape = (x.shape[0], x.shape[1], -1)
        grad_x, grad_w, grad_b = reference.batch_norm_backward(
            grad.reshape(shape), x.reshape(shape), weight, mean, rstd, ctx.training)
        return (grad_x.reshape(x.shape) if ctx.parents[0] is not None else None,
                grad_w if ctx.parents[1] is not None else None,
                grad_b if ctx.parents[2] is not None else None)


def layer_norm(input: Tensor, normalized_shape: int | tuple[int, ...],
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last dimensions: (x - mean) / sqrt(var + eps) * weight + bias.

    The variance is the biased one (divides by the number of normalised elements).

    Args:
        input: (*, *normalized_shape) float tensor.
        normalized_shape: int or tuple of ints, the trailing shape to normalise over.
        weight: tensor of shape normalized_shape (elementwise scale), or None.
        bias: tensor of shape normalized_shape (elementwise shift), or None.
        eps: added to the variance for numerical stability.

    Returns:
        A tensor of the input's shape.

    Raises:
        RuntimeError: the input does not end in normalized_shape, or weight/bias have
            another shape or dtype.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    check_float(input, "input", "layer_norm")
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise RuntimeError(f"layer_norm: given normalized_shape={shape}, expected input with "
                           f"shape (*, {', '.join(map(str, shape))}), got {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape normalized_shape={shape}, "
                               f"got {t.shape}")
        check_same_dtype(input, t, f"input and {name}", "layer_norm")
    return LayerNorm.apply(input, weight, bias, shape, eps)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel with batch statistics (training) or running ones (evaluation).

    Args:
        input: (N, C), (N, C, L) or (N, C, H, W) float tensor (any (N, C, *)).
        running_mean: (C,) tensor, updated in place when training (None: not tracked).
        running_var: (C,) tensor, updated in place with the unbiased batch variance when
            training (None: not tracked).
        weight: (C,) scale, or None.
        bias: (C,) shift, or None.
        training: use (and track) the batch statistics instead of the running ones.
        momentum: running = (1 - momentum) running + momentum batch_statistic.
        eps: added to the variance for numerical stability.

    Returns:
        A tensor of the input's shape.

    Raises:
        ValueError: training with a single value per channel.
        RuntimeError: fewer than 2 dimensions, a (C,) argument of another size, or missing
            running statistics in evaluation.
    """
    check_float(input, "input", "batch_norm")
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm: expected input of shape (N, C, *) with at least 2 "
                           f"dimensions, got {input.shape}")
    channels = input.shape[1]
    per_channel = input.data.size // max(channels, 1)
    if training and per_channel <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be given in "
                           "evaluation mode (training=False)")
    args = (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
            ("bias", bias))
    for name, t in args:
        if t is not None and tuple(array(t).shape) != (channels,):
            raise RuntimeError(f"batch_norm: {name} should have shape ({channels},) for input of "
                               f"shape {input.shape}, got {tuple(array(t).shape)}")
    check_same_dtype(input, weight, "input and weight", "batch_norm")
    check_same_dtype(input, bias, "input and bias", "batch_norm")
    out = BatchNorm.apply(input, weight, bias, array(running_mean) if running_mean is not None
                          else None, array(running_var) if running_var is not None else None,
                          training, momentum, eps)
    if training:
        for t in (running_mean, running_var):
            if isinstance(t, Tensor):
                t._bump_version()  # written in place by the kernel
    return out
