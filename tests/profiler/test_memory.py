"""MemoryTracker on known sequences of ops: allocations, frees, views, the graph, tracemalloc."""

import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.autograd import function
from minigrad.profiler import MemoryTracker
from minigrad.profiler.memory import memory_owner

N = 1000
BYTES = 4 * N  # one float32 array of N elements


@pytest.fixture(autouse=True)
def seed():
    mg.manual_seed(0)


def test_chain_without_graph_peak_and_frees_by_hand():
    x = mg.randn(N)
    with MemoryTracker(trace_numpy=False) as mem, mg.no_grad():
        a = x * 2
        b = a * 3
        assert (mem.current_bytes, mem.peak_bytes) == (2 * BYTES, 2 * BYTES)
        del a  # nothing else holds it: freed now
        assert mem.current_bytes == BYTES
        c = b.sum()
        del b
        assert mem.current_bytes == 4  # the 0-d float32 sum
        d = (x + 1).exp()  # x + 1 lives until exp has run: with c, 2 BYTES + 4 at once
    assert mem.peak_bytes == 2 * BYTES + 4
    assert mem.current_bytes == 4 + BYTES
    assert mem.allocated_bytes == 4 * BYTES + 4
    assert mem.tracemalloc_peak_bytes is None
    del c, d


def test_views_add_no_bytes():
    x = mg.randn(10, 100)
    with MemoryTracker(trace_numpy=False) as mem, mg.no_grad():
        y = x * 1
        views = [y.reshape(100, 10), y.T, y[2:5], y.unsqueeze(0), x.T, x[1]]
        assert mem.current_bytes == BYTES
    assert mem.allocated_bytes == BYTES
    del views


def test_graph_keeps_saved_arrays_until_backward_frees_them():
    x = mg.randn(N, requires_grad=True)
    with MemoryTracker([x], trace_numpy=False) as mem:
        assert mem.baseline_bytes == BYTES
        a = x.exp()               # exp saves its output
        b = a * a                 # mul saves a twice (the same array)
        loss = b.sum()
        assert mem.current_bytes == BYTES + 2 * BYTES + 4
        del a, b                  # b's array dies; a's lives on in the graph
        assert mem.current_bytes == BYTES + BYTES + 4
        loss.backward()           # frees a (saved arrays), adds x.grad
        del loss
        assert mem.current_bytes == BYTES + BYTES  # x and x.grad
    # at least: x, a, loss, and the two gradients Mul's backward returns at once
    assert mem.peak_bytes >= 3 * BYTES + 4 + 2 * BYTES


def test_parameters_and_existing_gradients_are_the_baseline():
    mg.manual_seed(0)
    layer = nn.Linear(10, 20)
    layer(mg.randn(3, 10)).sum().backward()
    expected = 2 * (20 * 10 + 20) * 4  # weights and their gradients
    with MemoryTracker(layer, trace_numpy=False) as mem:
        pass
    assert mem.baseline_bytes == mem.peak_bytes == mem.current_bytes == expected


def test_baseline_arrays_that_die_are_subtracted():
    layer = nn.Linear(10, 20)
    layer(mg.randn(3, 10)).sum().backward()
    params = (20 * 10 + 20) * 4
    with MemoryTracker(layer, trace_numpy=False) as mem:
        layer.zero_grad()  # set_to_none=True, as in PyTorch: the gradients are freed
    assert (mem.baseline_bytes, mem.current_bytes) == (2 * params, params)


def test_new_gradients_of_parameters_are_tracked():
    layer = nn.Linear(10, 20)
    params = (20 * 10 + 20) * 4
    with MemoryTracker(layer, trace_numpy=False) as mem:
        out = layer(mg.randn(3, 10))
        out.sum().backward()
        del out
    assert mem.current_bytes == 2 * params


def test_tracemalloc_sees_temporaries_inside_an_op():
    y = mg.randn(100_000)
    # the NumPy softmax: the fused Numba one (backend numba/auto) makes no temporary at all
    with MemoryTracker() as mem, mg.no_grad(), mg.use_backend("numpy"):
        s = F.softmax(y, 0)
    output = s.data.nbytes
    assert mem.peak_bytes == output  # the tracker sees only the result
    # NumPy's softmax holds exp(x - max) and the result at the same time, at least
    assert mem.tracemalloc_peak_bytes >= 2 * output
    assert not tracemalloc.is_tracing()  # stopped again: we started it


def test_observer_and_hooks_are_removed_on_exit():
    layer = nn.Linear(2, 2)
    with MemoryTracker(layer):
        assert len(function._op_observers) == 1
    assert function._op_observers == []
    assert layer.weight._post_hooks == []


def test_memory_owner_follows_view_bases():
    a = np.zeros((4, 5))
    assert memory_owner(a[1:].T[::2]) is a
    assert memory_owner(a) is a
