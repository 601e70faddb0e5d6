"""minigrad.models.MobileNet: blocks, shapes, parameter counts and cost, errors, training."""

import math
from itertools import pairwise

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import digits_split_indices, load_digits
from minigrad.models import ConvBNReLU, DepthwiseSeparableConv, MobileNet
from minigrad.nn import functional as F
from minigrad.optim import Adam


def separable_block_parameters(c_in: int, c_out: int) -> int:
    """depthwise 3x3 (9 c_in) + pointwise 1x1 (c_in c_out) + two BatchNorms (2 c_in + 2 c_out)."""
    return 9 * c_in + c_in * c_out + 2 * c_in + 2 * c_out


def standard_block_parameters(c_in: int, c_out: int) -> int:
    """3x3 conv (9 c_in c_out) + BatchNorm (2 c_out)."""
    return 9 * c_in * c_out + 2 * c_out


def mobilenet_parameters(in_channels, num_classes, stem, channels, depthwise=True) -> int:
    """stem conv + BN, the blocks, the Linear classifier (weights and bias)."""
    block = separable_block_parameters if depthwise else standard_block_parameters
    widths = [stem, *channels]
    return (9 * in_channels * stem + 2 * stem
            + sum(block(a, b) for a, b in pairwise(widths))
            + channels[-1] * num_classes + num_classes)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_block_is_depthwise_then_pointwise():
    block = DepthwiseSeparableConv(4, 8, stride=2)
    dw, pw = block.depthwise.conv, block.pointwise.conv
    assert (dw.groups, dw.stride, dw.padding, dw.bias) == (4, (2, 2), (1, 1), None)
    assert dw.weight.shape == (4, 1, 3, 3)
    assert (pw.groups, pw.stride, pw.bias) == (1, (1, 1), None)
    assert pw.weight.shape == (8, 4, 1, 1)
    assert count(block) == separable_block_parameters(4, 8)


def test_block_forward_equals_the_ops_written_out():
    mg.manual_seed(0)
    block = DepthwiseSeparableConv(3, 5).eval()
    x = mg.randn(2, 3, 6, 6)

    def bn(y, layer):
        return F.batch_norm(y, layer.running_mean, layer.running_var, layer.weight, layer.bias)

    hidden = F.relu(bn(F.conv2d(x, block.depthwise.conv.weight, padding=1, groups=3),
                       block.depthwise.bn))
    expected = F.relu(bn(F.conv2d(hidden, block.pointwise.conv.weight), block.pointwise.bn))
    np.testing.assert_allclose(block(x).detach().numpy(), expected.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, stride, expected", [(8, 1, 8), (8, 2, 4), (7, 2, 4)])
def test_stride_sets_the_output_size(size, stride, expected):
    out = DepthwiseSeparableConv(2, 6, stride=stride)(mg.randn(3, 2, size, size))
    assert out.shape == (3, 6, expected, expected)


def test_default_config_parameter_count():
    model = MobileNet()
    assert count(model) == mobilenet_parameters(1, 10, 16, [32, 64, 128]) == 13898


def test_standard_twin_has_same_widths_and_more_parameters():
    twin = MobileNet(depthwise=False)
    assert isinstance(twin.blocks[0], ConvBNReLU)
    assert twin.blocks[2].conv.weight.shape == (128, 64, 3, 3)
    assert count(twin) == mobilenet_parameters(1, 10, 16, [32, 64, 128], depthwise=False)
    assert count(twin) == 98682


@pytest.mark.parametrize("c_in, c_out", [(16, 32), (64, 128), (256, 256)])
def test_conv_cost_ratio_is_one_over_cout_plus_one_over_nine(c_in, c_out):
    """Howard et al. 2017, Eq. 5: (9 c_in + c_in c_out) / (9 c_in c_out) = 1/c_out + 1/9."""
    separable = DepthwiseSeparableConv(c_in, c_out)
    standard = ConvBNReLU(c_in, c_out, 3)
    conv_weights = (separable.depthwise.conv.weight.numel()
                    + separable.pointwise.conv.weight.numel())
    ratio = conv_weights / standard.conv.weight.numel()
    assert math.isclose(ratio, 1 / c_out + 1 / 9)


def test_width_mult_scales_every_layer():
    model = MobileNet(width_mult=0.5)
    assert model.stem.conv.weight.shape == (8, 1, 3, 3)
    assert [b.pointwise.conv.out_channels for b in model.blocks] == [16, 32, 64]
    assert count(model) == mobilenet_parameters(1, 10, 8, [16, 32, 64])


@pytest.mark.parametrize("in_channels, size", [(1, 8), (1, 28), (3, 32)])
def test_output_shape_for_digits_mnist_and_cifar(in_channels, size):
    mg.manual_seed(0)
    model = MobileNet(in_channels=in_channels, num_classes=10)
    logits = model(mg.randn(2, in_channels, size, size))
    assert logits.shape == (2, 10)
    assert np.isfinite(logits.detach().numpy()).all()


def test_state_dict_names():
    keys = list(MobileNet(channels=(4,), strides=(1,), stem_channels=2).state_dict())
    assert keys[:6] == ["stem.conv.weight", "stem.bn.weight", "stem.bn.bias",
                        "stem.bn.running_mean", "stem.bn.running_var",
                        "stem.bn.num_batches_tracked"]
    assert "blocks.0.depthwise.conv.weight" in keys
    assert "blocks.0.pointwise.bn.running_var" in keys
    assert keys[-2:] == ["classifier.weight", "classifier.bias"]


def test_train_mode_updates_running_stats_and_eval_uses_them():
    mg.manual_seed(0)
    model = MobileNet(channels=(4,), strides=(1,), stem_channels=2)
    x = mg.randn(4, 1, 8, 8) * 3 + 1
    model(x)
    assert model.stem.bn.num_batches_tracked.item() == 1
    assert not np.allclose(model.stem.bn.running_mean.numpy(), 0)
    model.eval()
    one = model(x[:1]).detach().numpy()
    np.testing.assert_allclose(one, model(x).detach().numpy()[:1], rtol=1e-5, atol=1e-6)


def test_dropout_before_the_classifier():
    model = MobileNet(dropout=0.2)
    assert model.dropout.p == 0.2


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"got 2 channels \(8, 16\) and 1 strides \(1,\)"):
        MobileNet(channels=(8, 16), strides=(1,))
    with pytest.raises(ValueError, match="width_mult must be positive, got 0"):
        MobileNet(width_mult=0)
    with pytest.raises(ValueError, match=r"stem_channels=0"):
        MobileNet(stem_channels=0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, H, W\), got "
                                         r"\(2, 3, 8, 8\)"):
        MobileNet()(mg.randn(2, 3, 8, 8))


def test_a_few_adam_steps_lower_the_loss():
    mg.manual_seed(0)
    model = MobileNet(channels=(8, 16), strides=(1, 2), stem_channels=4, num_classes=2)
    x = mg.randn(32, 1, 8, 8)
    y = mg.tensor((x.numpy()[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64))
    optimizer = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


@pytest.mark.slow
def test_default_config_reaches_97_percent_on_uci_digits():
    """The default MobileNet trained as the docs say: 10 epochs of Adam (lr 1e-2, cosine to 0,
    batch 64, label smoothing 0.1) on the stratified 80% split; 98.3% when last run."""
    images, labels = load_digits()
    images, labels = images.numpy()[:, None], labels.numpy()
    train, test = digits_split_indices(split_seed=0, test_fraction=0.2)
    mg.manual_seed(0)
    model = MobileNet()
    optimizer = Adam(model.parameters(), lr=1e-2)
    epochs, batch, steps = 10, 64, 0
    total_steps = epochs * math.ceil(len(train) / batch)
    shuffle = np.random.default_rng(1)
    for _ in range(epochs):
        order = shuffle.permutation(train)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            loss = F.cross_entropy(model(mg.tensor(images[rows])), mg.tensor(labels[rows]),
                                   label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            # cosine annealing to 0 (Loshchilov & Hutter 2017), written out per step
            optimizer.param_groups[0]["lr"] = 0.5e-2 * (1 + math.cos(math.pi * steps / total_steps))
    model.eval()
    with mg.no_grad():
        predicted = model(mg.tensor(images[test])).numpy().argmax(axis=1)
    assert (predicted == labels[test]).mean() >= 0.97
