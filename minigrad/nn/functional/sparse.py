"""Integer indices as inputs: `embedding` (a table lookup) and `one_hot`.

An embedding is a matrix product with one-hot rows, onehot(i) W = W[i], done as the lookup
it really is. Its backward is the transposed product onehot^T G: every output row's gradient
is added to the table row it came from. An index that occurs k times gets the sum of k
gradients, so the scatter must *add* (`np.add.at`), not assign, which would keep only one.
The row `padding_idx` (a "no token" marker) receives no gradient, so it stays as initialised.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function
from minigrad.nn.functional._utils import array
from minigrad.tensor import Tensor


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.padding_idx, ctx.num_rows = padding_idx, weight.shape[0]
        ctx.save_for_backward(indices)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        grad_weight = np.zeros((ctx.num_rows, grad.shape[-1]), dtype=grad.dtype)
        np.add.at(grad_weight, indices.reshape(-1), grad.reshape(-1, grad.shape[-1]))
        if ctx.padding_idx is not None:
            grad_weight[ctx.padding_idx] = 0
        return grad_weight


def _check_indices(indices: np.ndarray, op: str) -> None:
    if indices.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64) index tensor, got dtype "
                           f"{indices.dtype} (shape {indices.shape})")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of an embedding table: out[...] = weight[input[...]].

    Args:
        input: (*) int64 indices into the table's rows.
        weight: (num_embeddings, embedding_dim) float table.
        padding_idx: a row (negative counts from the end) that gets no gradient, or None.

    Returns:
        (*, embedding_dim) tensor.

    Raises:
        RuntimeError: non-integer indices or a weight that is not 2-D.
        IndexError: an index outside [0, num_embeddings).
        ValueError: padding_idx outside [-num_embeddings, num_embeddings).
    """
    indices = array(input)
    _check_indices(indices, "embedding")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                           f"shape {weight.shape}")
    rows = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"embedding: index {bad} is out of range for a table of {rows} rows "
                         f"(weight shape {weight.shape})")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({rows})")
        padding_idx %= rows
    return Embedding.apply(weight, indices, padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """One-hot encode class indices: out[..., c] = 1 where tensor[...] == c, else 0.

    Args:
        tensor: (*) int64 class indices, all >= 0.
        num_classes: the number of classes C; -1 takes max(tensor) + 1.

    Returns:
        (*, C) int64 tensor (no gradient).

    Raises:
        RuntimeError: non-integer input, a negative index, an index >= num_classes, or an
            empty input with num_classes=-1.
    """
    indices = array(tensor)
    _check_indices(indices, "one_hot")
    if num_classes == -1:
        if indices.size == 0:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(indices.max()) + 1
    if indices.size and indices.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {indices.min()}")
    if indices.size and indices.max() >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                           f"({num_classes}), got {indices.max()}")
    out = (indices[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out)
