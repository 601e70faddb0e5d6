"""count_parameters and parameter_bytes: shared parameters once, trainable only, dtypes."""

import minigrad as mg
from minigrad import nn
from minigrad.profiler import count_parameters, parameter_bytes


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # one (10, 4) Parameter used twice
        self.norm = nn.LayerNorm(4)


def test_counts_and_bytes_of_a_linear():
    layer = nn.Linear(5, 3)
    assert count_parameters(layer) == 5 * 3 + 3
    assert parameter_bytes(layer) == (5 * 3 + 3) * 4


def test_shared_parameters_count_once():
    model = Tied()
    assert count_parameters(model) == 10 * 4 + 2 * 4
    assert count_parameters([model.embed.weight, model.head.weight]) == 40


def test_trainable_only_and_float64():
    layer = nn.Linear(5, 3).double()
    layer.bias.requires_grad = False
    assert count_parameters(layer, trainable_only=True) == 15
    assert parameter_bytes(layer) == 18 * 8
    assert parameter_bytes(layer, trainable_only=True) == 15 * 8


def test_plain_tensors_work_too():
    assert count_parameters([mg.zeros(2, 3), mg.zeros(4)]) == 10
