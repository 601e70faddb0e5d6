"""parameters_to_vector and vector_to_parameters (nn/utils/convert_parameters.py)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import parameters_to_vector, vector_to_parameters


def test_round_trip():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    expected = np.concatenate([p.data.ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.data, expected)
    new = mg.arange(11, dtype=mg.float32)
    vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(model[0].weight.data, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(model[1].bias.data, [10.0])
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).data, new.data)
    new.data[0] = 100.0  # the parameters are views of the vector, as in PyTorch
    assert model[0].weight.data[0, 0] == 100.0
    assert isinstance(model[0].weight, nn.Parameter) and model[0].weight.requires_grad


def test_parameters_to_vector_is_differentiable():
    a = nn.Parameter(mg.ones(2, 2))
    b = nn.Parameter(mg.ones(3))
    (parameters_to_vector([a, b]) * mg.arange(7, dtype=mg.float32)).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(b.grad.data, [4.0, 5.0, 6.0])


def test_vector_to_parameters_errors():
    params = [nn.Parameter(mg.ones(2)), nn.Parameter(mg.ones(3))]
    with pytest.raises(TypeError, match="expected a minigrad.Tensor, but got: ndarray"):
        vector_to_parameters(np.ones(5), params)
    with pytest.raises(ValueError, match=r"expected a 1-D vector of 5 elements .* got shape "
                                         r"\(4,\)"):
        vector_to_parameters(mg.ones(4), params)
