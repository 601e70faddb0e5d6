"""`Embedding`: a learned lookup table from integer ids (tokens, classes) to vectors.

Default initialisation N(0, 1), as PyTorch: an embedding is read, not multiplied, so there is
no fan-in whose sum needs scaling down. The row `padding_idx`, if given, starts at zero and
gets no gradient, so a padding token contributes a zero vector throughout training.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd.grad_mode import no_grad
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter, factory_dtype
from minigrad.tensor import Tensor


class Embedding(Module):
    """A table of `num_embeddings` vectors of size `embedding_dim`, indexed by int64 ids.

    Args:
        num_embeddings: the number of rows (the vocabulary size).
        embedding_dim: the size of each vector.
        padding_idx: a row (negative counts from the end) initialised to zeros that gets no
            gradient, or None.
        device: None or "cpu".
        dtype: the table's floating point dtype (default float32).
        _weight: use this (num_embeddings, embedding_dim) tensor as the table instead of
            drawing one (shared, not copied; what `from_pretrained` uses).
        _freeze: with `_weight`, keep the table fixed (requires_grad=False).

    Attributes:
        weight: (num_embeddings, embedding_dim) Parameter, initialised from N(0, 1).

    Shapes:
        input `(*)` int64 -> output `(*, embedding_dim)`.

    Deviation from PyTorch: `max_norm`, `norm_type`, `scale_grad_by_freq` and `sparse` are
    not supported (the functional `embedding` has none of them).

    Raises:
        ValueError: padding_idx outside [-num_embeddings, num_embeddings), or a `_weight`
            of another shape.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device=None, dtype=None, _weight: Tensor | None = None,
                 _freeze: bool = False) -> None:
        super().__init__()
        np_dtype = factory_dtype(dtype, device, "Embedding")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx ({padding_idx}) must be within "
                                 f"num_embeddings ({num_embeddings})")
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            self.weight = Parameter(Tensor._wrap(np.empty(shape, np_dtype)))
            self.reset_parameters()
        elif _weight.shape != shape:
            raise ValueError(f"Embedding: _weight of shape {_weight.shape} does not match "
                             f"num_embeddings and embedding_dim {shape}")
        else:
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw the table from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding whose table is `embeddings` (shared, not copied, as in PyTorch).

        Args:
            embeddings: (num_embeddings, embedding_dim) float tensor.
            freeze: keep the table fixed (requires_grad=False).
            padding_idx: as in the constructor; the row is not zeroed here.

        Raises:
            ValueError: `embeddings` is not 2-D.
        """
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {embeddings.shape}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, dtype=embeddings.dtype,
                   _weight=embeddings, _freeze=freeze)
