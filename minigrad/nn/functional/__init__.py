"""Functional neural-network ops, as `torch.nn.functional`."""

from minigrad.ops import gelu, leaky_relu, log_softmax, pad, relu, sigmoid, silu, softmax, tanh

__all__ = ["gelu", "leaky_relu", "log_softmax", "pad", "relu", "sigmoid", "silu", "softmax",
           "tanh"]
