"""A multi-layer perceptron: Linear -> activation (-> Dropout) blocks, then a Linear head.

    MLP(2, [64, 64], 3)                      # 2 -> 64 -> 64 -> 3, ReLU
    MLP(64, [128], 10, activation="gelu", dropout=0.1)

It is an `nn.Sequential` whose children have names instead of numbers (`fc1`, `act1`,
`drop1`, ..., `head`), so `state_dict()` reads `fc1.weight`, `fc2.bias`, `head.weight`:
a student can tell which layer a tensor belongs to, and a torch `nn.Sequential(OrderedDict)`
with the same names loads it unchanged.

Parameters: sum over consecutive widths (a, b) of a * b weights + b biases (bias=True).
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise

from minigrad import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU,
}


def _activation_class(activation: str | type) -> type:
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; expected one of "
                             f"{sorted(ACTIVATIONS)} or an nn.Module class")
        return ACTIVATIONS[activation]
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation
    raise TypeError(f"MLP: activation must be a name or an nn.Module class (called with no "
                    f"arguments), got {activation!r}")


class MLP(nn.Sequential):
    """in_features -> hidden_features[0] -> ... -> out_features, an activation between layers.

    Each hidden layer is `fc{i}` (Linear), `act{i}` (the activation) and, when dropout > 0,
    `drop{i}` (Dropout); the last layer is `head` (Linear, no activation after it: it gives
    logits or regression outputs). Initialisation is nn.Linear's default.

    Args:
        in_features: size of each input sample.
        hidden_features: widths of the hidden layers, in order; [] gives a single Linear.
        out_features: size of each output sample.
        activation: 'relu', 'gelu', 'silu', 'tanh', 'sigmoid', 'leaky_relu', or an
            nn.Module class that is instantiated with no arguments once per hidden layer.
        dropout: probability of the Dropout after each hidden activation (0 adds none).
        bias: give every Linear a bias.

    Shape:
        input (*, in_features) -> output (*, out_features).

    Raises:
        ValueError: a non-positive width, dropout outside [0, 1), or an unknown activation.
        TypeError: activation that is neither a name nor an nn.Module class.
    """

    def __init__(self, in_features: int, hidden_features: list[int], out_features: int,
                 activation: str | type = "relu", dropout: float = 0.0,
                 bias: bool = True) -> None:
        widths = [in_features, *hidden_features, out_features]
        if any(not isinstance(w, int) or w <= 0 for w in widths):
            raise ValueError(f"MLP: every width must be a positive int, got in_features="
                             f"{in_features}, hidden_features={list(hidden_features)}, "
                             f"out_features={out_features}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        act = _activation_class(activation)
        layers = OrderedDict()
        for i, (fan_in, fan_out) in enumerate(pairwise(widths[:-1]), start=1):
            layers[f"fc{i}"] = nn.Linear(fan_in, fan_out, bias=bias)
            layers[f"act{i}"] = act()
            if dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(dropout)
        layers["head"] = nn.Linear(widths[-2], widths[-1], bias=bias)
        super().__init__(layers)
        self.in_features, self.out_features = in_features, out_features
        self.hidden_features = list(hidden_features)
