"""PyTorch parity of `minigrad.models`: the same MLP, MobileNet and GPT written in torch.

Each torch reference below is written the way one would write it in PyTorch (the GPT after
nanoGPT's model.py, with PyTorch >= 2's fused attention). The minigrad model's state dict is
loaded into it with strict=True (so every key must match), both run the same batch, and the
logits, the loss and every parameter's gradient are compared in float32.
"""

from collections import OrderedDict
from itertools import pairwise

import numpy as np
import pytest

import minigrad as mg
from minigrad.models import GPT, MLP, GPTConfig, MobileNet
from minigrad.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
pytestmark = pytest.mark.parity

RTOL, ATOL = 1e-4, 1e-5


# -- torch references --------------------------------------------------------------------------

def torch_mlp(in_features, hidden, out_features, activation=tnn.ReLU):
    widths = [in_features, *hidden]
    layers = OrderedDict()
    for i, (a, b) in enumerate(pairwise(widths), start=1):
        layers[f"fc{i}"] = tnn.Linear(a, b)
        layers[f"act{i}"] = activation()
    layers["head"] = tnn.Linear(widths[-1], out_features)
    return tnn.Sequential(layers)


class TorchConvBNReLU(tnn.Module):
    def __init__(self, c_in, c_out, kernel_size=3, stride=1, groups=1):
        super().__init__()
        self.conv = tnn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2,
                               groups=groups, bias=False)
        self.bn = tnn.BatchNorm2d(c_out)
        self.relu = tnn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class TorchSeparable(tnn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.depthwise = TorchConvBNReLU(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise = TorchConvBNReLU(c_in, c_out, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class TorchMobileNet(tnn.Module):
    def __init__(self, in_channels, num_classes, channels, strides, stem, depthwise=True):
        super().__init__()
        self.stem = TorchConvBNReLU(in_channels, stem)
        widths = [stem, *channels]
        self.blocks = tnn.Sequential(*[
            TorchSeparable(a, b, s) if depthwise else TorchConvBNReLU(a, b, 3, s)
            for a, b, s in zip(widths[:-1], widths[1:], strides)])
        self.pool = tnn.AdaptiveAvgPool2d(1)
        self.flatten = tnn.Flatten()
        self.dropout = tnn.Dropout(0.0)
        self.classifier = tnn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.classifier(self.dropout(self.flatten(self.pool(self.blocks(self.stem(x))))))


class TorchCausalSelfAttention(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = tnn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = tnn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.resid_dropout = tnn.Dropout(c.dropout)
        self.n_head, self.n_embd = c.n_head, c.n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))


class TorchBlockMLP(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = tnn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = tnn.GELU()
        self.c_proj = tnn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = tnn.Dropout(c.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TorchBlock(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn = TorchCausalSelfAttention(c)
        self.ln_2 = tnn.LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = TorchBlockMLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = tnn.ModuleDict({
            "wte": tnn.Embedding(c.vocab_size, c.n_embd),
            "wpe": tnn.Embedding(c.block_size, c.n_embd),
            "drop": tnn.Dropout(c.dropout),
            "h": tnn.ModuleList([TorchBlock(c) for _ in range(c.n_layer)]),
            "ln_f": tnn.LayerNorm(c.n_embd, bias=c.bias)})
        self.lm_head = tnn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets):
        pos = torch.arange(0, idx.size(1), dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = TF.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                ignore_index=-1)
        return logits, loss


# -- comparison --------------------------------------------------------------------------------

def perturb(model, scale=0.3):
    """Add N(0, scale^2) noise to every parameter, so that no weight is at its initial 0 or 1
    and activations are O(1) (GPT's N(0, 0.02) init would leave GELU, LayerNorm and attention
    in a nearly linear regime where a wrong formula can hide within the tolerance)."""
    with mg.no_grad():
        for p in model.parameters():
            p.add_(mg.randn(*p.shape) * scale)
    return model


def load_into_torch(model, reference):
    """Copy minigrad's state dict into the torch reference; strict, so keys must match."""
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    reference.load_state_dict(state, strict=True)
    return reference


def assert_close(name, actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=name)


def assert_same_gradients(model, reference):
    mg_grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
    torch_grads = {n: p.grad.numpy() for n, p in reference.named_parameters()}
    assert list(mg_grads) == list(torch_grads)
    for name, grad in mg_grads.items():
        assert_close(f"gradient of {name}", grad, torch_grads[name])


def run_classifier(model, reference, x, y):
    logits = model(mg.tensor(x))
    loss = F.cross_entropy(logits, mg.tensor(y))
    loss.backward()
    t_logits = reference(torch.tensor(x))
    t_loss = TF.cross_entropy(t_logits, torch.tensor(y))
    t_loss.backward()
    assert_close("logits", logits.detach().numpy(), t_logits.detach().numpy())
    assert_close("loss", loss.detach().numpy(), t_loss.detach().numpy())


def test_mlp_parity():
    mg.manual_seed(0)
    model = perturb(MLP(6, [16, 8], 4, activation="gelu"))
    reference = load_into_torch(model, torch_mlp(6, [16, 8], 4, activation=tnn.GELU))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 6)).astype(np.float32)
    y = rng.integers(0, 4, 10)
    run_classifier(model, reference, x, y)
    assert_same_gradients(model, reference)


@pytest.mark.parametrize("depthwise", [True, False])
def test_mobilenet_parity_train_then_eval(depthwise):
    mg.manual_seed(0)
    model = perturb(MobileNet(in_channels=3, num_classes=5, channels=(8, 16), strides=(2, 1),
                              stem_channels=4, depthwise=depthwise))
    reference = load_into_torch(model, TorchMobileNet(3, 5, (8, 16), (2, 1), 4, depthwise))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 9, 9)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    run_classifier(model, reference, x, y)  # train mode: batch statistics
    assert_same_gradients(model, reference)
    t_state = reference.state_dict()
    for name, value in model.state_dict().items():  # running statistics after one batch
        assert_close(name, value.numpy(), t_state[name].numpy())
    model.eval()
    reference.eval()
    with mg.no_grad(), torch.no_grad():
        assert_close("eval logits", model(mg.tensor(x)).numpy(),
                     reference(torch.tensor(x)).numpy())


@pytest.mark.parametrize("bias", [True, False])
def test_gpt_parity(bias):
    mg.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=10, n_layer=2, n_head=4, n_embd=32, bias=bias)
    model = perturb(GPT(config))
    reference = load_into_torch(model, TorchGPT(config))
    assert reference.lm_head.weight is reference.transformer.wte.weight
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 13, (3, 10))
    targets = rng.integers(0, 13, (3, 10))
    targets[0, :4] = -1
    logits, loss = model(mg.tensor(idx), mg.tensor(targets))
    loss.backward()
    t_logits, t_loss = reference(torch.tensor(idx), torch.tensor(targets))
    t_loss.backward()
    assert_close("logits", logits.detach().numpy(), t_logits.detach().numpy())
    assert_close("loss", loss.detach().numpy(), t_loss.detach().numpy())
    assert_same_gradients(model, reference)


def test_gpt_greedy_generation_matches_torch_argmax_decoding():
    mg.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=6, n_layer=2, n_head=2, n_embd=16)
    model = perturb(GPT(config))
    reference = load_into_torch(model, TorchGPT(config))
    tokens = torch.tensor([[1, 2], [3, 4]])
    with torch.no_grad():
        for _ in range(9):
            context = tokens[:, -config.block_size:]
            logits, _ = reference(context, torch.zeros_like(context))
            tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    out = model.generate(mg.tensor([[1, 2], [3, 4]]), 9, top_k=1)
    np.testing.assert_array_equal(out.numpy(), tokens.numpy())
