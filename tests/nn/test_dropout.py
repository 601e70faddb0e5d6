"""Dropout (dropout.py): active only in training, scaling, validation, repr."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_training_drops_and_scales_eval_is_identity():
    mg.manual_seed(0)
    drop = nn.Dropout(0.25)
    out = drop(mg.ones(200, 50)).data
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_allclose(kept.mean(), 0.75, atol=0.01)
    drop.eval()
    x = mg.ones(3)
    assert drop(x) is x


def test_seeded_masks_repeat():
    mg.manual_seed(1)
    a = nn.Dropout()(mg.ones(100)).data
    mg.manual_seed(1)
    b = nn.Dropout()(mg.ones(100)).data
    np.testing.assert_array_equal(a, b)


def test_inplace_and_validation_and_repr():
    x = mg.ones(50)
    assert nn.Dropout(0.5, inplace=True)(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
