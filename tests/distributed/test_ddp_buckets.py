"""Tests of `minigrad/distributed/_buckets.py` in one process: bucket assignment, and the
Reducer's hooks, launch order, overlap and end-of-pass handling, with a recording stand-in
for the all-reduce (world size 1: averaging changes nothing)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.distributed._buckets import Reducer, assign_buckets

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def test_assign_buckets_closes_a_bucket_once_it_reaches_the_cap():
    assert assign_buckets([(10, F32)] * 3, cap_bytes=80) == [[0, 1], [2]]
    assert assign_buckets([(10, F32)] * 3, cap_bytes=81) == [[0, 1, 2]]


def test_assign_buckets_keeps_one_open_bucket_per_dtype_and_sorts_by_first_position():
    sizes = [(10, F32), (10, F64), (10, F32), (10, F64), (1, F32)]
    assert assign_buckets(sizes, cap_bytes=80) == [[0, 2], [1], [3], [4]]


def test_a_tensor_larger_than_the_cap_sits_alone():
    assert assign_buckets([(100, F32), (1, F32), (1, F32)], cap_bytes=8) == [[0], [1, 2]]


class Recorder:
    """Stands in for the all-reduce: records what was reduced and when; changes nothing."""

    def __init__(self, events):
        self.events = events
        self.calls = []

    def __call__(self, array, op, async_op):
        self.calls.append((op, array.size, async_op))
        self.events.append(f"{op} {array.size}")
        return Done() if async_op else None


class Done:
    def wait(self, timeout=None):
        return True


def _model():
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 5), nn.ReLU(),
                         nn.Linear(5, 2)).double()


def _reducer(model, events, cap_bytes=1, **options):
    named = list(model.named_parameters())
    settings = {"overlap": True, "find_unused_parameters": False,
                "gradient_as_bucket_view": False, **options}
    recorder = Recorder(events)
    reducer = Reducer([p for _, p in named], [n for n, _ in named], cap_bytes, recorder, 0,
                      **settings)
    return reducer, recorder


def _loss(model, events=None):
    mg.manual_seed(1)
    hidden = model[1](model[0](mg.randn(6, 3, dtype=mg.float64)))
    if events is not None:  # marks when backward reaches the first layer's output
        hidden.register_hook(lambda g: events.append("backward reaches layer 0"))
    return model[4](model[3](model[2](hidden))).pow(2).mean()


def test_buckets_follow_reverse_registration_order():
    reducer, _ = _reducer(_model(), [], cap_bytes=1)
    assert reducer.bucket_members() == [["4.bias"], ["4.weight"], ["2.bias"], ["2.weight"],
                                        ["0.bias"], ["0.weight"]]
    big, _ = _reducer(_model(), [], cap_bytes=2**20)
    assert big.bucket_members() == [["4.bias", "4.weight", "2.bias", "2.weight", "0.bias",
                                     "0.weight"]]


@pytest.mark.parametrize("overlap", [True, False])
def test_overlap_starts_buckets_during_backward_and_grads_are_unchanged(overlap):
    """With overlap, the last layers' buckets are launched before backward reaches the first
    layer; without it, every launch comes after. Either way (world size 1) .grad is exactly
    the plain backward's."""
    plain = _model()
    _loss(plain).backward()
    model, events = _model(), []
    reducer, recorder = _reducer(model, events, cap_bytes=1, overlap=overlap)
    reducer.prepare_for_backward(sync=True)
    _loss(model, events).backward()
    first_layer = events.index("backward reaches layer 0")
    launches = [i for i, e in enumerate(events) if e.startswith("avg")]
    assert len(launches) == 6
    assert (launches[0] < first_layer) == overlap
    assert [size for _, size, _ in recorder.calls] == [2, 10, 5, 20, 4, 12]  # bucket order
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy(), err_msg=name)


def test_hooks_do_nothing_unless_armed_and_no_sync_only_accumulates():
    model, events = _model(), []
    reducer, recorder = _reducer(model, events)
    _loss(model).backward()  # not armed: DDP's forward was not called
    reducer.prepare_for_backward(sync=False)
    _loss(model).backward()  # no_sync: local accumulation
    assert recorder.calls == []
    reducer.prepare_for_backward(sync=True)
    _loss(model).backward()
    assert len(recorder.calls) == 6
    plain = _model()
    for _ in range(3):
        _loss(plain).backward()
    for p, q in zip(model.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def _loss_without_last_layer(model):
    mg.manual_seed(1)
    return model[2](model[1](model[0](mg.randn(6, 3, dtype=mg.float64)))).pow(2).mean()


def test_unused_parameter_is_a_clear_error_naming_it():
    model = _model()
    reducer, _ = _reducer(model, [])
    reducer.prepare_for_backward(sync=True)
    with pytest.raises(RuntimeError, match=r"2 parameter\(s\) received no gradient in this "
                       r"backward pass: 4.weight, 4.bias .*find_unused_parameters=True"):
        _loss_without_last_layer(model).backward()
    reducer.prepare_for_backward(sync=True)  # the reducer is usable again afterwards
    _loss(model).backward()
    assert model[4].weight.grad is not None


def test_find_unused_parameters_reduces_zeros_and_keeps_unused_grads_untouched():
    model, events = _model(), []
    reducer, recorder = _reducer(model, events, find_unused_parameters=True)
    reducer.prepare_for_backward(sync=True)
    _loss_without_last_layer(model).backward()
    assert len([c for c in recorder.calls if c[0] == "avg"]) == 6  # every bucket, zeros too
    assert recorder.calls[-1] == ("sum", 6, False)  # the used-parameter map, after them
    assert model[4].weight.grad is None and model[4].bias.grad is None  # no rank used them
    assert model[0].weight.grad is not None


def test_find_unused_parameters_reduces_what_no_sync_accumulated():
    """A parameter used only in a no_sync pass still has its accumulated gradient reduced."""
    model = _model()
    reducer, _ = _reducer(model, [], find_unused_parameters=True)
    reducer.prepare_for_backward(sync=False)
    _loss(model).backward()
    accumulated = model[4].weight.grad.numpy().copy()
    reducer.prepare_for_backward(sync=True)
    _loss_without_last_layer(model).backward()
    np.testing.assert_array_equal(model[4].weight.grad.numpy(), accumulated)


def test_gradient_as_bucket_view_makes_grad_a_view_of_the_bucket():
    model = _model()
    reducer, _ = _reducer(model, [], cap_bytes=2**20, gradient_as_bucket_view=True)
    for _ in range(2):
        reducer.prepare_for_backward(sync=True)
        _loss(model).backward()
    buffer = reducer.buckets[0].buffer
    for p in model.parameters():
        assert np.shares_memory(p.grad.numpy(), buffer)
    plain = _model()
    for _ in range(2):
        _loss(plain).backward()
    for p, q in zip(model.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_backward_with_inputs_is_refused_clearly():
    model = _model()
    reducer, _ = _reducer(model, [])
    reducer.prepare_for_backward(sync=True)
    with pytest.raises(RuntimeError, match="outside a backward pass"):
        _loss(model).backward(inputs=[model[0].weight])


def test_parameters_of_two_dtypes_go_to_separate_buckets():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4).double(), nn.Linear(4, 2).double())
    model[1].float()  # fp32 last layer on fp64 inputs: each bucket holds one dtype
    reducer, recorder = _reducer(model, [], cap_bytes=2**20)
    assert reducer.bucket_members() == [["1.bias", "1.weight"], ["0.bias", "0.weight"]]
    assert [b.buffer.dtype for b in reducer.buckets] == [np.float32, np.float64]
    reducer.prepare_for_backward(sync=True)
    model[1](model[0](mg.randn(5, 3, dtype=mg.float64)).float()).sum().backward()
    assert [size for _, size, _ in recorder.calls] == [10, 16]
    assert model[1].weight.grad.dtype == mg.float32 and model[0].weight.grad.dtype == mg.float64
