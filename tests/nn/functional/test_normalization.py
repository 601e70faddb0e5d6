"""layer_norm and batch_norm: values against the definitions, the fused backward by finite
differences, running statistics (unbiased, in place), evaluation mode and the errors."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck

from tests.strategies import as_tensor, make_layout


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def t64(array, requires_grad=False):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


# -- layer_norm -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,normalized", [((4, 6), (6,)), ((2, 3, 4), (3, 4)),
                                              ((5,), 5)], ids=str)
def test_layer_norm_forward(shape, normalized):
    n_shape = (normalized,) if isinstance(normalized, int) else normalized
    x, w, b = rand(*shape), rand(*n_shape, seed=1), rand(*n_shape, seed=2)
    axes = tuple(range(len(shape) - len(n_shape), len(shape)))
    out = F.layer_norm(t64(x), normalized, t64(w), t64(b), eps=1e-3)
    np.testing.assert_allclose(out.data, normalize(x, axes, 1e-3) * w + b, rtol=1e-12)
    plain = F.layer_norm(t64(x), normalized)
    np.testing.assert_allclose(plain.data, normalize(x, axes, 1e-5), rtol=1e-12)
    np.testing.assert_allclose(plain.data.mean(axis=axes), 0, atol=1e-12)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 2, 3), (2, 3))], ids=str)
def test_layer_norm_gradcheck(affine, shape, normalized):
    x = t64(rand(*shape), requires_grad=True)
    w = t64(rand(*normalized, seed=1), requires_grad=True)
    b = t64(rand(*normalized, seed=2), requires_grad=True)
    if affine == "both":
        assert gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), (x, w, b))
    elif affine == "weight":
        assert gradcheck(lambda x, w: F.layer_norm(x, normalized, w), (x, w))
    else:
        assert gradcheck(lambda x: F.layer_norm(x, normalized), x)


def test_layer_norm_non_contiguous_input():
    x = make_layout(rand(3, 5), "transposed")
    out = F.layer_norm(as_tensor(x), (5,))
    np.testing.assert_allclose(out.data, normalize(np.ascontiguousarray(x), (1,), 1e-5),
                               rtol=1e-12)


def test_layer_norm_errors():
    x = mg.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"normalized_shape=\(3,\), expected input with shape "
                                           r"\(\*, 3\), got \(3, 4\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(RuntimeError, match=r"weight of shape normalized_shape=\(4,\), got \(3,\)"):
        F.layer_norm(x, (4,), weight=mg.ones(3))
    with pytest.raises(RuntimeError, match=r"input and bias must have the same dtype, got float32 "
                                           r"and float64"):
        F.layer_norm(x, 4, bias=mg.zeros(4, dtype=mg.float64))


# -- batch_norm -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 2)], ids=str)
def test_batch_norm_training_forward_and_running_stats(shape):
    x, w, b = rand(*shape), rand(3, seed=1), rand(3, seed=2)
    axes = (0,) + tuple(range(2, len(shape)))
    mean0, var0 = rand(3, seed=3), np.abs(rand(3, seed=4)) + 0.5
    running_mean, running_var = t64(mean0), t64(var0)
    out = F.batch_norm(t64(x), running_mean, running_var, t64(w), t64(b), training=True,
                       momentum=0.2, eps=1e-3)
    shape_c = (1, 3) + (1,) * (len(shape) - 2)
    expected = normalize(x, axes, 1e-3) * w.reshape(shape_c) + b.reshape(shape_c)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    # running estimates: the batch mean, and the *unbiased* batch variance (ddof=1)
    np.testing.assert_allclose(running_mean.data, 0.8 * mean0 + 0.2 * x.mean(axis=axes),
                               rtol=1e-12)
    np.testing.assert_allclose(running_var.data, 0.8 * var0 + 0.2 * x.var(axis=axes, ddof=1),
                               rtol=1e-12)
    assert running_mean._version == 1 and running_var._version == 1


def test_batch_norm_evaluation_uses_running_stats():
    x, mean, var = rand(4, 3, 2), rand(3, seed=1), np.abs(rand(3, seed=2)) + 0.5
    running_mean, running_var = t64(mean), t64(var)
    out = F.batch_norm(t64(x), running_mean, running_var, eps=1e-4)
    expected = (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-4)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    np.testing.assert_array_equal(running_mean.data, mean)  # untouched in evaluation
    assert running_mean._version == 0


def test_batch_norm_training_without_running_stats():
    x = rand(5, 2)
    out = F.batch_norm(t64(x), None, None, training=True)
    np.testing.assert_allclose(out.data, normalize(x, (0,), 1e-5), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 3), (2, 2, 2, 2)], ids=str)
def test_batch_norm_gradcheck(training, shape):
    x = t64(rand(*shape), requires_grad=True)
    w = t64(rand(2, seed=1), requires_grad=True)
    b = t64(rand(2, seed=2), requires_grad=True)
    stats = rand(2, seed=3), np.abs(rand(2, seed=4)) + 0.5

    def fn(x, w, b):  # fresh running statistics per call: finite differences call it often
        return F.batch_norm(x, t64(stats[0]), t64(stats[1]), w, b, training=training)

    assert gradcheck(fn, (x, w, b))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        F.batch_norm(mg.randn(1, 3), mg.zeros(3), mg.ones(3), training=True)
    with pytest.raises(RuntimeError, match=r"running_mean should have shape \(3,\) for input of "
                                           r"shape \(2, 3\), got \(4,\)"):
        F.batch_norm(mg.randn(2, 3), mg.zeros(4), mg.ones(4), training=True)
    with pytest.raises(RuntimeError, match=r"must be given in evaluation mode"):
        F.batch_norm(mg.randn(2, 3), None, None)
    with pytest.raises(RuntimeError, match=r"at least 2 dimensions, got \(3,\)"):
        F.batch_norm(mg.randn(3), mg.zeros(3), mg.ones(3))
