"""DistributedDataParallel in the test process, a world of one (no mpiexec): the wrapper, its
arguments and errors, buffer broadcasts, no_sync, and training identical to plain training."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
from minigrad import nn, optim
from minigrad.distributed.ddp import (
    DistributedDataParallel,
    _mismatch_message,
    _signature,
)
from minigrad.nn import functional as F
from tests.distributed.mpi_launch import world_of_one as single_process_world


@pytest.fixture(scope="module", autouse=True)
def world_of_one():
    with single_process_world():
        yield


def _mlp(seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def test_nn_parallel_re_exports_the_class():
    from minigrad.nn.parallel import DistributedDataParallel as FromNN

    assert FromNN is DistributedDataParallel


def test_wrapper_delegates_forward_and_prefixes_state_dict_keys():
    model = _mlp()
    ddp = DistributedDataParallel(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [p for p in ddp.parameters()] == [p for p in model.parameters()]
    x = mg.randn(4, 5)
    np.testing.assert_array_equal(ddp(x).detach().numpy(), model(x).detach().numpy())
    assert repr(ddp).startswith("DistributedDataParallel(\n  (module): Sequential(")


def test_training_on_one_rank_is_bitwise_plain_training():
    plain, wrapped = _mlp(), _mlp()
    ddp = DistributedDataParallel(wrapped, bucket_cap_mb=1e-4)
    opt_plain = optim.Adam(plain.parameters(), lr=1e-2)
    opt_ddp = optim.Adam(ddp.parameters(), lr=1e-2)
    mg.manual_seed(5)
    batches = [(mg.randn(8, 5), mg.randint(0, 3, (8,))) for _ in range(5)]
    for x, y in batches:
        for model, opt in ((plain, opt_plain), (ddp, opt_ddp)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(plain.parameters(), wrapped.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_no_sync_restores_the_flag_even_after_an_error():
    ddp = DistributedDataParallel(_mlp())
    with ddp.no_sync():
        assert ddp.require_backward_grad_sync is False
    assert ddp.require_backward_grad_sync is True
    with pytest.raises(KeyError), ddp.no_sync():
        raise KeyError("inside")
    assert ddp.require_backward_grad_sync is True


def test_no_sync_then_sync_reduces_the_accumulated_gradient():
    ddp, plain = DistributedDataParallel(_mlp()), _mlp()
    mg.manual_seed(2)
    x1, x2 = mg.randn(3, 5), mg.randn(3, 5)
    with ddp.no_sync():
        ddp(x1).sum().backward()
    ddp(x2).sum().backward()
    plain(x1).sum().backward()
    plain(x2).sum().backward()
    for p, q in zip(ddp.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def test_unused_parameter_error_names_it():
    model = nn.ModuleDict({"used": nn.Linear(2, 2), "idle": nn.Linear(2, 2)})

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = model

        def forward(self, x):
            return self.layers["used"](x)

    ddp = DistributedDataParallel(Wrapper())
    with pytest.raises(RuntimeError, match=r"on rank 0, 2 parameter\(s\) received no gradient "
                                           r"in this backward pass: layers.idle.weight, "
                                           r"layers.idle.bias"):
        ddp(mg.randn(1, 2)).sum().backward()
    ddp_allowed = DistributedDataParallel(Wrapper(), find_unused_parameters=True)
    ddp_allowed(mg.randn(1, 2)).sum().backward()
    assert model["used"].weight.grad is not None and model["idle"].weight.grad is None


def _count_broadcasts(monkeypatch):
    calls = []
    real = dist.broadcast

    def counting(tensor, *args, **kwargs):
        calls.append(tensor.dtype)
        return real(tensor, *args, **kwargs)

    monkeypatch.setattr(dist, "broadcast", counting)
    return calls


def test_buffers_are_broadcast_at_training_forwards_only(monkeypatch):
    """With broadcast_buffers=False, not even at construction (PyTorch's rule)."""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ddp = DistributedDataParallel(model)
    calls = _count_broadcasts(monkeypatch)
    ddp(mg.randn(5, 3))
    assert sorted(map(str, calls)) == ["float32", "int64"]  # one per dtype of the buffers
    calls.clear()
    with mg.no_grad():
        ddp(mg.randn(5, 3))
    assert calls == []
    with ddp.no_sync():  # micro-batches keep their own statistics until the synced forward
        ddp(mg.randn(5, 3))
    assert calls == []
    calls.clear()
    quiet = DistributedDataParallel(model, broadcast_buffers=False)
    assert list(map(str, calls)) == ["float32"]  # the parameters only, not the int64 counter
    calls.clear()
    quiet(mg.randn(5, 3))
    assert calls == []


def test_construction_broadcasts_parameters_and_bumps_their_version():
    model = _mlp()
    before = [p._version for p in model.parameters()]
    DistributedDataParallel(model)
    assert [p._version for p in model.parameters()] == [v + 1 for v in before]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"device_ids": [0]}, ValueError, "device_ids and output_device arguments only work"),
    ({"output_device": 0}, ValueError, "device_ids and output_device arguments only work"),
    ({"bucket_cap_mb": 0}, ValueError, "bucket_cap_mb must be positive, got 0"),
    ({"algorithm": "butterfly"}, ValueError, "unknown algorithm 'butterfly'"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        DistributedDataParallel(_mlp(), **kwargs)


def test_a_frozen_model_and_a_non_module_are_refused():
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a "
                                           "gradient"):
        DistributedDataParallel(_mlp().requires_grad_(False))
    with pytest.raises(TypeError, match="module must be a minigrad.nn.Module, got function"):
        DistributedDataParallel(lambda x: x)


def test_without_a_process_group_the_error_says_what_to_call(monkeypatch):
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    with pytest.raises(RuntimeError, match="call minigrad.distributed.init_process_group"):
        DistributedDataParallel(_mlp())


def test_mismatch_message_names_the_first_difference_and_the_ranks():
    same = [["parameter", "0.weight", [7, 5], "float32"], ["parameter", "0.bias", [7], "float32"]]
    odd = [same[0], ["parameter", "0.bias", [8], "float32"]]
    message = _mismatch_message([same, odd, same], [0, 1, 2])
    assert ("First difference, at entry 1: ranks 0, 2: parameter '0.bias' of shape (7,) and "
            "dtype float32; rank 1: parameter '0.bias' of shape (8,) and dtype float32") in message
    short = _mismatch_message([same, same[:1]], [4, 6])
    assert "rank 4: parameter '0.bias' of shape (7,) and dtype float32; rank 6: nothing " \
           "(only 1 parameters and buffers)" in short


def test_mismatch_message_names_a_parameter_frozen_on_one_rank():
    # only parameters that require grad are bucketed: a layer frozen on one rank would give
    # buckets of different lengths, so the signature carries requires_grad
    trained = [["parameter", "0.bias", [7], "float32", "requires_grad"]]
    frozen = [["parameter", "0.bias", [7], "float32", "frozen"]]
    message = _mismatch_message([trained, frozen], [0, 1])
    assert ("rank 0: parameter '0.bias' of shape (7,) and dtype float32; rank 1: parameter "
            "'0.bias' of shape (7,) and dtype float32 (frozen)") in message
    model = _mlp()
    next(iter(model.parameters())).requires_grad_(False)
    assert [e[-1] for e in _signature(model) if e[0] == "parameter"][:2] == ["frozen",
                                                                          "requires_grad"]

