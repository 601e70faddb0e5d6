"""Ready-made models built from `minigrad.nn`: an MLP, a small MobileNet and a GPT.

- `MLP`: Linear + activation layers with readable names (`fc1`, `act1`, ..., `head`).
- `MobileNet`, `DepthwiseSeparableConv`, `ConvBNReLU`: Howard et al. 2017's factored
  convolution, sized by default for 8x8 digits; `MobileNet(depthwise=False)` is the
  standard-convolution twin with the same widths.
- `GPT`, `GPTConfig`, `Block`, `CausalSelfAttention`: a nanoGPT-style decoder-only
  transformer with weight tying and `generate`.

docs/concepts/models.md explains each with diagrams, costs and parameter counts.
"""

from minigrad.models.gpt import GPT, Block, CausalSelfAttention, GPTConfig
from minigrad.models.mlp import MLP
from minigrad.models.mobilenet import ConvBNReLU, DepthwiseSeparableConv, MobileNet

__all__ = ["GPT", "MLP", "Block", "CausalSelfAttention", "ConvBNReLU", "DepthwiseSeparableConv",
           "GPTConfig", "MobileNet"]
