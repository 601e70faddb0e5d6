"""Conv2d (conv.py): weight shapes for groups/depthwise/pointwise, validation messages,
padding strings and modes, default init bounds, forward against F.conv2d, repr."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


@pytest.fixture(autouse=True)
def seed():
    mg.manual_seed(0)


def test_weight_shapes():
    assert nn.Conv2d(4, 8, 3).weight.shape == (8, 4, 3, 3)
    assert nn.Conv2d(4, 8, (3, 5), groups=2).weight.shape == (8, 2, 3, 5)
    depthwise = nn.Conv2d(6, 6, 3, groups=6)
    assert depthwise.weight.shape == (6, 1, 3, 3)
    pointwise = nn.Conv2d(6, 10, 1)
    assert pointwise.weight.shape == (10, 6, 1, 1) and pointwise.bias.shape == (10,)
    assert nn.Conv2d(2, 2, 3, bias=False).bias is None


def test_attributes_are_normalised_to_pairs():
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, dilation=2)
    assert conv.kernel_size == (3, 3) and conv.stride == (2, 2)
    assert conv.padding == (1, 1) and conv.dilation == (2, 2)


def test_groups_must_divide_the_channels():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(5\) must be divisible by "
                                         r"groups \(2\)"):
        nn.Conv2d(5, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: out_channels \(3\) must be divisible by "
                                         r"groups \(2\)"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer, got 0"):
        nn.Conv2d(4, 4, 3, groups=0)


def test_padding_validation():
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided "
                                         r"convolutions \(stride=\(2, 2\)\)"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of .* but got "
                                         "padding_mode='mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")


def test_forward_matches_the_functional():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    x = mg.randn(2, 4, 7, 7)
    out = conv(x)
    assert out.shape == (2, 6, 4, 4)
    expected = F.conv2d(x, conv.weight, conv.bias, 2, 1, 1, 2)
    np.testing.assert_array_equal(out.data, expected.data)
    out.sum().backward()
    assert conv.weight.grad.shape == conv.weight.shape and conv.bias.grad.shape == (6,)
    np.testing.assert_allclose(conv.bias.grad.data, np.full(6, 2 * 16.0))


def test_depthwise_convolution_treats_each_channel_alone():
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    x = mg.randn(1, 3, 5, 5)
    out = conv(x)
    for c in range(3):
        single = F.conv2d(x[:, c:c + 1], conv.weight[c:c + 1], padding=1)
        np.testing.assert_allclose(out.data[:, c:c + 1], single.data, rtol=1e-5, atol=1e-6)


def test_same_padding_keeps_the_size_for_every_padding_mode():
    x = mg.randn(1, 2, 6, 5)
    for mode in ("zeros", "reflect", "replicate", "circular"):
        conv = nn.Conv2d(2, 3, (4, 3), padding="same", padding_mode=mode)
        assert conv(x).shape == (1, 3, 6, 5)
    assert nn.Conv2d(2, 3, 3, padding="valid")(x).shape == (1, 3, 4, 3)


def test_reflect_padding_mode_equals_explicit_pad():
    conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect")
    x = mg.randn(1, 2, 5, 6)
    expected = F.conv2d(F.pad(x, (2, 2, 1, 1), mode="reflect"), conv.weight, conv.bias)
    np.testing.assert_array_equal(conv(x).data, expected.data)


def test_default_init_bounds_use_the_group_fan_in():
    conv = nn.Conv2d(16, 32, 3, groups=4)
    bound = 1 / math.sqrt(4 * 3 * 3)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound


def test_repr():
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(nn.Conv2d(4, 4, (3, 1), stride=2, padding=1, dilation=2, groups=4, bias=False,
                          padding_mode="circular")) == (
        "Conv2d(4, 4, kernel_size=(3, 1), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "groups=4, bias=False, padding_mode=circular)")
    assert repr(nn.Conv2d(1, 1, 3, padding="same")) == (
        "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=same)")
