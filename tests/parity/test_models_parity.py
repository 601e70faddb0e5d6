"""PyTorch parity of `minigrad.models`: the same MLP, MobileNet and GPT written in torch.

Each torch reference (in `minigrad/cli/torch_twins.py`, shared with `minigrad bench train`) is
written the way one would write it in PyTorch (the GPT after nanoGPT's model.py, with
PyTorch >= 2's fused attention). The minigrad model's state dict is
loaded into it with strict=True (so every key must match), both run the same batch, and the
logits, the loss and every parameter's gradient are compared in float32.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.models import GPT, MLP, GPTConfig, MobileNet
from minigrad.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
from minigrad.cli.torch_twins import (TorchGPT, TorchMobileNet, load_into_torch,  # noqa: E402
                                      torch_mlp, torch_twin)
pytestmark = pytest.mark.parity

RTOL, ATOL = 1e-4, 1e-5


def perturb(model, scale=0.3):
    """Add N(0, scale^2) noise to every parameter, so that no weight is at its initial 0 or 1
    and activations are O(1) (GPT's N(0, 0.02) init would leave GELU, LayerNorm and attention
    in a nearly linear regime where a wrong formula can hide within the tolerance)."""
    with mg.no_grad():
        for p in model.parameters():
            p.add_(mg.randn(*p.shape) * scale)
    return model


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


@pytest.mark.parametrize("bias, gelu", [(True, "tanh"), (False, "tanh"), (True, "none")])
def test_gpt_parity(bias, gelu):
    mg.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=10, n_layer=2, n_head=4, n_embd=32, bias=bias,
                       gelu_approximate=gelu)
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


@pytest.mark.parametrize("name", ["mlp", "cnn", "gpt"])
def test_torch_twin_of_each_training_recipe_computes_the_same_loss(name):
    """`minigrad bench train` times these twins: they must compute the same function."""
    from minigrad.cli.recipes import get_recipe
    recipe = get_recipe(name)
    recipe.load_data()
    mg.manual_seed(0)
    model = recipe.build_model()
    twin = torch_twin(model)
    batch = next(iter(recipe.train_loader(recipe.defaults)))
    loss = recipe.loss(model, batch)
    inputs = [torch.from_numpy(t.numpy()) for t in batch]
    t_loss = (twin(*inputs)[1] if name == "gpt"
              else TF.cross_entropy(twin(inputs[0]), inputs[1],
                                    label_smoothing=recipe.label_smoothing))
    assert_close("loss", loss.item(), t_loss.item())
