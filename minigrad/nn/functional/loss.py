"""Loss functions: cross-entropy and NLL, MSE and L1, binary cross-entropy on logits, KL.

Classification losses work on log-probabilities made by `log_softmax`, never on log(softmax):
log_softmax(x) = x - max(x) - log(sum(exp(x - max(x)))) stays finite for logits of any size,
while softmax underflows to 0 (and log(0) = -inf) once two logits differ by more than ~100.

- `nll_loss`: -weight[t] log p[t] per target, one `Function`. Its gradient is -weight[t] at
  the target class and 0 elsewhere. 'mean' divides by the *sum of the weights* of the
  targets that are not ignored (so it is a weighted average), as PyTorch does.
- `cross_entropy` = `nll_loss(log_softmax(x))`. Together their gradient is the familiar
  softmax(x) - onehot(t). Label smoothing (Szegedy et al. 2016, "Rethinking the Inception
  Architecture", Sec. 7) mixes the one-hot target with the uniform distribution:
  (1 - eps) nll + eps / C sum_c -w_c log p_c, reduced exactly as PyTorch's
  `cross_entropy_loss_label_smoothing` (LossNLL.cpp) does. When the backend runs the Numba
  kernel `cross_entropy_forward` (see `minigrad.backend`), class-index targets without class
  weights take one fused `CrossEntropy` Function instead: one pass over the logits forward
  and one backward, and no (N, C) log-probabilities kept for the backward.
- `binary_cross_entropy_with_logits`: for logit x, target y and pos_weight p,
  loss = (1 - y) x + (1 + (p - 1) y) softplus(-x), with softplus(-x) = max(-x, 0) +
  log1p(exp(-|x|)), finite for any x. d loss / dx = (1 - y) - (1 + (p - 1) y) sigmoid(-x),
  which is sigmoid(x) - y without pos_weight.
- `kl_div(input, target)` with input = log q: sum target (log target - input) (0 where
  target = 0, by the convention 0 log 0 = 0).

Deviation from PyTorch: the deprecated `size_average` and `reduce` arguments are left out, and
the arguments that come after them in PyTorch's signatures are keyword-only, so a call written
for PyTorch that passes them by position fails loudly instead of binding the wrong one.
"""

from __future__ import annotations

import warnings

import numpy as np

from minigrad.autograd.function import Function
from minigrad.backend import kernel, uses_numba
from minigrad.nn.functional._utils import REDUCTIONS, array, check_float, check_reduction, reduce
from minigrad.ops.indexing import where
from minigrad.ops.pointwise import stable_sigmoid
from minigrad.ops.softmax_ops import log_softmax
from minigrad.tensor import Tensor


class NLLLoss(Function):
    @staticmethod
    def forward(ctx, log_probs, target, weight, ignore_index, reduction):
        axis = 0 if log_probs.ndim == 1 else 1
        ignored = target == ignore_index
        safe = np.where(ignored, 0, target)  # any valid class; its weight is zeroed below
        w = np.where(ignored, 0, 1 if weight is None else weight[safe]).astype(log_probs.dtype)
        safe_target = np.expand_dims(safe, axis)
        losses = -w * np.take_along_axis(log_probs, safe_target, axis).squeeze(axis)
        ctx.axis, ctx.shape, ctx.reduction = axis, log_probs.shape, reduction
        ctx.save_for_backward(safe_target, w, ignored)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        ctx.total = w.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: 0 / 0 = nan
            return np.asarray(losses.sum() / ctx.total, dtype=log_probs.dtype)

    @staticmethod
    def backward(ctx, grad):
        safe_target, w, ignored = ctx.saved_tensors
        # an ignored target passes no gradient, even when all are and the mean is 0 / 0 = NaN
        # (PyTorch skips them); a kept target of weight 0 with a total of 0 gets NaN, as there
        with np.errstate(invalid="ignore", divide="ignore"):
            if ctx.reduction == "mean":
                grad = grad / ctx.total
            coefficient = np.where(ignored, 0, -w * grad)
        grad_input = np.zeros(ctx.shape, dtype=grad.dtype)
        np.put_along_axis(grad_input, safe_target, np.expand_dims(coefficient, ctx.axis),
                          ctx.axis)
        return grad_input


class CrossEntropy(Function):
    """Cross-entropy of class-index targets without class weights, as one fused kernel.

    The logits (C,), (N, C) or (N, C, d1, ...) are viewed as rows (N d1 ..., C), the class
    dimension moved last; `cross_entropy_forward` gives each row's loss and log-sum-exp, and
    the backward recomputes softmax(x) - q from them (q the smoothed one-hot target).
    """

    @staticmethod
    def forward(ctx, logits, target, ignore_index, reduction, label_smoothing):
        ctx.axis = 0 if logits.ndim == 1 else 1
        moved = np.moveaxis(logits, ctx.axis, -1)  # a view; reshaping copies only for d1...
        rows, targets = moved.reshape(-1, logits.shape[ctx.axis]), target.reshape(-1)
        losses, lse = kernel("cross_entropy_forward")(rows, targets, ignore_index,
                                                      label_smoothing)
        ctx.save_for_backward(rows, targets, lse)
        ctx.moved_shape, ctx.reduction = moved.shape, reduction
        ctx.ignore_index, ctx.label_smoothing = ignore_index, label_smoothing
        if reduction == "none":
            return losses.reshape(target.shape)
        if reduction == "sum":
            return np.asarray(losses.sum(), dtype=logits.dtype)
        ctx.kept = np.count_nonzero(targets != ignore_index)
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: 0 / 0 = nan
            return np.asarray(losses.sum() / ctx.kept, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        rows, targets, lse = ctx.saved_tensors
        if ctx.reduction == "none":
            grad_losses = grad.reshape(-1)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):  # ignored rows get 0 anyway
                scale = grad / ctx.kept if ctx.reduction == "mean" else grad
            grad_losses = np.broadcast_to(scale, targets.shape)
        grad_rows = kernel("cross_entropy_backward")(grad_losses, rows, targets, lse,
                                                     ctx.ignore_index, ctx.label_smoothing)
        return np.moveaxis(grad_rows.reshape(ctx.moved_shape), -1, ctx.axis)


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|)."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, x, y, weight, pos_weight):
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + log_weight * _softplus(-x)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, pos_weight)
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, y, weight, pos_weight = ctx.saved_tensors
        if weight is not None:
            grad = grad * weight
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        grad_x = grad_y = None
        if ctx.parents[0] is not None:
            grad_x = (grad * ((1 - y) - log_weight * stable_sigmoid(-x))).astype(x.dtype)
        if ctx.parents[1] is not None:
            d_y = -x
            if pos_weight is not None:
                d_y = d_y + (pos_weight - 1) * _softplus(-x)
            grad_y = (grad * d_y).astype(y.dtype)
        return grad_x, grad_y


def _check_class_weight(weight, n_classes: int, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = array(weight)
    if w.shape != (n_classes,):
        raise RuntimeError(f"{op}: weight must have shape ({n_classes},), one entry per class, "
                           f"got shape {w.shape}")
    return w


def _check_index_target(input: Tensor, target: np.ndarray, ignore_index: int, op: str) -> None:
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64) class-index target, got dtype "
                           f"{target.dtype} (shape {target.shape})")
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if input.ndim > 1 and target.ndim > 0 and target.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}); input shape {input.shape}, target "
                         f"shape {target.shape}")
    if target.shape != expected:
        raise RuntimeError(f"{op}: for input of shape {input.shape} expected target of shape "
                           f"{expected}, got {target.shape}")
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    bad = (target != ignore_index) & ((target < 0) | (target >= n_classes))
    if bad.any():
        raise IndexError(f"{op}: target {target[bad].flat[0]} is out of bounds for {n_classes} "
                         f"classes (input shape {input.shape})")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets, given log-probabilities.

    Args:
        input: (N, C) or (N, C, d1, ...) log-probabilities, or (C,) for one example.
        target: (N,) or (N, d1, ...) int64 class indices in [0, C), or () for (C,) input.
        weight: (C,) rescaling of each class, or None. Receives no gradient.
        ignore_index: targets with this value contribute nothing, not even to the mean's
            denominator.
        reduction: 'mean' (sum over the sum of the targets' weights; NaN if every target is
            ignored), 'sum' or 'none' (a loss of the target's shape).

    Returns:
        The loss: a scalar, or a tensor of the target's shape for reduction='none'.

    Raises:
        ValueError: batch sizes differ, or an unknown reduction.
        RuntimeError: wrong target shape or dtype, or a weight not of shape (C,).
        IndexError: a target outside [0, C) that is not ignore_index.
    """
    check_reduction(reduction, "nll_loss")
    check_float(input, "input", "nll_loss")
    if input.ndim == 0:
        raise ValueError("nll_loss: input must have at least 1 dimension (C,), got a 0-d tensor")
    target_array = array(target)
    _check_index_target(input, target_array, ignore_index, "nll_loss")
    w = _check_class_weight(weight, input.shape[0 if input.ndim == 1 else 1], "nll_loss")
    if w is not None:
        w = w.astype(input.data.dtype, copy=False)
    return NLLLoss.apply(input, target_array, w, ignore_index, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities.

    With class-index targets this is `nll_loss(log_softmax(input, class_dim), target)`; with
    a float target of the input's shape, each position's loss is
    -sum_c weight_c target_c log_softmax(input)_c, and 'mean' averages over positions.
    Stable for logits of any magnitude (it goes through log_softmax).

    Args:
        input: (N, C) or (N, C, d1, ...) unnormalised logits, or (C,) for one example.
        target: class indices, (N,) or (N, d1, ...) int64 (or () for (C,) input); or class
            probabilities, a float tensor with the input's shape.
        weight: (C,) rescaling of each class, or None.
        ignore_index: with index targets, targets equal to it are skipped. Not supported
            (must stay negative) with probability targets, as in PyTorch.
        reduction: 'mean', 'sum' or 'none'; with index targets and weights, 'mean' divides by
            the sum of the weights of the non-ignored targets.
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) target + eps / C.

    Returns:
        The loss: a scalar, or per-position losses (the input's shape without the class
        dimension) for reduction='none'.

    Raises:
        ValueError: batch sizes differ, or an unknown reduction.
        RuntimeError: bad target dtype or shape, weight shape, label_smoothing, or
            ignore_index with probability targets.
        IndexError: a class index out of range.
    """
    check_reduction(reduction, "cross_entropy")
    check_float(input, "input", "cross_entropy")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,), got 0-d")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                           f"{label_smoothing}")
    axis = 0 if input.ndim == 1 else 1
    n_classes = input.shape[axis]
    w = _check_class_weight(weight, n_classes, "cross_entropy")
    class_shape = (n_classes,) + (1,) * (input.ndim - axis - 1)  # broadcasts along class_dim
    w_b = None if w is None else w.astype(input.data.dtype, copy=False).reshape(class_shape)
    index_target = tuple(np.shape(array(target))) != input.shape
    if index_target and w is None and uses_numba("cross_entropy_forward"):
        target_array = array(target)
        _check_index_target(input, target_array, ignore_index, "cross_entropy")
        return CrossEntropy.apply(input, target_array, ignore_index, reduction, label_smoothing)
    log_probs = log_softmax(input, axis)
    if not index_target:
        return _cross_entropy_probabilities(log_probs, target, w_b, ignore_index, reduction,
                                            label_smoothing)
    nll = nll_loss(log_probs, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    smooth = -(log_probs * w_b if w_b is not None else log_probs).sum(axis)
    target_array = array(target)
    ignored = target_array == ignore_index
    smooth = where(ignored, 0.0, smooth)
    if reduction == "mean":
        kept = target_array[~ignored]
        smooth = smooth.sum() / float(w[kept].sum() if w is not None else kept.size)
    else:
        smooth = reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probabilities(log_probs: Tensor, target, w_b, ignore_index: int,
                                 reduction: str, label_smoothing: float) -> Tensor:
    if not isinstance(target, Tensor):
        target = Tensor(target)
    if target.data.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy: a target of the input's shape {log_probs.shape} "
                           f"holds class probabilities and must be floating point, got dtype "
                           f"{target.dtype}")
    if ignore_index >= 0:
        raise RuntimeError(f"cross_entropy: ignore_index ({ignore_index}) is not supported for "
                           "class-probability targets")
    axis = 0 if log_probs.ndim == 1 else 1
    n_classes = log_probs.shape[axis]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    weighted = log_probs * target if w_b is None else log_probs * target * w_b
    losses = -weighted.sum(axis)
    if reduction == "mean":
        return losses.sum() / float(log_probs.data.size // n_classes)
    return reduce(losses, reduction)


def _broadcast_target(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        warnings.warn(f"{op}: using a target of shape {target.shape} that differs from the "
                      f"input's shape {input.shape}; this will likely lead to incorrect results "
                      "due to broadcasting", stacklevel=3)
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise RuntimeError(f"{op}: input of shape {input.shape} and target of shape "
                               f"{target.shape} do not broadcast") from None


def _weighted(errors: Tensor, weight: Tensor | None, input: Tensor, reduction: str,
              op: str) -> Tensor:
    if weight is None:
        return reduce(errors, reduction)
    if weight.shape != input.shape:
        raise ValueError(f"{op}: weight of shape {weight.shape} must have the input's shape "
                         f"{input.shape}")
    errors = errors * weight
    return errors.sum() / weight.sum() if reduction == "mean" else reduce(errors, reduction)


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error: (input - target)^2, reduced.

    Args:
        input: (*) float tensor.
        target: (*) tensor of the same shape (broadcasting works but warns, as in PyTorch).
        reduction: 'mean', 'sum' or 'none'.
        weight: (*) tensor of the input's shape weighting each element, or None; with 'mean'
            the weighted sum is divided by the sum of the weights.

    Returns:
        A scalar, or the elementwise losses for reduction='none'.
    """
    check_reduction(reduction, "mse_loss")
    _broadcast_target(input, target, "mse_loss")
    return _weighted((input - target) ** 2, weight, input, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error: |input - target|, reduced (its gradient at 0 is 0).

    Args:
        input: (*) float tensor.
        target: (*) tensor of the same shape (broadcasting works but warns, as in PyTorch).
        reduction: 'mean', 'sum' or 'none'.
        weight: (*) tensor of the input's shape weighting each element, or None; with 'mean'
            the weighted sum is divided by the sum of the weights.

    Returns:
        A scalar, or the elementwise losses for reduction='none'.
    """
    check_reduction(reduction, "l1_loss")
    _broadcast_target(input, target, "l1_loss")
    return _weighted((input - target).abs(), weight, input, reduction, "l1_loss")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, *, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input) against target, computed stably from logits.

    loss = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], evaluated as
    (1 - y) x + (1 + (p - 1) y) softplus(-x), which never overflows.

    Args:
        input: (*) float logits.
        target: (*) float targets in [0, 1], the input's shape. Receives a gradient.
        weight: tensor broadcastable to the input, rescaling each element's loss, or None.
            Receives no gradient (nor does pos_weight), as in PyTorch.
        reduction: 'mean', 'sum' or 'none'.
        pos_weight: weight p of the positive term, broadcast along the last dimension,
            e.g. (C,) for C independent labels, or None.

    Returns:
        A scalar, or the elementwise losses for reduction='none'.

    Raises:
        ValueError: target and input shapes differ, or an unknown reduction.
    """
    op = "binary_cross_entropy_with_logits"
    check_reduction(reduction, op)
    check_float(input, "input", op)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target size {target.shape} must be the same as input size "
                         f"{input.shape}")
    dtype = input.data.dtype
    constants = []
    for name, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is None:
            constants.append(None)
            continue
        value = array(value).astype(dtype, copy=False)
        try:
            grows = np.broadcast_shapes(value.shape, input.shape) != input.shape
        except ValueError:
            grows = True
        if grows:
            raise RuntimeError(f"{op}: {name} of shape {value.shape} does not broadcast to the "
                               f"input shape {input.shape}")
        constants.append(value)
    target = target if target.data.dtype == dtype else target.to(input.dtype)
    return reduce(BinaryCrossEntropyWithLogits.apply(input, target, *constants), reduction)


def kl_div(input: Tensor, target: Tensor, *, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(target || q), given input = log q.

    Elementwise: target (log target - input), or exp(target) (target - input) when the target
    is given as log-probabilities (`log_target=True`).

    Args:
        input: (N, *) log-probabilities.
        target: (N, *) probabilities (or log-probabilities with log_target=True); broadcasts.
        reduction: 'batchmean' (sum / N: the true KL divergence per example), 'sum', 'none',
            or 'mean' (sum / number of elements, which is not the KL divergence; it warns, as
            PyTorch does).
        log_target: whether `target` holds log-probabilities.

    Returns:
        A scalar, or the elementwise terms for reduction='none'.
    """
    check_reduction(reduction, "kl_div", REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size and "
                      "matches the definition of the KL divergence", stacklevel=2)
    if log_target:
        terms = target.exp() * (target - input)
    else:
        positive = target > 0
        entropy_term = where(positive, target * where(positive, target, 1.0).log(), 0.0)
        terms = entropy_term - target * input
    if reduction == "batchmean":
        total = terms.sum()
        return total / input.shape[0] if input.ndim > 0 else total
    return reduce(terms, reduction)
