"""Losses: values against direct NumPy formulas, gradients by finite differences, stability at
huge logits, PyTorch's reduction rules (weighted mean, ignore_index, batchmean) and errors."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def t64(array, requires_grad=False):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def log_softmax(x, axis=1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


LOGITS = rand(5, 4)
TARGET = np.array([1, -100, 3, 3, 0])
WEIGHT = np.array([0.5, 1.0, 2.0, 0.25])


# -- cross_entropy and nll_loss ---------------------------------------------------------------


def test_cross_entropy_is_mean_negative_log_probability():
    target = np.array([1, 2, 3, 3, 0])
    loss = F.cross_entropy(t64(LOGITS), mg.tensor(target))
    expected = -log_softmax(LOGITS)[np.arange(5), target].mean()
    assert loss.shape == () and np.isclose(loss.item(), expected, rtol=1e-12)


def test_weighted_mean_divides_by_the_weights_of_kept_targets():
    loss = F.cross_entropy(t64(LOGITS), mg.tensor(TARGET), t64(WEIGHT))
    kept = TARGET != -100
    picked = -log_softmax(LOGITS)[np.arange(5)[kept], TARGET[kept]] * WEIGHT[TARGET[kept]]
    assert np.isclose(loss.item(), picked.sum() / WEIGHT[TARGET[kept]].sum(), rtol=1e-12)
    none = F.cross_entropy(t64(LOGITS), mg.tensor(TARGET), t64(WEIGHT), reduction="none")
    assert none.data[1] == 0.0 and np.isclose(none.data.sum(), picked.sum(), rtol=1e-12)
    total = F.cross_entropy(t64(LOGITS), mg.tensor(TARGET), t64(WEIGHT), reduction="sum")
    assert np.isclose(total.item(), picked.sum(), rtol=1e-12)


def test_label_smoothing_mixes_in_the_uniform_distribution():
    eps, target = 0.2, np.array([1, 2, 3, 3, 0])
    loss = F.cross_entropy(t64(LOGITS), mg.tensor(target), label_smoothing=eps)
    smoothed = np.full((5, 4), eps / 4)
    smoothed[np.arange(5), target] += 1 - eps
    assert np.isclose(loss.item(), -(smoothed * log_softmax(LOGITS)).sum(1).mean(), rtol=1e-12)


def test_probability_targets():
    p = np.abs(rand(5, 4, seed=1))
    p /= p.sum(1, keepdims=True)
    loss = F.cross_entropy(t64(LOGITS), t64(p), t64(WEIGHT), reduction="none")
    np.testing.assert_allclose(loss.data, -(p * WEIGHT * log_softmax(LOGITS)).sum(1), rtol=1e-12)
    mean = F.cross_entropy(t64(LOGITS), t64(p))
    assert np.isclose(mean.item(), -(p * log_softmax(LOGITS)).sum(1).mean(), rtol=1e-12)


def test_spatial_and_unbatched_inputs():
    x, target = rand(2, 3, 4), np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
    loss = F.cross_entropy(t64(x), mg.tensor(target), reduction="none")
    expected = -np.take_along_axis(log_softmax(x), target[:, None], 1)[:, 0]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    single = F.cross_entropy(t64(x[0, :, 0]), mg.tensor(0))
    assert np.isclose(single.item(), expected[0, 0], rtol=1e-12)


@pytest.mark.parametrize("case", ["indices", "ignore_weight", "smoothing", "probabilities",
                                  "spatial", "sum_smoothing_weight"])
def test_cross_entropy_gradcheck(case):
    x = t64(LOGITS, requires_grad=True)
    target, kwargs = mg.tensor(np.array([1, 2, 3, 3, 0])), {}
    if case == "ignore_weight":
        target, kwargs = mg.tensor(TARGET), {"weight": t64(WEIGHT)}
    elif case == "smoothing":
        target, kwargs = mg.tensor(TARGET), {"label_smoothing": 0.3}
    elif case == "probabilities":
        p = np.abs(rand(5, 4, seed=1))
        target, kwargs = t64(p / p.sum(1, keepdims=True), requires_grad=True), {"weight":
                                                                                 t64(WEIGHT)}
        assert gradcheck(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1, **kwargs),
                         (x, target))
        return
    elif case == "spatial":
        x = t64(rand(2, 3, 2, 2), requires_grad=True)
        target = mg.tensor(np.array([[[0, 2], [1, 1]], [[2, -100], [0, 1]]]))
    elif case == "sum_smoothing_weight":
        target, kwargs = mg.tensor(TARGET), {"weight": t64(WEIGHT), "label_smoothing": 0.2,
                                              "reduction": "sum"}
    assert gradcheck(lambda x: F.cross_entropy(x, target, **kwargs), x)


def test_gradient_is_softmax_minus_onehot():
    x = t64(LOGITS, requires_grad=True)
    target = np.array([1, 2, 3, 3, 0])
    F.cross_entropy(x, mg.tensor(target), reduction="sum").backward()
    expected = np.exp(log_softmax(LOGITS))
    expected[np.arange(5), target] -= 1
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-15)


def test_stable_for_logits_of_magnitude_1e4():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=np.float32)
    x = mg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor(np.array([0, 0, 1])), reduction="none")
    # exact values: 0, 2e4, log 2 (two logits tie at the top)
    np.testing.assert_allclose(loss.data, [0.0, 2e4, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [[0, 0, 0], [-1, 0, 1], [0.5, -0.5, 0]], atol=1e-6)
    smoothed = F.cross_entropy(mg.tensor(logits), mg.tensor(np.array([0, 0, 1])),
                               label_smoothing=0.1)
    assert np.isfinite(smoothed.item())


def test_nll_loss_all_ignored_is_nan_for_mean_and_zero_for_sum():
    log_p = t64(log_softmax(LOGITS))
    target = mg.tensor(np.full(5, -100))
    assert np.isnan(F.nll_loss(log_p, target).item())
    assert F.nll_loss(log_p, target, reduction="sum").item() == 0.0


@pytest.mark.filterwarnings("ignore:(invalid value|divide by zero) encountered:RuntimeWarning")
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy", "cross_entropy_smoothing"])
def test_all_ignored_mean_is_nan_but_its_gradient_is_zero(loss):
    """PyTorch skips ignored targets in backward too: zeros, not the NaN of 0 / 0."""
    x = t64(LOGITS, requires_grad=True)
    target = mg.tensor(np.full(5, -100))
    if loss == "nll_loss":
        out = F.nll_loss(F.log_softmax(x, 1), target)
    else:
        out = F.cross_entropy(x, target, label_smoothing=0.1 if "smoothing" in loss else 0.0)
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((5, 4)))


def test_nll_loss_zero_total_weight_of_kept_targets_gives_nan_gradient_there():
    """Targets that are kept but weigh 0 get 0 / 0 = NaN, ignored ones 0 (PyTorch's rule)."""
    log_p = t64(log_softmax(LOGITS), requires_grad=True)
    target = np.array([0, 1, -100, 0, 1])
    F.nll_loss(log_p, mg.tensor(target), weight=t64([0.0, 0.0, 1.0, 1.0])).backward()
    expected = np.zeros((5, 4))
    expected[[0, 1, 3, 4], [0, 1, 0, 1]] = np.nan
    np.testing.assert_array_equal(log_p.grad.data, expected)


def test_nll_loss_custom_ignore_index_and_gradient():
    log_p = t64(log_softmax(LOGITS), requires_grad=True)
    target = np.array([1, 2, 3, 3, 0])
    loss = F.nll_loss(log_p, mg.tensor(target), ignore_index=3)
    assert np.isclose(loss.item(), -log_softmax(LOGITS)[[0, 1, 4], [1, 2, 0]].mean(), rtol=1e-12)
    loss.backward()
    expected = np.zeros((5, 4))
    expected[[0, 1, 4], [1, 2, 0]] = -1 / 3
    np.testing.assert_allclose(log_p.grad.data, expected, rtol=1e-12)


def test_classification_errors():
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match=r"input batch_size \(3\) to match target batch_size"
                                         r" \(2\)"):
        F.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"target 7 is out of bounds for 4 classes"):
        F.cross_entropy(x, mg.tensor([0, 1, 7]))
    with pytest.raises(IndexError, match=r"target -3 is out of bounds"):
        F.nll_loss(x, mg.tensor([0, 1, -3]))
    with pytest.raises(RuntimeError, match=r"integer \(int64\) class-index target.*float32"):
        F.cross_entropy(x, mg.rand(3))
    with pytest.raises(RuntimeError, match=r"class probabilities and must be floating point"):
        F.cross_entropy(x, mg.ones(3, 4, dtype=mg.int64))
    with pytest.raises(RuntimeError, match=r"ignore_index \(1\) is not supported"):
        F.cross_entropy(x, mg.rand(3, 4), ignore_index=1)
    with pytest.raises(RuntimeError, match=r"weight must have shape \(4,\).*\(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), weight=mg.ones(3))
    with pytest.raises(RuntimeError, match=r"expected target of shape \(2, 4\), got \(2, 5\)"):
        F.nll_loss(mg.randn(2, 3, 4), mg.zeros(2, 5, dtype=mg.int64))
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', got "
                                         r"'avg'"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match=r"label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), label_smoothing=1.5)


# -- regression losses ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_l1_values_and_gradients(reduction):
    a, b = rand(3, 4), rand(3, 4, seed=1)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(F.mse_loss(t64(a), t64(b), reduction=reduction).data,
                               reduce((a - b) ** 2), rtol=1e-12)
    np.testing.assert_allclose(F.l1_loss(t64(a), t64(b), reduction=reduction).data,
                               reduce(np.abs(a - b)), rtol=1e-12)
    x, y = t64(a, requires_grad=True), t64(b, requires_grad=True)
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (x, y))
    assert gradcheck(lambda x, y: F.l1_loss(x, y, reduction=reduction), (x, y))


def test_weighted_regression_mean_divides_by_the_weight_sum():
    a, b, w = rand(3, 4), rand(3, 4, seed=1), np.abs(rand(3, 4, seed=2))
    loss = F.mse_loss(t64(a), t64(b), weight=t64(w))
    assert np.isclose(loss.item(), (w * (a - b) ** 2).sum() / w.sum(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) must have the input's shape"):
        F.l1_loss(t64(a), t64(b), weight=t64(w[0]))


def test_regression_losses_warn_when_shapes_differ():
    with pytest.warns(UserWarning, match=r"target of shape \(4,\).*input's shape \(3, 4\)"):
        loss = F.mse_loss(t64(rand(3, 4)), t64(rand(4, seed=1)), reduction="none")
    assert loss.shape == (3, 4)
    with pytest.raises(RuntimeError, match=r"\(3, 4\) and target of shape \(5,\) do not"), \
            pytest.warns(UserWarning):
        F.l1_loss(t64(rand(3, 4)), t64(rand(5)))


# -- binary cross-entropy with logits ---------------------------------------------------------


def test_bce_with_logits_matches_the_definition():
    x, y = rand(4, 3) * 3, np.random.default_rng(1).uniform(size=(4, 3))
    w, pw = np.abs(rand(4, 3, seed=2)), np.array([0.5, 1.0, 3.0])
    sig = 1 / (1 + np.exp(-x))
    expected = -w * (pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    loss = F.binary_cross_entropy_with_logits(t64(x), t64(y), t64(w), reduction="none",
                                              pos_weight=t64(pw))
    np.testing.assert_allclose(loss.data, expected, rtol=1e-10)
    mean = F.binary_cross_entropy_with_logits(t64(x), t64(y))
    plain = -(y * np.log(sig) + (1 - y) * np.log(1 - sig)).mean()
    assert np.isclose(mean.item(), plain, rtol=1e-10)


def test_bce_with_logits_is_stable_and_exact_at_huge_logits():
    x = mg.tensor([[200.0, -200.0, 0.0, 1e4]], requires_grad=True)
    y = mg.tensor([[0.0, 1.0, 1.0, 1.0]])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [[200.0, 200.0, np.log(2), 0.0]], rtol=1e-6)
    loss.sum().backward()
    # d/dx = sigmoid(x) - y, also exactly 0.5 - 1 at x = 0
    np.testing.assert_allclose(x.grad.data, [[1.0, -1.0, -0.5, 0.0]], atol=1e-7)


@pytest.mark.parametrize("with_weights", [False, True])
def test_bce_with_logits_gradcheck(with_weights):
    x = t64(rand(3, 4) * 2, requires_grad=True)
    y = t64(np.random.default_rng(1).uniform(size=(3, 4)), requires_grad=True)
    kwargs = {"weight": t64(np.abs(rand(3, 4, seed=2))),
              "pos_weight": t64([0.5, 2.0, 1.0, 3.0])} if with_weights else {}
    assert gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, **kwargs), (x, y))


def test_bce_with_logits_errors():
    with pytest.raises(ValueError, match=r"target size \(3,\) must be the same as input size"
                                         r" \(3, 4\)"):
        F.binary_cross_entropy_with_logits(mg.randn(3, 4), mg.rand(3))
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(5,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(mg.randn(3, 4), mg.rand(3, 4), pos_weight=mg.ones(5))


# -- KL divergence ----------------------------------------------------------------------------


def test_kl_div_reductions():
    log_q = log_softmax(rand(3, 5))
    p = np.exp(log_softmax(rand(3, 5, seed=1)))
    p[0, 2] = 0.0  # contributes 0 (0 log 0 = 0), not NaN
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * log_q
    x, t = t64(log_q), t64(p)
    assert np.isclose(F.kl_div(x, t, reduction="batchmean").item(), terms.sum() / 3, rtol=1e-12)
    assert np.isclose(F.kl_div(x, t, reduction="sum").item(), terms.sum(), rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(x, t, reduction="none").data, terms, rtol=1e-12)
    with pytest.warns(UserWarning, match="batchmean"):
        assert np.isclose(F.kl_div(x, t).item(), terms.mean(), rtol=1e-12)
    log_p = t64(np.log(np.exp(log_softmax(rand(3, 5, seed=1)))))
    as_log = F.kl_div(x, log_p, reduction="batchmean", log_target=True)
    p_full = np.exp(log_p.data)
    assert np.isclose(as_log.item(), (p_full * (log_p.data - log_q)).sum() / 3, rtol=1e-12)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck(log_target):
    x = t64(log_softmax(rand(3, 4)), requires_grad=True)
    target = np.exp(log_softmax(rand(3, 4, seed=1)))
    t = t64(np.log(target) if log_target else target, requires_grad=True)
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=log_target),
                     (x, t))
    with pytest.raises(ValueError, match=r"'batchmean'.*got 'average'"):
        F.kl_div(x, t, reduction="average")
