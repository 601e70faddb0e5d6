"""Normalisation layers: `BatchNorm1d`, `BatchNorm2d` and `LayerNorm`.

Batch norm has two behaviours. In training it normalises each channel with the statistics of
the current batch and folds them into running estimates (buffers, saved in the state dict
but not trained):

    running = (1 - momentum) running + momentum batch_statistic

with momentum=None meaning a cumulative average (momentum = 1 / num_batches_tracked). The
running variance uses the unbiased batch variance. In evaluation (`model.eval()`) it
normalises with the running estimates, so one example's output no longer depends on the
rest of its batch. Layer norm normalises each example over its last dimensions and behaves
the same in both modes. The math is in `minigrad.nn.functional.normalization`.
"""

from __future__ import annotations

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter, factory_dtype
from minigrad.tensor import Tensor


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks allowed."""

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        np_dtype = factory_dtype(dtype, device, type(self).__name__)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(Tensor._wrap(np.empty((num_features,), np_dtype)))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(Tensor._wrap(np.empty((num_features,), np_dtype)))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(num_features, np_dtype)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(num_features, np_dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and the affine weight to 1 and bias to 0."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {ranks} input (got {input.ndim}D "
                             f"input of shape {input.shape})")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics in training, and in evaluation too if there are no running ones.
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs (Ioffe & Szegedy 2015).

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for numerical stability.
        momentum: weight of the newest batch in the running statistics; None for a
            cumulative average.
        affine: learn a per-channel scale `weight` (init 1) and shift `bias` (init 0).
        track_running_stats: keep running statistics (buffers `running_mean`,
            `running_var` and the int64 counter `num_batches_tracked`); without them the
            batch statistics are used in evaluation too.
        device: None or "cpu".
        dtype: floating point dtype of parameters and running statistics (default float32).
        bias: with affine, also learn the shift (keyword only).

    Shapes:
        input (N, C) or (N, C, L) -> output of the same shape.

    Raises:
        ValueError: input of another rank (at forward).
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, statistics per channel over N, H and W.

    Arguments as `BatchNorm1d`.

    Shapes:
        input (N, C, H, W) -> output of the same shape.

    Raises:
        ValueError: input that is not 4-D (at forward).
    """

    _ranks = (4,)


class LayerNorm(Module):
    """Layer normalisation over the last dimensions of each example (Ba et al. 2016).

    Args:
        normalized_shape: int or tuple, the trailing shape to normalise over.
        eps: added to the variance for numerical stability.
        elementwise_affine: learn `weight` (init 1) and `bias` (init 0) of that shape.
        bias: with elementwise_affine, also learn the bias.
        device: None or "cpu".
        dtype: the parameters' floating point dtype (default float32).

    Shapes:
        input `(*, *normalized_shape)` -> output of the same shape.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        np_dtype = factory_dtype(dtype, device, "LayerNorm")
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(Tensor._wrap(np.empty(self.normalized_shape, np_dtype)))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(Tensor._wrap(np.empty(self.normalized_shape, np_dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0: the layer starts as a plain normalisation."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
