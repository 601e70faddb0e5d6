"""Closed-form FLOP counts of the models in minigrad.models, derived for our implementation."""

from itertools import pairwise

import pytest

import minigrad as mg
from minigrad.models import GPT, MLP, GPTConfig, MobileNet
from minigrad.profiler import FlopCounter, count_parameters, profile


def forward_flops(model, *inputs) -> FlopCounter:
    with FlopCounter(model) as fc, mg.no_grad():
        model(*inputs)
    return fc


def test_mlp_is_sum_of_2_in_out_n_plus_bias_plus_activations():
    mg.manual_seed(0)
    n, widths = 16, [20, 64, 32, 10]
    model = MLP(widths[0], widths[1:-1], widths[-1])
    fc = forward_flops(model, mg.randn(n, widths[0]))
    linear = sum(2 * n * a * b + n * b for a, b in pairwise(widths))
    relu = n * sum(widths[1:-1])
    assert fc.forward_flops == linear + relu
    assert count_parameters(model) == sum(a * b + b for a, b in pairwise(widths))


def conv_flops(n, c_in, c_out, hw_out, k, groups=1):
    """2 N Cout Hout Wout (Cin / groups) k k: no bias (BatchNorm follows)."""
    return 2 * n * c_out * hw_out * hw_out * (c_in // groups) * k * k


@pytest.mark.parametrize("training", [False, True])
def test_mobilenet_is_the_sum_over_its_convolutions(training):
    mg.manual_seed(0)
    n, hw = 4, 8
    blocks = ((32, 1), (64, 2), (128, 2))  # (output channels, stride) of each block
    model = MobileNet(in_channels=1, num_classes=10, stem_channels=16, stem_stride=1,
                      channels=[c for c, _ in blocks], strides=[s for _, s in blocks])
    model.train(training)
    fc = forward_flops(model, mg.randn(n, 1, hw, hw))
    bn_per_element = (6 if training else 2) + 2  # + weight and bias
    per_element = bn_per_element + 1             # + ReLU

    def conv_bn_relu(c_in, c_out, hw_out, k, groups=1):
        return conv_flops(n, c_in, c_out, hw_out, k, groups) + per_element * n * c_out * hw_out ** 2

    expected = conv_bn_relu(1, 16, 8, 3)
    c, size = 16, hw
    for c_out, stride in blocks:
        size = (size + 2 - 3) // stride + 1
        expected += conv_bn_relu(c, c, size, 3, groups=c)   # depthwise
        expected += conv_bn_relu(c, c_out, size, 1)          # pointwise
        c = c_out
    expected += n * c * size * size + n * c                  # global average pool
    expected += 2 * n * c * 10 + n * 10                      # classifier
    assert fc.forward_flops == expected


def test_depthwise_separable_block_costs_1_over_cout_plus_1_over_9_of_a_standard_one():
    mg.manual_seed(0)
    x = mg.randn(2, 1, 8, 8)
    sizes = {"stem_channels": 16, "channels": (32, 64), "strides": (1, 2)}
    separable = forward_flops(MobileNet(**sizes), x).forward_by_module
    standard = forward_flops(MobileNet(depthwise=False, **sizes), x).forward_by_module
    # block 0 keeps 8x8 and goes 16 -> 32 channels (Howard et al. 2017, Eq. 5)
    factored = separable["blocks.0.depthwise.conv"] + separable["blocks.0.pointwise.conv"]
    assert factored / standard["blocks.0.conv"] == pytest.approx(1 / 32 + 1 / 9)


def gpt_forward_flops(b, t, c, n_layer, n_head, vocab):
    """Our GPT, per forward (bias=True, dropout=0):
    embeddings: 0 (lookups) + 1 add per element;
    per block: matmuls 2 B T (3C^2 + C^2 + 4C^2 + 4C^2) = 24 B T C^2; attention
    4 B T^2 C (QK^T and PV over the full T x T, masked entries included) + 7 B H T^2 (scale,
    softmax 5, causal mask); per element of (B, T, C): 2 LayerNorms 7 each, biases
    3 + 1 + 4 + 1, GELU 4, two residual adds = 29;
    final LayerNorm 7 B T C; lm_head 2 B T C V (no bias, tied to wte)."""
    btc = b * t * c
    block = 24 * b * t * c * c + 4 * b * t * t * c + 7 * b * n_head * t * t + 29 * btc
    return btc + n_layer * block + 7 * btc + 2 * btc * vocab


def test_gpt_forward_matches_the_closed_form_and_the_2n_per_token_rule():
    mg.manual_seed(0)
    cfg = GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=4, n_embd=32)
    model = GPT(cfg)
    b, t = 2, 12
    idx = mg.randint(0, cfg.vocab_size, (b, t))
    fc = forward_flops(model, idx)
    c, layers = cfg.n_embd, cfg.n_layer
    assert fc.forward_flops == gpt_forward_flops(b, t, c, layers, cfg.n_head, cfg.vocab_size)
    # the matmul part is exactly 2 FLOPs per token per weight that multiplies activations:
    # 12 C^2 per block + the tied C V of lm_head (nanoGPT's non-embedding count, minus the
    # biases and LayerNorms, which do per-element work instead)
    matmul_weights = 12 * layers * c * c + c * cfg.vocab_size
    bias_adds = layers * 9 * b * t * c  # c_attn 3C, attn c_proj C, c_fc 4C, mlp c_proj C
    assert fc.by_op["Linear"] == 2 * b * t * matmul_weights + bias_adds
    # the flash kernel's op under numba/auto, the materialising one under numpy: same count
    attention = fc.by_op["ScaledDotProductAttention"] + fc.by_op["FlashAttention"]
    assert attention == layers * (4 * b * t * t * c
                                                               + 7 * b * cfg.n_head * t * t)
    assert fc.uncounted_ops == {}


def test_gpt_training_step_matmul_backward_is_twice_forward():
    mg.manual_seed(0)
    cfg = GPTConfig(vocab_size=40, block_size=8, n_layer=2, n_head=2, n_embd=16)
    model = GPT(cfg)
    idx = mg.randint(0, cfg.vocab_size, (2, 8))
    with FlopCounter(model) as fc:
        _, loss = model(idx, idx)
        loss.backward()
    # every Linear needs both product gradients (activations descend from the trainable
    # embeddings): twice the forward's products; the bias gradient sums as many elements as
    # the forward's bias add touched
    bias_adds = cfg.n_layer * 9 * 2 * 8 * cfg.n_embd
    assert fc.by_op["LinearBackward"] == 2 * (fc.by_op["Linear"] - bias_adds) + bias_adds
    assert 1.5 < fc.backward_flops / fc.forward_flops < 2.5


def test_profile_of_gpt_rows_and_totals():
    mg.manual_seed(0)
    cfg = GPTConfig(vocab_size=30, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg)
    result = profile(model, mg.randint(0, 30, (2, 8)), repeat=1, warmup=0)
    names = [r.name for r in result.rows]
    assert names[:4] == ["", "transformer.wte", "transformer.wpe", "transformer.drop"]
    assert names[-1] == "lm_head"
    assert sum(r.params for r in result.rows) == result.total_params  # tied weight once
    assert sum(r.flops for r in result.rows) == result.forward_flops == gpt_forward_flops(
        2, 8, 16, 1, 2, 30)
    assert result.tokens_per_s is not None
