"""Parameter (parameter.py): a Tensor subclass that shares its source's array, is always a
leaf, prints like PyTorch's, and makes plain Tensors when used in ops."""

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.nn.parameter import factory_dtype


def test_is_a_tensor_that_shares_memory_and_version_counter():
    t = mg.tensor([1.0, 2.0])
    p = Parameter(t)
    assert isinstance(p, mg.Tensor) and type(p) is Parameter
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert p.data is t.data
    t.add_(1.0)
    np.testing.assert_array_equal(p.data, [2.0, 3.0])
    assert p._version == t._version == 1


def test_default_is_empty_float32_and_requires_grad_false_is_kept():
    p = Parameter()
    assert p.shape == (0,) and p.dtype == mg.float32 and p.requires_grad
    assert not Parameter(mg.ones(2), requires_grad=False).requires_grad


def test_made_from_a_computed_tensor_is_a_leaf():
    x = mg.ones(3, requires_grad=True)
    p = Parameter(x * 2)
    assert p.grad_fn is None and p.is_leaf
    np.testing.assert_array_equal(p.data, [2.0, 2.0, 2.0])


def test_op_results_are_plain_tensors_and_gradients_reach_the_parameter():
    p = Parameter(mg.tensor([1.0, -2.0]))
    y = (p * 3).sum()
    assert type(p * 3) is mg.Tensor and type(p.detach()) is mg.Tensor
    y.backward()
    np.testing.assert_array_equal(p.grad.data, [3.0, 3.0])


def test_repr_starts_like_pytorch():
    p = Parameter(mg.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


def test_rejects_arrays_and_integer_gradients():
    with pytest.raises(TypeError, match="Parameter: data must be a minigrad.Tensor .* ndarray"):
        Parameter(np.ones(2))
    with pytest.raises(RuntimeError, match="floating point"):
        Parameter(mg.tensor([1, 2]))
    assert Parameter(mg.tensor([1, 2]), requires_grad=False).dtype == mg.int64


def test_deepcopy_copies_data_not_grad():
    p = Parameter(mg.tensor([1.0, 2.0]))
    p.grad = mg.tensor([5.0, 5.0])
    q = copy.deepcopy(p)
    assert type(q) is Parameter and q.requires_grad and q.grad is None
    assert q.data is not p.data
    np.testing.assert_array_equal(q.data, p.data)


def test_factory_dtype():
    assert factory_dtype(None, None, "Linear") == np.float32
    assert factory_dtype(mg.float64, "cpu", "Linear") == np.float64
    with pytest.raises(TypeError, match="Linear: parameters must have a floating point dtype, "
                                        "got int64"):
        factory_dtype(mg.int64, None, "Linear")
    with pytest.raises(RuntimeError, match="Linear: .* device 'cuda' is not available"):
        factory_dtype(None, "cuda", "Linear")
