"""Embedding (sparse.py): table shape, N(0, 1) init, padding row zeroed and frozen,
padding_idx validation, from_pretrained, repr."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_lookup_and_init_statistics():
    mg.manual_seed(0)
    emb = nn.Embedding(1000, 64)
    assert emb.weight.shape == (1000, 64)
    np.testing.assert_allclose(emb.weight.data.mean(), 0.0, atol=0.01)
    np.testing.assert_allclose(emb.weight.data.std(), 1.0, rtol=0.01)
    idx = mg.tensor([[1, 5], [5, 999]])
    out = emb(idx)
    assert out.shape == (2, 2, 64)
    np.testing.assert_array_equal(out.data[1, 1], emb.weight.data[999])


def test_padding_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(4, 3, padding_idx=-1)
    assert emb.padding_idx == 3
    np.testing.assert_array_equal(emb.weight.data[3], np.zeros(3))
    emb(mg.tensor([3, 3, 1])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[3], np.zeros(3))
    np.testing.assert_array_equal(emb.weight.grad.data[1], np.ones(3))


def test_padding_idx_out_of_range():
    with pytest.raises(ValueError, match=r"padding_idx \(4\) must be within num_embeddings "
                                         r"\(4\)"):
        nn.Embedding(4, 3, padding_idx=4)
    with pytest.raises(ValueError, match="must be within"):
        nn.Embedding(4, 3, padding_idx=-5)


def test_from_pretrained_shares_the_table_and_freezes_it():
    table = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    state = mg.get_rng_state()
    emb = nn.Embedding.from_pretrained(table)
    assert mg.get_rng_state() == state  # no random draw for a table that is given
    assert emb.weight.data is table.data and not emb.weight.requires_grad
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    np.testing.assert_array_equal(emb(mg.tensor([1])).data, [[3.0, 4.0]])
    with pytest.raises(ValueError, match=r"embeddings must be 2-D .* got shape \(2,\)"):
        nn.Embedding.from_pretrained(mg.ones(2))
    with pytest.raises(ValueError, match=r"_weight of shape \(2, 2\) does not match"):
        nn.Embedding(3, 2, _weight=table)


def test_repr():
    assert repr(nn.Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
