"""minigrad.models.MLP: layer names, shapes, parameter counts, values, errors, training."""

from itertools import pairwise

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.models import MLP
from minigrad.nn import functional as F
from minigrad.optim import SGD


def mlp_parameter_count(widths: list[int], bias: bool = True) -> int:
    """sum over consecutive widths (a, b) of a b weights (+ b biases)."""
    return sum(a * b + (b if bias else 0) for a, b in pairwise(widths))


def test_state_dict_keys_are_readable():
    mg.manual_seed(0)
    model = MLP(4, [8, 6], 3)
    assert list(model.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                        "head.weight", "head.bias"]
    assert [name for name, _ in model.named_children()] == ["fc1", "act1", "fc2", "act2", "head"]


def test_dropout_layers_only_when_requested():
    model = MLP(4, [8, 6], 3, dropout=0.25)
    names = [name for name, _ in model.named_children()]
    assert names == ["fc1", "act1", "drop1", "fc2", "act2", "drop2", "head"]
    assert model.drop1.p == 0.25


@pytest.mark.parametrize("hidden, bias", [([8, 6], True), ([8, 6], False), ([], True),
                                          ([5, 5, 5], True)])
def test_parameter_count_matches_formula(hidden, bias):
    model = MLP(4, hidden, 3, bias=bias)
    assert sum(p.numel() for p in model.parameters()) == mlp_parameter_count([4, *hidden, 3],
                                                                             bias)


def test_forward_equals_the_layers_written_out():
    mg.manual_seed(0)
    model = MLP(4, [8], 3, activation="tanh")
    x = mg.randn(5, 4)
    hidden = F.tanh(F.linear(x, model.fc1.weight, model.fc1.bias))
    expected = F.linear(hidden, model.head.weight, model.head.bias)
    np.testing.assert_allclose(model(x).detach().numpy(), expected.detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_leading_dimensions_pass_through():
    model = MLP(4, [8], 3)
    assert model(mg.randn(2, 7, 4)).shape == (2, 7, 3)
    assert model(mg.randn(4)).shape == (3,)


@pytest.mark.parametrize("activation, cls", [("relu", "ReLU"), ("gelu", "GELU"),
                                             ("silu", "SiLU"), ("sigmoid", "Sigmoid"),
                                             ("leaky_relu", "LeakyReLU")])
def test_activation_by_name(activation, cls):
    model = MLP(4, [8, 8], 3, activation=activation)
    assert type(model.act1).__name__ == cls and type(model.act2).__name__ == cls
    assert model.act1 is not model.act2


def test_activation_as_module_class():
    model = MLP(4, [8], 3, activation=nn.Tanh)
    assert isinstance(model.act1, nn.Tanh)


def test_dropout_active_in_training_only():
    mg.manual_seed(0)
    model = MLP(4, [64], 3, dropout=0.5)
    x = mg.randn(8, 4)
    assert not np.allclose(model(x).detach().numpy(), model(x).detach().numpy())
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(4, [8], 3, activation="swish")
    with pytest.raises(TypeError, match="activation must be a name or an nn.Module class"):
        MLP(4, [8], 3, activation=mg.relu)
    with pytest.raises(ValueError, match=r"hidden_features=\[8, 0\]"):
        MLP(4, [8, 0], 3)
    with pytest.raises(ValueError, match="dropout must be in \\[0, 1\\), got 1.0"):
        MLP(4, [8], 3, dropout=1.0)


def test_a_few_sgd_steps_lower_the_loss():
    mg.manual_seed(0)
    model = MLP(2, [16], 2)
    x = mg.randn(64, 2)
    y = mg.tensor((x.numpy()[:, 0] * x.numpy()[:, 1] > 0).astype(np.int64))
    optimizer = SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
