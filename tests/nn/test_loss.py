"""Loss modules (loss.py): each equals its functional with the stored options; weights are
buffers; reductions are checked at construction."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


def logits_and_targets():
    mg.manual_seed(0)
    return mg.randn(6, 4), mg.tensor([0, 3, 1, 1, -100, 2])


def test_cross_entropy_and_nll_match_the_functionals():
    x, t = logits_and_targets()
    w = mg.tensor([1.0, 2.0, 0.5, 1.0])
    loss = nn.CrossEntropyLoss(w, label_smoothing=0.1)
    np.testing.assert_array_equal(loss(x, t).data,
                                  F.cross_entropy(x, t, w, label_smoothing=0.1).data)
    none = nn.CrossEntropyLoss(reduction="none", ignore_index=3)(x, mg.tensor([0, 3, 1, 1, 0, 2]))
    assert none.shape == (6,) and none.data[1] == 0.0 and none.data[0] > 0
    log_p = F.log_softmax(x, 1)
    np.testing.assert_array_equal(nn.NLLLoss(reduction="sum")(log_p, t).data,
                                  F.nll_loss(log_p, t, reduction="sum").data)


def test_class_weights_are_buffers():
    w = mg.tensor([1.0, 2.0])
    loss = nn.CrossEntropyLoss(w)
    assert loss.weight is w and list(loss.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(pos_weight=mg.tensor([3.0]))
    assert list(bce.state_dict()) == ["pos_weight"]
    loss.double()
    assert loss.weight.dtype == mg.float64


def test_regression_and_binary_losses():
    mg.manual_seed(1)
    a, b = mg.randn(3, 2), mg.randn(3, 2)
    np.testing.assert_allclose(nn.MSELoss()(a, b).data, ((a.data - b.data) ** 2).mean(),
                               rtol=1e-6)
    np.testing.assert_allclose(nn.L1Loss(reduction="sum")(a, b).data,
                               np.abs(a.data - b.data).sum(), rtol=1e-6)
    target = mg.tensor([[1.0, 0.0]] * 3)
    pos = mg.tensor([2.0, 0.5])
    np.testing.assert_array_equal(
        nn.BCEWithLogitsLoss(pos_weight=pos)(a, target).data,
        F.binary_cross_entropy_with_logits(a, target, pos_weight=pos).data)


def test_kl_div_with_batchmean_and_log_target():
    log_q = F.log_softmax(mg.randn(4, 5), 1)
    log_p = F.log_softmax(mg.randn(4, 5), 1)
    loss = nn.KLDivLoss(reduction="batchmean", log_target=True)(log_q, log_p)
    expected = (np.exp(log_p.data) * (log_p.data - log_q.data)).sum() / 4
    np.testing.assert_allclose(loss.data, expected, rtol=1e-5)


def test_reduction_is_checked_when_built_and_options_are_keyword_only():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of .* got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be one of"):
        nn.CrossEntropyLoss(reduction="batchmean")
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(None, None)  # PyTorch's positional size_average does not bind
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_gradient_flows_through_a_loss_module():
    x = mg.randn(3, 4, requires_grad=True)
    nn.CrossEntropyLoss()(x, mg.tensor([0, 1, 2])).backward()
    np.testing.assert_allclose(x.grad.data.sum(axis=1), np.zeros(3), atol=1e-6)
