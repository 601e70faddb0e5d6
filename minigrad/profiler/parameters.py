"""Parameter counts and bytes: what a model costs to store, before it runs at all.

A parameter shared by two modules (tied input and output embeddings, say) is one array in
memory, so it is counted once: parameters are told apart by identity, as PyTorch's
`Module.parameters()` does.
"""

from __future__ import annotations


def unique_parameters(model) -> list:
    """The distinct parameter tensors of `model` (a Module, or an iterable of Tensors)."""
    tensors = model.parameters() if hasattr(model, "parameters") else model
    seen, unique = set(), []
    for p in tensors:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique


def count_parameters(model, trainable_only: bool = False) -> int:
    """The number of scalar parameters, each shared parameter counted once.

    Args:
        model: a `minigrad.nn.Module` or an iterable of Tensors.
        trainable_only: count only parameters with `requires_grad=True`.

    Returns:
        The total number of elements.
    """
    return sum(p.numel() for p in unique_parameters(model)
               if p.requires_grad or not trainable_only)


def parameter_bytes(model, trainable_only: bool = False) -> int:
    """The bytes the parameters' arrays take (number of elements times the dtype's size).

    Args:
        model: a `minigrad.nn.Module` or an iterable of Tensors.
        trainable_only: count only parameters with `requires_grad=True`.

    Returns:
        The total number of bytes, shared parameters counted once.
    """
    return sum(p.data.nbytes for p in unique_parameters(model)
               if p.requires_grad or not trainable_only)

