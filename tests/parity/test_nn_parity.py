"""PyTorch parity of `minigrad.nn`: modules built in minigrad, their state dict copied into
the same torch module, then state-dict keys, forward outputs, parameter and input gradients,
running statistics, reprs, gradient clipping and initialisation distributions compared.

`run_both` is the one helper: it copies the minigrad module's state into the torch module
(`torch_module.load_state_dict({k: torch.from_numpy(v.numpy())})`), checks the key lists are
identical, runs both on the same input, backpropagates the same random upstream gradient and
compares every named parameter's gradient and the input's.
"""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
pytestmark = pytest.mark.parity

TOL = {"rtol": 1e-5, "atol": 1e-5}
TOL_CONV = {"rtol": 1e-4, "atol": 1e-4}


def copy_state(mg_module, torch_module):
    """Load minigrad's state dict into the torch module; the keys must be identical."""
    mg_state = mg_module.state_dict()
    assert list(mg_state) == list(torch_module.state_dict()), "state_dict keys differ"
    torch_module.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                  for k, v in mg_state.items()})


def run_both(mg_module, torch_module, x, *, tol=TOL, input_grad=True, seed=0, copy=True):
    """Forward and backward in both; compare outputs and all gradients. Returns the outputs."""
    if copy:
        copy_state(mg_module, torch_module)
    mg_module.zero_grad()
    torch_module.zero_grad()
    float_input = x.dtype.kind == "f"
    mx = mg.tensor(x, requires_grad=input_grad and float_input)
    tx = torch.tensor(x, requires_grad=input_grad and float_input)
    mout, tout = mg_module(mx), torch_module(tx)
    np.testing.assert_allclose(mout.data, tout.detach().numpy(), **tol, err_msg="forward")
    if not tout.requires_grad:
        return mout, tout
    upstream = np.random.default_rng(seed).uniform(-1, 1, tout.shape).astype(np.float32)
    mout.backward(mg.tensor(upstream))
    tout.backward(torch.tensor(upstream))
    torch_params = dict(torch_module.named_parameters())
    for name, p in mg_module.named_parameters():
        assert (p.grad is None) == (torch_params[name].grad is None), name
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.data, torch_params[name].grad.numpy(), **tol,
                                       err_msg=f"gradient of {name}")
    if mx.requires_grad:
        np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), **tol, err_msg="input grad")
    return mout, tout


def data(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture(autouse=True)
def seed():
    mg.manual_seed(0)


# -- layers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    run_both(nn.Linear(5, 3, bias=bias), tnn.Linear(5, 3, bias=bias), data(2, 4, 5))


CONV_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=1, groups=2),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=4),  # depthwise
    dict(in_channels=4, out_channels=8, kernel_size=1, bias=False),  # pointwise
    dict(in_channels=2, out_channels=3, kernel_size=3, dilation=2, padding=2),
    dict(in_channels=2, out_channels=3, kernel_size=(4, 3), padding="same"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid"),
    dict(in_channels=2, out_channels=3, kernel_size=(4, 3), padding="same",
         padding_mode="reflect"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="replicate"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, padding_mode="circular"),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")
@pytest.mark.parametrize("kwargs", CONV_CASES, ids=str)
def test_conv2d(kwargs):
    m, t = nn.Conv2d(**kwargs), tnn.Conv2d(**kwargs)
    assert m.weight.shape == tuple(t.weight.shape)
    run_both(m, t, data(2, kwargs["in_channels"], 7, 8), tol=TOL_CONV)
    assert repr(m) == repr(t)


def test_conv2d_unbatched_input():
    run_both(nn.Conv2d(2, 3, 3), tnn.Conv2d(2, 3, 3), data(2, 5, 5), tol=TOL_CONV)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=str)
def test_batchnorm1d_train_steps_then_eval(momentum, shape):
    m, t = nn.BatchNorm1d(3, momentum=momentum), tnn.BatchNorm1d(3, momentum=momentum)
    with mg.no_grad():  # non-trivial affine parameters
        m.weight.copy_(data(3, seed=5))
        m.bias.copy_(data(3, seed=6))
    copy_state(m, t)
    for step in range(3):
        run_both(m, t, data(*shape, seed=10 + step) * 2 + 1, copy=False)
    for name, buffer in m.named_buffers():
        np.testing.assert_allclose(buffer.data, dict(t.named_buffers())[name].numpy(), **TOL,
                                   err_msg=name)
    m.eval(), t.eval()
    run_both(m, t, data(*shape, seed=20), copy=False)


def test_batchnorm2d_train_steps_then_eval():
    m, t = nn.BatchNorm2d(4), tnn.BatchNorm2d(4)
    copy_state(m, t)
    for step in range(3):
        run_both(m, t, data(3, 4, 5, 5, seed=step) * 3 - 1, copy=False)
    for name, buffer in m.named_buffers():
        np.testing.assert_allclose(buffer.data, dict(t.named_buffers())[name].numpy(), **TOL,
                                   err_msg=name)
    assert m.num_batches_tracked.item() == t.num_batches_tracked.item() == 3
    m.eval(), t.eval()
    run_both(m, t, data(2, 4, 5, 5, seed=9), copy=False)


@pytest.mark.parametrize("kwargs", [dict(affine=False), dict(track_running_stats=False),
                                    dict(bias=False), dict(eps=1e-3, momentum=0.3)], ids=str)
def test_batchnorm_options_train_and_eval(kwargs):
    m, t = nn.BatchNorm2d(3, **kwargs), tnn.BatchNorm2d(3, **kwargs)
    run_both(m, t, data(2, 3, 4, 4))
    m.eval(), t.eval()
    run_both(m, t, data(2, 3, 4, 4, seed=2), copy=False)
    assert repr(m) == repr(t)


@pytest.mark.parametrize("kwargs", [dict(normalized_shape=6), dict(normalized_shape=(4, 6)),
                                    dict(normalized_shape=6, elementwise_affine=False),
                                    dict(normalized_shape=6, bias=False, eps=1e-3)], ids=str)
def test_layernorm(kwargs):
    m, t = nn.LayerNorm(**kwargs), tnn.LayerNorm(**kwargs)
    if m.weight is not None:
        with mg.no_grad():
            m.weight.copy_(data(*m.normalized_shape, seed=3))
    run_both(m, t, data(3, 4, 6))
    assert repr(m) == repr(t)


@pytest.mark.parametrize("padding_idx", [None, 0, -2])
def test_embedding(padding_idx):
    m = nn.Embedding(7, 4, padding_idx=padding_idx)
    t = tnn.Embedding(7, 4, padding_idx=padding_idx)
    assert m.padding_idx == t.padding_idx
    idx = np.array([[0, 5, 5], [6, 0, 2]], dtype=np.int64)
    run_both(m, t, idx)
    assert repr(m) == repr(t)


ACTIVATIONS = [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("GELU", {}),
               ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Tanh", {}), ("Sigmoid", {}),
               ("Softmax", {"dim": 1}), ("Softmax", {"dim": -1}), ("Flatten", {}),
               ("Flatten", {"start_dim": 0, "end_dim": 1}), ("Identity", {})]


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=str)
def test_parameter_free_layers(name, kwargs):
    m, t = getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs)
    run_both(m, t, data(2, 3, 4))
    assert repr(m) == repr(t)


POOLS = [("MaxPool2d", dict(kernel_size=2)),
         ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)),
         ("AvgPool2d", dict(kernel_size=2)),
         ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
         ("AdaptiveAvgPool2d", dict(output_size=(3, 2))),
         ("AdaptiveAvgPool2d", dict(output_size=1))]


@pytest.mark.parametrize("name,kwargs", POOLS, ids=str)
def test_pooling(name, kwargs):
    m, t = getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs)
    run_both(m, t, data(2, 3, 7, 6))
    assert repr(m) == repr(t)


def test_dropout_in_eval_is_identity_and_repr_matches():
    m, t = nn.Dropout(0.3), tnn.Dropout(0.3)
    m.eval(), t.eval()
    run_both(m, t, data(4, 5))
    assert repr(m) == repr(t)


# -- losses ---------------------------------------------------------------------------------

def loss_inputs(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = np.array([0, 3, 1, 1, 2, 3], dtype=np.int64)
    return logits, target


@pytest.mark.parametrize("make", [
    lambda m, w: m.CrossEntropyLoss(),
    lambda m, w: m.CrossEntropyLoss(weight=w, label_smoothing=0.2, reduction="sum"),
    lambda m, w: m.CrossEntropyLoss(ignore_index=1, reduction="none"),
    lambda m, w: m.NLLLoss(weight=w),
])
def test_classification_losses(make):
    logits, target = loss_inputs()
    weight = np.array([0.5, 1.0, 2.0, 0.25], dtype=np.float32)
    m, t = make(nn, mg.tensor(weight)), make(tnn, torch.tensor(weight))
    copy_state(m, t)
    mx, tx = mg.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    mloss, tloss = m(mx, mg.tensor(target)), t(tx, torch.tensor(target))
    np.testing.assert_allclose(mloss.data, tloss.detach().numpy(), **TOL)
    mloss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), **TOL)


@pytest.mark.parametrize("name,kwargs", [
    ("MSELoss", {}), ("L1Loss", {"reduction": "sum"}), ("BCEWithLogitsLoss", {}),
    ("KLDivLoss", {"reduction": "batchmean"}), ("KLDivLoss", {"reduction": "sum",
                                                               "log_target": True})], ids=str)
def test_elementwise_losses(name, kwargs):
    x = data(4, 5, seed=3)
    y = np.random.default_rng(4).uniform(0.05, 1.0, (4, 5)).astype(np.float32)
    if name == "KLDivLoss":
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        if kwargs.get("log_target"):
            y = np.log(y / y.sum(1, keepdims=True))
    m, t = getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs)
    mx, tx = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mloss, tloss = m(mx, mg.tensor(y)), t(tx, torch.tensor(y))
    np.testing.assert_allclose(mloss.data, tloss.detach().numpy(), **TOL)
    mloss.backward()
    tloss.backward()
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), **TOL)


def test_bce_with_pos_weight_buffer():
    pos = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    m = nn.BCEWithLogitsLoss(pos_weight=mg.tensor(pos))
    t = tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos))
    copy_state(m, t)
    x, y = data(4, 3), (data(4, 3, seed=2) > 0).astype(np.float32)
    np.testing.assert_allclose(m(mg.tensor(x), mg.tensor(y)).data,
                               t(torch.tensor(x), torch.tensor(y)).numpy(), **TOL)


# -- models ---------------------------------------------------------------------------------

def small_cnn(lib):
    return lib.Sequential(
        lib.Conv2d(3, 8, 3, padding=1), lib.BatchNorm2d(8), lib.ReLU(),
        lib.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), lib.Conv2d(8, 16, 1),
        lib.BatchNorm2d(16), lib.GELU(), lib.MaxPool2d(2), lib.AdaptiveAvgPool2d(2),
        lib.Flatten(), lib.Dropout(0.0), lib.Linear(64, 10))


def test_small_cnn_train_steps_then_eval():
    m, t = small_cnn(nn), small_cnn(tnn)
    assert repr(m) == repr(t)
    copy_state(m, t)
    for step in range(2):
        run_both(m, t, data(4, 3, 8, 8, seed=step), tol=TOL_CONV, copy=False)
    tstate = t.state_dict()
    for name, value in m.state_dict().items():
        np.testing.assert_allclose(value.data, tstate[name].numpy(), **TOL_CONV, err_msg=name)
    m.eval(), t.eval()
    run_both(m, t, data(2, 3, 8, 8, seed=7), tol=TOL_CONV, copy=False)


def test_mlp_training_with_cross_entropy_and_clipping_matches():
    def mlp(lib):
        return lib.Sequential(lib.Linear(6, 16), lib.LayerNorm(16), lib.SiLU(),
                              lib.Linear(16, 4))

    m, t = mlp(nn), mlp(tnn)
    copy_state(m, t)
    x, y = data(8, 6), np.random.default_rng(1).integers(0, 4, 8)
    for _ in range(3):
        m.zero_grad(), t.zero_grad()
        nn.CrossEntropyLoss()(m(mg.tensor(x)), mg.tensor(y)).backward()
        tnn.CrossEntropyLoss()(t(torch.tensor(x)), torch.tensor(y)).backward()
        mnorm = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        tnorm = torch.nn.utils.clip_grad_norm_(t.parameters(), 0.5)
        np.testing.assert_allclose(mnorm.item(), tnorm.item(), rtol=1e-5)
        with mg.no_grad(), torch.no_grad():  # plain SGD
            for p in m.parameters():
                p.add_(p.grad * -0.5)
            for p in t.parameters():
                p.add_(p.grad * -0.5)
    tstate = t.state_dict()
    for name, value in m.state_dict().items():
        np.testing.assert_allclose(value.data, tstate[name].numpy(), **TOL, err_msg=name)


def test_names_of_a_nested_model_with_tied_weights():
    class Tied:
        @staticmethod
        def build(lib):
            model = lib.Module()
            model.wte = lib.Embedding(10, 4)
            model.blocks = lib.ModuleList([lib.Sequential(lib.LayerNorm(4), lib.Linear(4, 4))
                                           for _ in range(2)])
            model.heads = lib.ModuleDict({"lm": lib.Linear(4, 10, bias=False)})
            model.heads["lm"].weight = model.wte.weight
            model.register_buffer("mask", (lib.Linear(1, 1).weight * 0).detach())
            model.register_buffer("cache", (lib.Linear(1, 1).weight * 0).detach(),
                                  persistent=False)
            return model

    m, t = Tied.build(nn), Tied.build(tnn)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert ([n for n, _ in m.named_parameters(remove_duplicate=False)]
            == [n for n, _ in t.named_parameters(remove_duplicate=False)])
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert list(m.state_dict()) == list(t.state_dict())
    assert repr(m.blocks) == repr(t.blocks)


def test_non_strict_load_reports_the_same_keys():
    # (No BatchNorm here: torch fills in a missing num_batches_tracked for checkpoints older
    # than its version 2, which minigrad, having no versions, does not.)
    m = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))
    t = tnn.Sequential(tnn.Linear(3, 2), tnn.LayerNorm(2))
    state = {"0.weight": np.zeros((2, 3), np.float32), "1.bias": np.zeros(2, np.float32),
             "1.extra": np.zeros(1, np.float32), "2.weight": np.zeros(1, np.float32)}
    mres = m.load_state_dict(state, strict=False)
    tres = t.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert mres.missing_keys == tres.missing_keys
    assert mres.unexpected_keys == tres.unexpected_keys


# -- clipping -------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
def test_clip_grad_norm(norm_type, max_norm):
    grads = [data(3, 4, seed=1), data(5, seed=2), data(2, 2, 2, seed=3)]
    mps, tps = [], []
    for g in grads:
        mp, tp = nn.Parameter(mg.zeros(*g.shape)), torch.nn.Parameter(torch.zeros(g.shape))
        mp.grad, tp.grad = mg.tensor(g), torch.tensor(g)
        mps.append(mp)
        tps.append(tp)
    mnorm = nn.utils.clip_grad_norm_(mps, max_norm, norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    np.testing.assert_allclose(mnorm.item(), tnorm.item(), rtol=1e-5)
    assert mnorm.dtype.name == str(tnorm.dtype).removeprefix("torch.")
    for mp, tp in zip(mps, tps):
        np.testing.assert_allclose(mp.grad.data, tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    nn.utils.clip_grad_value_(mps, 0.05)
    torch.nn.utils.clip_grad_value_(tps, 0.05)
    for mp, tp in zip(mps, tps):
        np.testing.assert_allclose(mp.grad.data, tp.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert np.abs(mp.grad.data).max() <= 0.05


def test_parameters_to_vector():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    t = tnn.Sequential(tnn.Linear(3, 2), tnn.Linear(2, 2))
    copy_state(m, t)
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(m.parameters()).data,
                                  torch.nn.utils.parameters_to_vector(t.parameters()).detach())


# -- initialisation -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu",
                                  "selu"])
def test_calculate_gain(name):
    assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    if name == "leaky_relu":
        assert nn.init.calculate_gain(name, 0.2) == pytest.approx(
            torch.nn.init.calculate_gain(name, 0.2))


def test_fans():
    for shape in [(5, 3), (8, 4, 3, 3), (2, 6, 1, 5)]:
        assert nn.init._calculate_fan_in_and_fan_out(mg.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


# (name, kwargs, bounded): bounded distributions also have their extremes compared
INITS = [("uniform_", dict(a=-0.3, b=0.7), True), ("normal_", dict(mean=0.2, std=0.3), False),
         ("trunc_normal_", dict(mean=0.1, std=1.0, a=-1.0, b=2.0), True),
         ("trunc_normal_", dict(std=0.02), False),
         ("xavier_uniform_", dict(gain=1.5), True), ("xavier_normal_", {}, False),
         ("kaiming_uniform_", dict(a=math.sqrt(5)), True),
         ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), True),
         ("kaiming_normal_", dict(nonlinearity="relu"), False),
         ("kaiming_normal_", dict(a=0.1, mode="fan_out"), False)]


@pytest.mark.parametrize("name,kwargs,bounded", INITS, ids=str)
def test_init_distributions(name, kwargs, bounded):
    """Same mean and standard deviation as torch's (and the same bounds where there are
    bounds), on a seeded (512, 256, 3) weight."""
    torch.manual_seed(0)
    shape = (512, 256, 3)
    m = getattr(nn.init, name)(mg.zeros(*shape), **kwargs).data.astype(np.float64)
    t = getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs).numpy().astype(np.float64)
    std = t.std()
    np.testing.assert_allclose(m.std(), std, rtol=0.01)
    np.testing.assert_allclose(m.mean(), t.mean(), atol=0.01 * std)
    if bounded:
        span = t.max() - t.min()
        np.testing.assert_allclose([m.min(), m.max()], [t.min(), t.max()], atol=0.001 * span)


@pytest.mark.parametrize("make,uniform", [(lambda lib: lib.Linear(300, 200), True),
                                          (lambda lib: lib.Conv2d(32, 64, 3, groups=4), True),
                                          (lambda lib: lib.Embedding(500, 64), False)])
def test_default_initialisation_matches(make, uniform):
    """Same spread as torch's defaults; for the uniform ones (Linear, Conv2d) the same bound."""
    torch.manual_seed(0)
    m, t = make(nn), make(tnn)
    tparams = dict(t.named_parameters())
    for name, p in m.named_parameters():
        mv, tv = p.data.astype(np.float64), tparams[name].detach().numpy().astype(np.float64)
        np.testing.assert_allclose(mv.std(), tv.std(), rtol=0.05, err_msg=name)
        if uniform:
            np.testing.assert_allclose(np.abs(mv).max(), np.abs(tv).max(), rtol=0.02,
                                       err_msg=name)
