"""Functional neural-network ops, as `torch.nn.functional`: stateless functions of tensors.

One module per idea: `activation` (relu, softmax, ...), `affine` (linear), `loss`,
`normalization` (layer and batch norm), `regularization` (dropout), `sparse` (embedding,
one_hot), `conv`, `pooling` and `attention`. `pad` is the op of `minigrad.ops`. The heavy
array math (im2col convolution, pooling, normalisation, attention) is in `kernels.reference`.
"""

from minigrad.nn.functional.activation import (gelu, leaky_relu, log_softmax, relu, sigmoid,
                                               silu, softmax, tanh)
from minigrad.nn.functional.affine import linear
from minigrad.nn.functional.attention import scaled_dot_product_attention
from minigrad.nn.functional.conv import conv2d
from minigrad.nn.functional.loss import (binary_cross_entropy_with_logits, cross_entropy, kl_div,
                                         l1_loss, mse_loss, nll_loss)
from minigrad.nn.functional.normalization import batch_norm, layer_norm
from minigrad.nn.functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minigrad.nn.functional.regularization import dropout
from minigrad.nn.functional.sparse import embedding, one_hot
from minigrad.ops import pad

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits",
    "conv2d", "cross_entropy", "dropout", "embedding", "gelu", "kl_div", "l1_loss",
    "layer_norm", "leaky_relu", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss",
    "one_hot", "pad", "relu", "scaled_dot_product_attention", "sigmoid", "silu", "softmax",
    "tanh",
]
