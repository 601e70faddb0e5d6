"""The affine map y = x W^T + b, the layer every network is built from.

It is not an op of its own: a matmul with the transposed weight plus a broadcast add, so its
backward is theirs: dL/dx = G W, dL/dW = G^T x (summed over all leading dimensions of x),
dL/db = G summed over the leading dimensions. FLOPs: 2 M in_features out_features for M rows.
The weight is stored (out_features, in_features), as in PyTorch, so that each row is one
output unit's weights.
"""

from __future__ import annotations

from minigrad.ops.linalg import check_dtypes_match, matmul
from minigrad.tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply y = x W^T + b.

    Args:
        input: (*, in_features) float tensor.
        weight: (out_features, in_features) tensor, or (in_features,) for a single output
            whose dimension is dropped.
        bias: (out_features,) tensor (anything broadcastable to the output), or None.

    Returns:
        (*, out_features) tensor.

    Raises:
        RuntimeError: when the last dimension of `input` is not `in_features`, or when weight
            or bias has another float dtype than input (PyTorch does not promote either).
    """
    if weight.ndim not in (1, 2):
        raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), got "
                           f"shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input of shape {input.shape} does not match weight of shape "
                           f"{weight.shape}: expected the input's last dimension to be "
                           f"in_features = {weight.shape[-1]}")
    check_dtypes_match(input.data.dtype, weight.data.dtype, "input and weight", "linear")
    if bias is not None:
        check_dtypes_match(input.data.dtype, bias.data.dtype, "input and bias", "linear")
    out = matmul(input, weight.T)
    if bias is not None:
        out = out + bias
    return out
