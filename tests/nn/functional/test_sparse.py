"""embedding (lookup, scatter-add gradient, padding_idx) and one_hot: values and errors."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck


def test_embedding_looks_up_rows():
    table = np.arange(15.0).reshape(5, 3)
    idx = np.array([[4, 0], [2, 2]])
    out = F.embedding(mg.tensor(idx), mg.tensor(table))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data, table[idx])


def test_repeated_indices_accumulate_gradients():
    weight = mg.tensor(np.zeros((4, 2)), requires_grad=True)
    idx = mg.tensor([1, 3, 1, 1])
    grad = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0], [1000.0, 2000.0]])
    F.embedding(idx, weight).backward(mg.tensor(grad))
    np.testing.assert_array_equal(weight.grad.data, [[0, 0], [1101, 2202], [0, 0], [10, 20]])


def test_padding_row_gets_no_gradient_but_is_looked_up():
    table = np.random.default_rng(0).standard_normal((5, 3))
    weight = mg.tensor(table, requires_grad=True)
    idx = mg.tensor([[0, 2, 4], [2, 4, 4]])
    out = F.embedding(idx, weight, padding_idx=-1)  # row 4
    np.testing.assert_array_equal(out.data[0, 2], table[4])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.data[:, 0], [1, 0, 2, 0, 0])
    weight.grad = None
    F.embedding(idx, weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.data[:, 0], [1, 0, 0, 0, 3])


def test_embedding_gradcheck():
    weight = mg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    idx = mg.tensor([[0, 3], [3, 3]])
    assert gradcheck(lambda w: F.embedding(idx, w), weight)


def test_embedding_errors():
    weight = mg.randn(5, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range for a table of 5 rows"):
        F.embedding(mg.tensor([5]), weight)
    with pytest.raises(IndexError, match=r"index -1 is out of range"):
        F.embedding(mg.tensor([-1, 2]), weight)
    with pytest.raises(RuntimeError, match=r"integer \(int64\) index tensor, got dtype float32"):
        F.embedding(mg.tensor([1.0]), weight)
    with pytest.raises(ValueError, match=r"padding_idx 5 must be within num_embeddings \(5\)"):
        F.embedding(mg.tensor([1]), weight, padding_idx=5)
    with pytest.raises(RuntimeError, match=r"weight must be 2-D.*\(5,\)"):
        F.embedding(mg.tensor([1]), mg.randn(5))


def test_one_hot():
    out = F.one_hot(mg.tensor([[0, 2], [3, 1]]))
    assert out.dtype == mg.int64 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data, np.eye(4, dtype=np.int64)[[[0, 2], [3, 1]]])
    assert F.one_hot(mg.tensor([1, 0]), num_classes=5).shape == (2, 5)
    assert F.one_hot(mg.tensor(np.zeros(0, dtype=np.int64)), 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match=r"non-negative, got -1"):
        F.one_hot(mg.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match=r"smaller than num_classes \(2\), got 2"):
        F.one_hot(mg.tensor([1, 2]), 2)
    with pytest.raises(RuntimeError, match=r"integer \(int64\) index tensor, got dtype float32"):
        F.one_hot(mg.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"empty tensor; pass num_classes"):
        F.one_hot(mg.tensor(np.zeros(0, dtype=np.int64)))
