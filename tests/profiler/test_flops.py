"""FlopCounter on a small MLP: hand counts, forward and backward, per op and per module."""

import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.profiler import FlopCounter

N, D_IN, HIDDEN, D_OUT = 8, 5, 7, 3


@pytest.fixture
def mlp():
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(D_IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, D_OUT))


def hand_forward() -> int:
    first = 2 * N * D_IN * HIDDEN + N * HIDDEN   # products + bias add (one Linear op)
    relu = N * HIDDEN
    second = 2 * N * HIDDEN * D_OUT + N * D_OUT
    return first + relu + second


def test_forward_flops_equal_the_hand_count(mlp):
    x = mg.randn(N, D_IN)
    with FlopCounter() as fc:
        mlp(x)
    assert fc.forward_flops == hand_forward()
    assert fc.backward_flops == 0 and fc.total_flops == hand_forward()
    assert fc.by_op["Linear"] == 2 * N * (D_IN * HIDDEN + HIDDEN * D_OUT) + N * (HIDDEN + D_OUT)
    assert fc.by_op["Relu"] == N * HIDDEN


def test_forward_and_backward_flops_equal_the_hand_count(mlp):
    x, y = mg.randn(N, D_IN), mg.randint(0, D_OUT, (N,))
    with FlopCounter() as fc:
        loss = F.cross_entropy(mlp(x), y)
        loss.backward()
    loss_forward = 5 * N * D_OUT + 2 * N        # log_softmax + nll (mean)
    assert fc.forward_flops == hand_forward() + loss_forward
    # x needs no gradient: the first Linear's backward computes dW only (1x its product) and
    # db (1 per output element); the second computes dW and dx (2x) and db. relu: 1 per
    # element; nll: 1 per target; log_softmax: 4 per element.
    backward = (2 * N * D_IN * HIDDEN + N * HIDDEN
                + N * HIDDEN
                + 2 * 2 * N * HIDDEN * D_OUT + N * D_OUT
                + N + 4 * N * D_OUT)
    assert fc.backward_flops == backward
    assert fc.total_flops == fc.forward_flops + backward


def test_by_module_charges_the_innermost_module_and_backward_to_the_forward_module(mlp):
    x = mg.randn(N, D_IN)
    with FlopCounter(mlp) as fc:
        mlp(x).sum().backward()
    assert fc.forward_by_module["0"] == 2 * N * D_IN * HIDDEN + N * HIDDEN
    assert fc.forward_by_module["1"] == N * HIDDEN
    assert fc.forward_by_module["2"] == 2 * N * HIDDEN * D_OUT + N * D_OUT
    assert fc.forward_by_module["(outside modules)"] == N * D_OUT  # the .sum()
    assert fc.forward_by_module[""] == 0  # Sequential runs no op itself
    assert fc.backward_by_module["2"] == 2 * 2 * N * HIDDEN * D_OUT + N * D_OUT
    assert fc.by_module["1"] == 2 * N * HIDDEN
    assert sum(fc.by_module.values()) == fc.total_flops
    assert fc.by_module_and_op["2"]["LinearBackward"] == 2 * 2 * N * HIDDEN * D_OUT + N * D_OUT


def test_hooks_are_removed_on_exit(mlp):
    with FlopCounter(mlp):
        pass
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in mlp.modules())
    with FlopCounter() as fc:
        pass
    mlp(mg.randn(N, D_IN))
    assert fc.forward_flops == 0


def test_nested_counters_both_count():
    x = mg.randn(4, 4)
    with FlopCounter() as outer:
        x @ x
        with FlopCounter() as inner:
            x @ x
    assert (outer.forward_flops, inner.forward_flops) == (2 * 2 * 64, 2 * 64)
