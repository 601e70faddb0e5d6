"""All parameters as one flat vector, and back.

`parameters_to_vector` concatenates the flattened parameters (a new tensor, in the graph);
`vector_to_parameters` makes each parameter a view of its slice of the vector. The order is
the iteration order of `parameters`, so use the same iterable (e.g. `model.parameters()`)
both ways.
"""

from __future__ import annotations

from collections.abc import Iterable

from minigrad.ops.shape import cat
from minigrad.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Flatten and concatenate `parameters` into one 1-D tensor (gradients flow back).

    Args:
        parameters: an iterable of Tensors.

    Returns:
        (total number of elements,) tensor.
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data the matching slice of `vec`, reshaped.

    As in PyTorch, the parameters then share memory with `vec` (and take its dtype): writing
    to one changes the other.

    Args:
        vec: (total number of elements,) tensor.
        parameters: an iterable of Tensors, in the order used by `parameters_to_vector`.

    Raises:
        TypeError: `vec` is not a Tensor.
        ValueError: `vec` is not 1-D, or its length differs from the parameters' total size.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a minigrad.Tensor, but got: "
                        f"{type(vec).__name__}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements "
                         f"(the parameters' total size), got shape {vec.shape}")
    start = 0
    for param in parameters:
        n = param.numel()
        param.data = vec.data[start:start + n].reshape(param.shape)
        start += n
