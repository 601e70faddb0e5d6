"""Module (module.py): registration by attribute assignment, the named_* walks, state dicts,
hooks, train/eval, zero_grad, apply, dtype casts and the repr."""

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import Parameter


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = Parameter(mg.ones(4))
        self.register_buffer("step", mg.zeros(()))
        self.register_buffer("cache", mg.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.act(self.first(x)))


@pytest.fixture(autouse=True)
def seed():
    mg.manual_seed(0)


# -- registration ---------------------------------------------------------------------------

def test_setattr_registers_parameters_modules_and_plain_attributes():
    m = Block()
    assert list(m._parameters) == ["scale"]
    assert list(m._modules) == ["fc", "bn"]
    assert list(m._buffers) == ["step", "cache"]
    m.note = "hello"
    assert m.__dict__["note"] == "hello" and "note" not in m._parameters
    assert m.scale is m._parameters["scale"] and m.fc is m._modules["fc"]
    assert m.step is m._buffers["step"]


def test_plain_tensor_is_not_registered():
    m = nn.Module()
    m.t = mg.ones(2)
    assert list(m.parameters()) == [] and list(m.buffers()) == []
    assert m.t.shape == (2,)


def test_assigning_none_keeps_the_slot_and_a_wrong_type_is_refused():
    m = nn.Linear(2, 3)
    m.bias = None
    assert "bias" in m._parameters and m.bias is None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'weight' "
                                        r"\(minigrad.nn.Parameter or None expected\)"):
        m.weight = mg.ones(3, 2)
    seq = nn.Sequential(nn.ReLU())
    seq._modules["0"] = nn.ReLU()
    setattr(seq, "0", None)
    assert "0" in seq._modules and seq._modules["0"] is None
    with pytest.raises(TypeError, match="cannot assign 'int' as child module '0'"):
        setattr(seq, "0", 3)
    bn = nn.BatchNorm1d(2)
    bn.running_mean = mg.ones(2)
    np.testing.assert_array_equal(bn.state_dict()["running_mean"].data, [1.0, 1.0])
    with pytest.raises(TypeError, match="cannot assign 'list' as buffer 'running_mean'"):
        bn.running_mean = [1.0, 2.0]


def test_reassigning_a_name_moves_it_between_kinds():
    m = nn.Module()
    m.x = nn.ReLU()
    m.x = Parameter(mg.ones(1))
    assert "x" not in m._modules and m._parameters["x"] is m.x
    m.y = 1.0
    m.y = nn.ReLU()
    assert "y" not in m.__dict__ and m._modules["y"] is m.y
    with pytest.raises(TypeError, match="cannot assign 'ReLU' as parameter 'x'"):
        m.x = nn.ReLU()  # as PyTorch: a parameter slot takes a Parameter or None


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match='contain ".", got: a.b'):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match='be empty string'):
        m.register_buffer("", None)
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", mg.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' object to parameter 'w'"):
        m.register_parameter("w", mg.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        m.register_buffer("b", [1])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("c", 3)
    with pytest.raises(ValueError, match="non-leaf Tensor to parameter 'w'"):
        p = Parameter(mg.ones(2))
        p.grad_fn = (p * 2).grad_fn
        m.register_parameter("w", p)


def test_assignment_before_init_is_an_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = Parameter(mg.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before "
                                             r"Module.__init__\(\) call"):
        Forgetful()


def test_getattr_and_delattr():
    m = Block()
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'missing'"):
        m.missing
    del m.scale, m.fc, m.cache
    assert "scale" not in m._parameters and "fc" not in m._modules
    assert "cache" not in m._non_persistent_buffers_set
    m.plain = 1
    del m.plain
    assert not hasattr(m, "plain")


def test_add_module_register_module_and_get_submodule():
    net = Net()
    net.add_module("extra", nn.Tanh())
    net.register_module("more", nn.Sigmoid())
    assert list(net._modules)[-2:] == ["extra", "more"]
    assert net.get_submodule("first.bn") is net.first.bn
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="Block has no attribute `nope`"):
        net.get_submodule("first.nope")


def test_forward_missing_names_the_class():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match=r"Module \[NoForward\] is missing the "
                                                  "required \"forward\" function"):
        NoForward()(mg.ones(1))


# -- walking the tree -----------------------------------------------------------------------

def test_named_parameters_order_and_prefixes():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "first.scale", "first.fc.weight", "first.fc.bias", "first.bn.weight", "first.bn.bias",
        "head.weight"]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.first.scale"
    assert [n for n, _ in net.first.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 6


def test_named_buffers_modules_and_children():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "first.step", "first.cache", "first.bn.running_mean", "first.bn.running_var",
        "first.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == ["", "first", "first.fc", "first.bn", "act",
                                                    "head"]
    assert [n for n, _ in net.named_children()] == ["first", "act", "head"]
    assert list(net.children()) == [net.first, net.act, net.head]
    assert list(net.modules())[0] is net
    assert len(list(net.buffers())) == 5


def test_shared_parameter_and_module_appear_once():
    """Weight tying (GPT's lm_head and token embedding): one Parameter, two owners."""
    emb = nn.Embedding(5, 3)
    head = nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    model = nn.Sequential(emb, head)
    assert [n for n, _ in model.named_parameters()] == ["0.weight"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == ["0.weight",
                                                                             "1.weight"]
    assert list(model.state_dict()) == ["0.weight", "1.weight"]  # both names, as PyTorch
    relu = nn.ReLU()
    twice = nn.Sequential(relu, relu)
    assert [n for n, _ in twice.named_modules()] == ["", "0"]
    assert [n for n, _ in twice.named_modules(remove_duplicate=False)] == ["", "0", "1"]
    assert [n for n, _ in twice.named_children()] == ["0"]


def test_apply_visits_children_first_and_returns_self():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "BatchNorm1d", "Block", "ReLU", "Linear", "Net"]


# -- modes and gradients --------------------------------------------------------------------

def test_train_and_eval_propagate_and_return_self():
    net = Net()
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 6
    assert net.train() is net and all(m.training for m in net.modules())
    net.first.train(False)
    assert net.training and not net.first.bn.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)


def test_requires_grad_freezes_every_parameter():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_zero_grad_to_none_and_to_zeros():
    net = Net()
    net(mg.randn(5, 3)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and np.abs(g.data).sum() > 0 for g in grads)
    net.zero_grad(set_to_none=False)
    for p, g in zip(net.parameters(), grads):
        assert p.grad is g and not g.data.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# -- hooks ----------------------------------------------------------------------------------

def test_pre_hook_replaces_the_input_and_hook_replaces_the_output():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append(("pre", module, args[0].shape))
        return args[0] * 0  # not a tuple: wrapped into one

    def post(module, args, output):
        calls.append(("post", args[0].data.sum()))
        return output + 100

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(mg.ones(1, 2))
    np.testing.assert_allclose(out.data, lin.bias.data[None] + 100, rtol=1e-6)
    assert calls == [("pre", lin, (1, 2)), ("post", 0.0)]
    h1.remove()
    h2.remove()
    h2.remove()  # a second remove is harmless
    np.testing.assert_allclose(lin(mg.ones(1, 2)).data, (lin.weight.data.sum(1) +
                                                         lin.bias.data)[None], rtol=1e-6)
    assert not lin._forward_pre_hooks and not lin._forward_hooks


def test_hooks_returning_none_observe_only_and_run_in_order():
    lin = nn.Linear(2, 2)
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append(1))
    lin.register_forward_hook(lambda m, a, o: order.append(2))
    x = mg.ones(1, 2)
    np.testing.assert_array_equal(lin(x).data, nn.functional.linear(x, lin.weight,
                                                                    lin.bias).data)
    assert order == [1, 2]


def test_the_same_hook_registered_twice_is_removed_once_per_handle():
    counter = []
    lin = nn.Linear(2, 2)

    def hook(m, a, o):
        counter.append(1)

    first = lin.register_forward_hook(hook)
    lin.register_forward_hook(hook)
    first.remove()
    lin(mg.ones(1, 2))
    assert counter == [1]


def test_handle_as_context_manager_and_keyword_arguments_pass_through():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    with m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,)):
        np.testing.assert_array_equal(m(mg.ones(2), factor=3.0).data, [6.0, 6.0])
    np.testing.assert_array_equal(m(mg.ones(2), factor=3.0).data, [3.0, 3.0])


# -- state dicts ----------------------------------------------------------------------------

def test_state_dict_keys_values_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["first.scale", "first.step", "first.fc.weight", "first.fc.bias",
                        "first.bn.weight", "first.bn.bias", "first.bn.running_mean",
                        "first.bn.running_var", "first.bn.num_batches_tracked", "head.weight"]
    w = sd["first.fc.weight"]
    assert type(w) is mg.Tensor and not w.requires_grad and w.data is net.first.fc.weight.data
    assert sd["first.bn.num_batches_tracked"].dtype == mg.int64
    assert net.state_dict(keep_vars=True)["head.weight"] is net.head.weight
    assert list(net.head.state_dict(prefix="h."))[0] == "h.weight"


def test_state_dict_round_trip_with_tensors_and_arrays():
    src, dst = Net(), Net()
    src(mg.randn(4, 3))  # moves the running statistics and the counter
    arrays = {k: v.numpy().copy() for k, v in src.state_dict().items()}
    result = dst.load_state_dict(arrays)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v.data, arrays[k])
    assert dst.first.bn.num_batches_tracked.item() == 1
    x = mg.randn(2, 3)
    src.eval(), dst.eval()
    np.testing.assert_array_equal(src(x).data, dst(x).data)
    dst.load_state_dict(Net().state_dict())
    assert dst.first.fc.weight.requires_grad  # copied in place: still the same Parameter


def test_load_state_dict_copies_in_place_and_casts():
    lin = nn.Linear(2, 2)
    weight = lin.weight
    lin.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": mg.zeros(2)})
    assert lin.weight is weight and lin.weight.dtype == mg.float32
    np.testing.assert_array_equal(lin.weight.data, np.ones((2, 2)))


def test_strict_load_lists_every_problem_and_copies_nothing():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    before = model[2].weight.data.copy()
    sd = {"0.weight": mg.zeros(3, 4), "0.bias": mg.zeros(4), "2.weight": mg.zeros(2, 4),
          "extra": mg.zeros(1), "1.running": mg.zeros(1), "5.weight": mg.zeros(1)}
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    assert str(info.value) == (
        "Error(s) in loading state_dict for Sequential:\n"
        '\tMissing key(s) in state_dict: "2.bias". \n'
        '\tUnexpected key(s) in state_dict: "extra", "5.weight", "1.running". \n'
        "\tsize mismatch for 0.weight: copying a param with shape (3, 4) from checkpoint, the "
        "shape in current model is (4, 4).")
    np.testing.assert_array_equal(model[2].weight.data, before)


def test_non_strict_load_returns_the_keys_but_still_refuses_a_shape_mismatch():
    model = nn.Sequential(nn.Linear(4, 2))
    result = model.load_state_dict({"0.weight": mg.ones(2, 4), "other": mg.ones(1)},
                                   strict=False)
    assert result == (["0.bias"], ["other"])
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((2, 4)))
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with "
                                           r"shape \(4, 2\)"):
        model.load_state_dict({"0.weight": mg.ones(4, 2)}, strict=False)


def test_load_rejects_values_that_are_not_tensors():
    with pytest.raises(RuntimeError, match='While copying the parameter named "bias", expected '
                                           "a minigrad.Tensor or numpy.ndarray from checkpoint "
                                           "but received list"):
        nn.Linear(1, 2).load_state_dict({"weight": mg.zeros(2, 1), "bias": [0.0, 0.0]})
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got list"):
        nn.Linear(1, 2).load_state_dict([])


def test_non_persistent_and_none_buffers_are_left_out():
    m = Block()
    assert "cache" not in m.state_dict() and "step" in m.state_dict()
    m.step = None
    assert "step" not in m.state_dict()
    m.load_state_dict(m.state_dict())  # None slots are not missing keys


def test_deepcopy_gives_an_independent_module():
    net = Net()
    clone = copy.deepcopy(net)
    assert list(clone.state_dict()) == list(net.state_dict())
    assert clone.head.weight is not net.head.weight
    assert type(clone.head.weight) is nn.Parameter
    with mg.no_grad():
        clone.head.weight.fill_(0.0)
    assert net.head.weight.data.any()


# -- dtype casts ----------------------------------------------------------------------------

def test_double_and_to_keep_the_parameter_objects():
    net = Net()
    weight = net.head.weight
    net(mg.randn(3, 3)).sum().backward()
    assert net.double() is net
    assert net.head.weight is weight and weight.dtype == mg.float64
    assert weight.grad.dtype == mg.float64
    assert net.first.bn.running_mean.dtype == mg.float64
    assert net.first.bn.num_batches_tracked.dtype == mg.int64  # not floating point: unchanged
    assert net(mg.randn(3, 3, dtype=mg.float64)).dtype == mg.float64
    assert net.to(mg.float32) is net and weight.dtype == mg.float32
    assert net.half().head.weight.dtype == mg.float16
    assert net.float().head.weight.dtype == mg.float32
    assert net.to("cpu") is net
    assert net.to(device="cpu", dtype=mg.float64).head.weight.dtype == mg.float64


def test_to_refuses_integer_dtypes_and_other_devices():
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point dtypes, but "
                                        "got desired dtype=minigrad.int64"):
        nn.Linear(1, 1).to(mg.int64)
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        nn.Linear(1, 1).to("cuda")


# -- repr -----------------------------------------------------------------------------------

def test_repr_prints_the_tree():
    assert repr(Net()) == (
        "Net(\n"
        "  (first): Block(\n"
        "    (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (bn): BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)\n"
        "  )\n"
        "  (act): ReLU()\n"
        "  (head): Linear(in_features=4, out_features=2, bias=False)\n"
        ")")


def test_repr_with_multi_line_extra_repr():
    class Multi(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = nn.ReLU()

        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n  (child): ReLU()\n)"
    assert repr(nn.Module()) == "Module()"
