"""BatchNorm1d/2d and LayerNorm (normalization.py): parameters and buffers, training vs
evaluation, running statistics (momentum and cumulative), options, input checks, repr."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def batch(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 2 + 1


def test_batchnorm_parameters_and_buffers():
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.weight.data, np.ones(3))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(3))
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(3))
    assert bn.num_batches_tracked.dtype == mg.int64 and bn.num_batches_tracked.shape == ()
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]


def test_batchnorm2d_training_normalises_and_updates_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.5)
    x = batch(4, 3, 5, 5)
    out = bn(mg.tensor(x)).data
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    n = 4 * 5 * 5
    np.testing.assert_allclose(bn.running_mean.data, 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.5 + 0.5 * var * n / (n - 1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1


def test_batchnorm_eval_uses_running_stats():
    bn = nn.BatchNorm1d(2)
    with mg.no_grad():
        bn.running_mean.copy_(np.array([1.0, -1.0]))
        bn.running_var.copy_(np.array([4.0, 0.25]))
    bn.eval()
    out = bn(mg.tensor([[3.0, 0.0]])).data  # one example is fine in evaluation
    np.testing.assert_allclose(out, [[2 / np.sqrt(4 + 1e-5), 1 / np.sqrt(0.25 + 1e-5)]],
                               rtol=1e-6)
    assert bn.num_batches_tracked.item() == 0


def test_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    means = []
    for seed in range(3):
        x = batch(6, 2, seed=seed)
        means.append(x.mean(axis=0))
        bn(mg.tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean(means, axis=0), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm1d_accepts_2d_and_3d_and_refuses_others():
    bn = nn.BatchNorm1d(3)
    assert bn(mg.randn(4, 3)).shape == (4, 3)
    assert bn(mg.randn(4, 3, 7)).shape == (4, 3, 7)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input "
                                         r"of shape \(2, 3, 4, 4\)\)"):
        bn(mg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(mg.randn(2, 3, 4))


def test_batchnorm_without_affine_or_tracking():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and bn.state_dict() == {}
    assert bn.running_mean is None and bn.num_batches_tracked is None
    x = batch(5, 2)
    bn.eval()  # no running statistics: batch statistics even in evaluation
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(mg.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
    no_bias = nn.BatchNorm1d(2, bias=False)
    assert no_bias.bias is None and no_bias.weight is not None


def test_batchnorm_gradients_flow_to_weight_and_bias():
    bn = nn.BatchNorm1d(3)
    x = mg.tensor(batch(8, 3), requires_grad=True)
    (bn(x) * mg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(bn.bias.grad.data, [8.0, 16.0, 24.0], rtol=1e-6)
    np.testing.assert_allclose(bn.weight.grad.data, [0.0, 0.0, 0.0], atol=1e-4)
    assert x.grad.shape == (8, 3)


def test_batchnorm_repr_and_dtype():
    assert repr(nn.BatchNorm2d(4, momentum=None)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=None, affine=True, bias=True, "
        "track_running_stats=True)")
    bn = nn.BatchNorm1d(2, dtype=mg.float64)
    assert bn.weight.dtype == bn.running_var.dtype == mg.float64


def test_reset_running_stats():
    bn = nn.BatchNorm1d(2)
    bn(mg.randn(4, 2))
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.data, [0.0, 0.0])
    assert bn.num_batches_tracked.item() == 0


def test_layernorm():
    ln = nn.LayerNorm((3, 4))
    assert ln.weight.shape == ln.bias.shape == (3, 4) and ln.normalized_shape == (3, 4)
    x = batch(2, 3, 4)
    out = ln(mg.tensor(x)).data
    flat = x.reshape(2, -1)
    expected = (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, expected.reshape(2, 3, 4), rtol=1e-4, atol=1e-5)
    ln.eval()
    np.testing.assert_array_equal(ln(mg.tensor(x)).data, out)  # same in both modes


def test_layernorm_options_and_repr():
    assert nn.LayerNorm(5).normalized_shape == (5,)
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.parameters()) == []
    assert nn.LayerNorm(4, bias=False).bias is None
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(plain) == "LayerNorm((4,), eps=1e-05, elementwise_affine=False, bias=False)"
    with pytest.raises(RuntimeError, match=r"given normalized_shape=\(4,\)"):
        nn.LayerNorm(4)(mg.randn(2, 3))
