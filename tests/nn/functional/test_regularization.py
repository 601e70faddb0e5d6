"""dropout (regularization.py): inverted scaling, reproducibility under manual_seed, the
gradient through the mask, the p = 0 / p = 1 / evaluation cases and the error message."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F


def test_kept_elements_are_scaled_and_the_rest_zeroed():
    mg.manual_seed(0)
    x = mg.ones(200, 50)
    out = F.dropout(x, p=0.3)
    values = np.unique(out.data)
    np.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)
    dropped = (out.data == 0).mean()
    assert abs(dropped - 0.3) < 0.02  # 10,000 draws: 4 standard deviations is 0.018
    assert abs(out.data.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_manual_seed_makes_it_reproducible():
    x = mg.randn(8, 8)
    mg.manual_seed(42)
    first = F.dropout(x, 0.5)
    second = F.dropout(x, 0.5)
    mg.manual_seed(42)
    again = F.dropout(x, 0.5)
    np.testing.assert_array_equal(first.data, again.data)
    assert not np.array_equal(first.data, second.data)


def test_gradient_is_the_scaled_mask():
    mg.manual_seed(1)
    x = mg.randn(6, 7, requires_grad=True)
    out = F.dropout(x, 0.4)
    out.backward(mg.ones(6, 7))
    mask = out.data != 0
    np.testing.assert_allclose(x.grad.data, mask / 0.6, rtol=1e-6)
    np.testing.assert_allclose(out.data, x.data * mask / 0.6, rtol=1e-6)


def test_identity_cases_and_all_zeros():
    x = mg.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.data, 0.0)
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)


def test_inplace_writes_into_the_input():
    mg.manual_seed(2)
    x = mg.ones(4, 5)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and x._version == 1
    assert set(np.unique(x.data)) <= {0.0, 2.0}


def test_invalid_probability():
    with pytest.raises(ValueError, match=r"between 0 and 1, but got 1.5"):
        F.dropout(mg.randn(2), 1.5)
