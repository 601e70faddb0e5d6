"""`minigrad.nn`: modules, parameters, layers, losses and initialisation, as `torch.nn`.

- `Module` (module.py) and `Parameter` (parameter.py): the model tree and what it trains;
- layers, one file per family: `linear` (Linear, Identity), `conv` (Conv2d),
  `normalization` (BatchNorm1d/2d, LayerNorm), `sparse` (Embedding), `dropout`,
  `activation` (ReLU, GELU, ...), `flatten`, `pooling`;
- `container` (Sequential, ModuleList, ModuleDict) and `loss` (CrossEntropyLoss, ...);
- subpackages and modules `functional` (stateless ops), `init` (initialisation schemes) and
  `utils` (gradient clipping, parameters as a vector).
"""

from minigrad.nn import functional, init  # noqa: I001  (layers import both)
from minigrad.nn.parameter import Parameter
from minigrad.nn.module import Module
from minigrad.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softmax, Tanh
from minigrad.nn.container import ModuleDict, ModuleList, Sequential
from minigrad.nn.conv import Conv2d
from minigrad.nn.dropout import Dropout
from minigrad.nn.flatten import Flatten
from minigrad.nn.linear import Identity, Linear
from minigrad.nn.loss import (BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss,
                              NLLLoss)
from minigrad.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from minigrad.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minigrad.nn.sparse import Embedding
from minigrad.nn import utils

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GELU", "Identity", "KLDivLoss",
    "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "MSELoss", "MaxPool2d", "Module", "ModuleDict",
    "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax",
    "Tanh", "functional", "init", "utils",
]
