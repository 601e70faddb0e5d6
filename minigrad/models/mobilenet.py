"""A small MobileNet (Howard et al. 2017, "MobileNets: Efficient Convolutional Neural Networks
for Mobile Vision Applications"), and its standard-convolution twin for comparing cost.

A standard 3x3 convolution from Cin to Cout channels mixes space and channels at once:
9 Cin Cout weights and as many multiply-adds per output pixel. MobileNet factors it (Sec. 3.1)
into a *depthwise* 3x3 convolution (`groups=Cin`: one 3x3 filter per channel, 9 Cin weights)
followed by a *pointwise* 1x1 convolution (Cin Cout weights) that mixes the channels. Each is
followed by BatchNorm and ReLU. Cost ratio (Eq. 5), for kernel size k:

    (k^2 Cin + Cin Cout) / (k^2 Cin Cout) = 1 / Cout + 1 / k^2

so with k = 3 and 64+ output channels the factored block costs about 1/8 of the plain one, in
both weights and FLOPs (per output pixel). docs/concepts/models.md derives it.

    MobileNet()                    # the default: 8x8 one-channel digits, 10 classes
    MobileNet(depthwise=False)     # same widths and strides, plain 3x3 convolutions
    MobileNet(in_channels=3, num_classes=10, width_mult=2.0)   # CIFAR-10-sized input

Layout: stem (3x3 conv -> BN -> ReLU), the blocks, global average pooling, Flatten,
Dropout, Linear. Global average pooling makes the network accept any input size (8x8
digits, 28x28 MNIST, 32x32 CIFAR, ...).
"""

from __future__ import annotations

from minigrad import nn
from minigrad.tensor import Tensor


class ConvBNReLU(nn.Module):
    """Conv2d (no bias: the BatchNorm after it has one) -> BatchNorm2d -> ReLU.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: odd square kernel; padding is kernel_size // 2 so stride 1 keeps H, W.
        stride: stride of the convolution.
        groups: 1 for a standard convolution, in_channels for a depthwise one.

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=kernel_size // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class DepthwiseSeparableConv(nn.Module):
    """MobileNet's block (Howard et al. 2017, Fig. 3): depthwise 3x3 conv -> BN -> ReLU ->
    pointwise 1x1 conv -> BN -> ReLU.

    The depthwise convolution (`depthwise.conv`, groups=in_channels, padding 1) filters each
    channel on its own and carries the stride; the pointwise one (`pointwise.conv`) mixes the
    channels. Parameters: 9 in + in out weights, plus 2 (in + out) BatchNorm affine parameters.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the depthwise convolution (2 halves H and W).

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = ConvBNReLU(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvBNReLU(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def _scaled(channels: int, width_mult: float) -> int:
    # MobileNet's width multiplier alpha (Sec. 3.3) scales every layer's channels; torchvision
    # also rounds to a multiple of 8, which would distort channel counts this small.
    return max(1, round(channels * width_mult))


class MobileNet(nn.Module):
    """A MobileNet-v1-style classifier: stem, depthwise-separable blocks, pooling, Linear.

    The defaults are sized for the 8x8 UCI digits (one channel, 10 classes): 13,898
    parameters, a stride-1 stem and strides (1, 1, 2), so the 8x8 input ends as 4x4 maps of
    128 channels before global pooling. Trained 10 epochs with Adam (lr 1e-2, cosine
    schedule, batch 64, label smoothing 0.1) it reaches about 98% test accuracy
    (tests/models/test_mobilenet.py).

    Module names: `stem`, `blocks.{i}` (DepthwiseSeparableConv, or ConvBNReLU when
    depthwise=False), `pool`, `flatten`, `dropout`, `classifier`.

    Args:
        in_channels: channels of the input images (1 for digits/MNIST, 3 for CIFAR).
        num_classes: number of output logits.
        channels: output channels of each block, before width_mult.
        strides: stride of each block (same length as channels).
        stem_channels: output channels of the stem convolution, before width_mult.
        width_mult: MobileNet's width multiplier alpha: every channel count becomes
            max(1, round(alpha * c)). Parameters and FLOPs scale by about alpha^2.
        dropout: probability of the Dropout before the classifier.
        depthwise: True for depthwise-separable blocks; False for the standard-convolution
            twin (each block one 3x3 ConvBNReLU with the same widths and strides), to
            compare cost and accuracy.
        stem_stride: stride of the stem convolution (2 as in the paper for large images;
            1 keeps the resolution of small ones).

    Shape:
        (N, in_channels, H, W) float -> (N, num_classes) logits.

    Raises:
        ValueError: channels and strides of different lengths, a non-positive channel
            count, stride or width_mult, or dropout outside [0, 1).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 channels: tuple[int, ...] = (32, 64, 128), strides: tuple[int, ...] = (1, 1, 2),
                 stem_channels: int = 16, width_mult: float = 1.0, dropout: float = 0.0,
                 depthwise: bool = True, stem_stride: int = 1) -> None:
        super().__init__()
        channels, strides = tuple(channels), tuple(strides)
        if len(channels) != len(strides):
            raise ValueError(f"MobileNet: channels and strides need one entry per block, got "
                             f"{len(channels)} channels {channels} and {len(strides)} strides "
                             f"{strides}")
        sizes = (in_channels, num_classes, stem_channels, *channels)
        if any(c <= 0 for c in sizes) or any(s <= 0 for s in (*strides, stem_stride)):
            raise ValueError(f"MobileNet: channel counts and strides must be positive, got "
                             f"in_channels={in_channels}, num_classes={num_classes}, "
                             f"stem_channels={stem_channels}, channels={channels}, "
                             f"strides={strides}, stem_stride={stem_stride}")
        if width_mult <= 0:
            raise ValueError(f"MobileNet: width_mult must be positive, got {width_mult}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MobileNet: dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.num_classes, self.depthwise = in_channels, num_classes, depthwise
        width = _scaled(stem_channels, width_mult)
        self.stem = ConvBNReLU(in_channels, width, 3, stem_stride)
        blocks = []
        for c, stride in zip(channels, strides):
            out = _scaled(c, width_mult)
            blocks.append(DepthwiseSeparableConv(width, out, stride) if depthwise
                          else ConvBNReLU(width, out, 3, stride))
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits for a batch of images.

        Args:
            x: (N, in_channels, H, W) float tensor.

        Returns:
            (N, num_classes) logits.

        Raises:
            ValueError: x is not 4-D or has another number of channels.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"MobileNet: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}")
        x = self.blocks(self.stem(x))
        return self.classifier(self.dropout(self.flatten(self.pool(x))))
