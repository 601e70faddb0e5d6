"""PyTorch twins of `minigrad.models`, for `minigrad bench train` and the parity tests.

Each twin is the same architecture written the way one writes it in PyTorch (the GPT after
nanoGPT's model.py), with the same module names, so a minigrad model's state dict loads into
its twin with `strict=True`. `torch_twin(model)` builds the twin of a minigrad model from the
model itself (widths, strides, configuration) and loads its weights.

This module imports torch: minigrad never imports it; only the benchmark and the parity
tests do, when torch is installed.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise

import torch
from torch import nn
from torch.nn import functional as F

from minigrad.models import GPT, MLP, MobileNet

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def torch_mlp(in_features: int, hidden: list[int], out_features: int,
              activation: type = nn.ReLU) -> nn.Sequential:
    widths = [in_features, *hidden]
    layers = OrderedDict()
    for i, (a, b) in enumerate(pairwise(widths), start=1):
        layers[f"fc{i}"] = nn.Linear(a, b)
        layers[f"act{i}"] = activation()
    layers["head"] = nn.Linear(widths[-1], out_features)
    return nn.Sequential(layers)


class TorchConvBNReLU(nn.Module):
    def __init__(self, c_in, c_out, kernel_size=3, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class TorchSeparable(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.depthwise = TorchConvBNReLU(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise = TorchConvBNReLU(c_in, c_out, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class TorchMobileNet(nn.Module):
    def __init__(self, in_channels, num_classes, channels, strides, stem, depthwise=True,
                 stem_stride=1, dropout=0.0):
        super().__init__()
        self.stem = TorchConvBNReLU(in_channels, stem, 3, stem_stride)
        widths = [stem, *channels]
        self.blocks = nn.Sequential(*[
            TorchSeparable(a, b, s) if depthwise else TorchConvBNReLU(a, b, 3, s)
            for a, b, s in zip(widths[:-1], widths[1:], strides)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.classifier(self.dropout(self.flatten(self.pool(self.blocks(self.stem(x))))))


class TorchCausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.resid_dropout = nn.Dropout(c.dropout)
        self.n_head, self.n_embd, self.dropout = c.n_head, c.n_embd, c.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))


class TorchBlockMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU(approximate=c.gelu_approximate)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TorchBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = TorchCausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = TorchBlockMLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(c.vocab_size, c.n_embd),
            "wpe": nn.Embedding(c.block_size, c.n_embd),
            "drop": nn.Dropout(c.dropout),
            "h": nn.ModuleList([TorchBlock(c) for _ in range(c.n_layer)]),
            "ln_f": nn.LayerNorm(c.n_embd, bias=c.bias)})
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets=None):
        pos = torch.arange(0, idx.size(1), dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                   ignore_index=-1)
        return logits, loss


def load_into_torch(model, reference: nn.Module) -> nn.Module:
    """Copy minigrad's state dict into the torch module; strict, so every key must match."""
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    reference.load_state_dict(state, strict=True)
    return reference


def torch_twin(model) -> nn.Module:
    """The PyTorch twin of a minigrad `MLP`, `MobileNet` or `GPT`, with its weights."""
    if isinstance(model, GPT):
        reference = TorchGPT(model.config)
    elif isinstance(model, MobileNet):
        blocks = list(model.blocks)
        if model.depthwise:
            channels = [b.pointwise.conv.out_channels for b in blocks]
            strides = [b.depthwise.conv.stride[0] for b in blocks]
        else:
            channels = [b.conv.out_channels for b in blocks]
            strides = [b.conv.stride[0] for b in blocks]
        reference = TorchMobileNet(model.in_channels, model.num_classes, channels, strides,
                                   model.stem.conv.out_channels, model.depthwise,
                                   model.stem.conv.stride[0], model.dropout.p)
    elif isinstance(model, MLP):
        activation = type(model.act1).__name__ if model.hidden_features else "ReLU"
        reference = torch_mlp(model.in_features, model.hidden_features, model.out_features,
                              getattr(nn, activation))
    else:
        raise TypeError(f"torch_twin: no PyTorch twin for {type(model).__name__}; expected "
                        "a minigrad.models MLP, MobileNet or GPT")
    return load_into_torch(model, reference)
