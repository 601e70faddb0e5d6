"""Loss modules: the functions of `minigrad.nn.functional.loss` with their options stored.

`criterion = nn.CrossEntropyLoss(label_smoothing=0.1)` then `loss = criterion(logits, target)`
is `F.cross_entropy(logits, target, label_smoothing=0.1)`. Class weights (`weight`,
`pos_weight`) are registered as buffers, as in PyTorch, so they appear in the state dict and
follow `module.to(dtype)`.

Deviation from PyTorch (as in the functional API): the deprecated `size_average` and
`reduce` arguments are left out, and every argument after `weight` is keyword-only, so a
PyTorch call that passed `size_average` by position fails instead of binding the wrong
argument. The reduction is checked when the loss is built, not at its first call.
"""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.functional._utils import REDUCTIONS, check_reduction
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class _Loss(Module):
    _reductions = REDUCTIONS

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    Args:
        weight: (C,) rescaling of each class (a buffer), or None.
        ignore_index: index targets equal to it are skipped.
        reduction: 'mean', 'sum' or 'none'.
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) target + eps / C.

    Shapes:
        input (N, C) or (N, C, d1, ...) or (C,); target (N,) or (N, d1, ...) int64, or
        class probabilities of the input's shape. Output: a scalar, or per-position losses
        for reduction='none'.
    """

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, given log-probabilities.

    Args:
        weight: (C,) rescaling of each class (a buffer), or None.
        ignore_index: targets equal to it are skipped.
        reduction: 'mean' (weighted average), 'sum' or 'none'.

    Shapes:
        input (N, C) or (N, C, d1, ...) or (C,); target (N,) or (N, d1, ...) int64.
    """

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (input - target)^2, reduced by 'mean', 'sum' or 'none'.

    Shapes:
        input `(*)`, target broadcastable to it (a warning if the shapes differ).
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |input - target|, reduced by 'mean', 'sum' or 'none'.

    Shapes:
        input `(*)`, target broadcastable to it (a warning if the shapes differ).
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(input) against target, computed stably from logits.

    Args:
        weight: rescaling of each element's loss, broadcastable to the input (a buffer).
        reduction: 'mean', 'sum' or 'none'.
        pos_weight: weight of the positive term per class, broadcastable along the last
            dimension (a buffer), or None.

    Shapes:
        input `(*)` logits, target `(*)` in [0, 1].
    """

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence KL(target || q), given input = log q.

    Args:
        reduction: 'batchmean' (the true KL divergence per example), 'sum', 'none', or
            'mean' (divides by the number of elements; warns at each call, as PyTorch).
        log_target: whether the target holds log-probabilities.

    Shapes:
        input (N, *) log-probabilities, target of the same shape.
    """

    _reductions = REDUCTIONS + ("batchmean",)

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
