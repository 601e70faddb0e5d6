"""profile(): rows (names, types, shapes, params, FLOPs), totals that add up, table, JSON."""

import json

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.profiler import ProfileResult, profile

N = 3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.body(x) + 1)  # `+ 1` is the model's own op


@pytest.fixture
def net():
    mg.manual_seed(0)
    return Net()


def test_rows_follow_execution_order_with_names_types_shapes_and_own_params(net):
    result = profile(net, mg.randn(N, 4), repeat=2, warmup=1)
    rows = [(r.name, r.layer_type, r.depth, r.output_shape, r.params, r.calls)
            for r in result.rows]
    assert rows == [
        ("", "Net", 0, (N, 2), 0, 1),
        ("body", "Sequential", 1, (N, 8), 0, 1),
        ("body.0", "Linear", 2, (N, 8), 4 * 8 + 8, 1),
        ("body.1", "ReLU", 2, (N, 8), 0, 1),
        ("head", "Linear", 1, (N, 2), 8 * 2 + 2, 1),
    ]
    flops = {r.name: r.flops for r in result.rows}
    assert flops == {"": N * 8, "body": 0, "body.0": 2 * N * 4 * 8 + N * 8, "body.1": N * 8,
                     "head": 2 * N * 8 * 2 + N * 2}
    assert all(r.time_ms >= 0 for r in result.rows)


def test_totals_add_up(net):
    result = profile(net, mg.randn(N, 4), repeat=2, warmup=1)
    assert result.total_params == result.trainable_params == 58
    assert sum(r.params for r in result.rows) == result.total_params
    assert result.param_bytes == 58 * 4
    assert sum(r.flops for r in result.rows) == result.forward_flops
    assert result.backward_flops is None
    assert result.peak_bytes >= result.param_bytes
    assert result.latency.repeat == 2 and result.latency.p50 > 0
    assert result.batch_size == N and result.tokens_per_s is None
    assert result.samples_per_s == pytest.approx(N / result.latency.p50)
    assert result.uncounted_ops == {}


def test_training_step_adds_backward_flops_and_an_outside_row(net):
    result = profile(net, mg.randn(N, 4), backward=True, repeat=2, warmup=1)
    outside = result.rows[-1]
    assert outside.name == "(outside modules)"
    assert outside.flops == N * 2 and outside.backward_flops == N * 2  # the default .sum()
    assert sum(r.flops for r in result.rows) == result.forward_flops
    assert sum(r.backward_flops for r in result.rows) == result.backward_flops
    head = next(r for r in result.rows if r.name == "head")
    assert head.backward_flops == 2 * (2 * N * 8 * 2) + N * 2  # dx, dW; db sums N rows


def test_table_text(net):
    result = profile(net, mg.randn(N, 4), backward=True, repeat=2, warmup=1)
    text = str(result)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Layer (type)"))
    for column in ("Output Shape", "Param #", "FLOPs", "Bwd FLOPs", "Time (ms)"):
        assert column in header
    assert any(line.startswith("Net ") for line in lines)
    assert any(line.startswith("    0 (Linear)") and "[3, 8]" in line and " 40 " in line
               for line in lines)
    assert any(line.startswith("  head (Linear)") for line in lines)
    assert "Total params: 58" in text and "Backward FLOPs:" in text and "Latency" in text
    assert "Uncounted ops (0 FLOPs): none" in text
    widths = {len(line) for line in lines[:lines.index(header) + 8]}
    assert len(widths) == 1  # rows aligned with the rules


def test_to_dict_is_json(net):
    result = profile(net, mg.randn(N, 4), repeat=2, warmup=1)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["rows"][2]["output_shape"] == [N, 8]
    assert data["forward_flops"] == result.forward_flops
    assert data["latency"]["repeat"] == 2


def test_leaf_rows_only(net):
    result = profile(net, mg.randn(N, 4), repeat=1, warmup=0, containers=False)
    assert [r.name for r in result.rows] == ["body.0", "body.1", "head"]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)

    def forward(self, ids, scale):
        return self.embed(ids) * scale


def test_tuple_input_and_token_throughput():
    mg.manual_seed(0)
    ids = mg.randint(0, 10, (2, 5))
    result = profile(TwoInputs(), (ids, mg.tensor(2.0)), repeat=2, warmup=0)
    assert result.rows[1].output_shape == (2, 5, 4)
    assert result.batch_size == 2
    assert result.tokens_per_s == pytest.approx(10 / result.latency.p50)


def test_model_state_is_restored():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5))
    running = model[1].running_mean.numpy().copy()
    x = mg.randn(5, 4)
    rng = mg.get_rng_state()
    result = profile(model, x, backward=True, repeat=2, warmup=1)  # dropout draws numbers
    assert isinstance(result, ProfileResult)
    assert all(p.grad is None for p in model.parameters())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), running)
    after = mg.rand(3).numpy()
    mg.set_rng_state(rng)
    np.testing.assert_array_equal(after, mg.rand(3).numpy())
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


def test_loss_fn_and_models_returning_tuples():
    mg.manual_seed(0)

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x), None

    result = profile(Pair(), mg.randn(2, 3), backward=True, repeat=1, warmup=0,
                     loss_fn=lambda out: (out[0] * out[0]).mean())
    assert result.rows[0].output_shape == [(2, 3), None]
    assert "[[2, 3], --]" in str(result)
    assert result.backward_flops > 0


def test_a_single_layer_is_its_own_row():
    mg.manual_seed(0)
    result = profile(nn.Linear(4, 2), mg.randn(N, 4), repeat=1, warmup=0, containers=False)
    assert [(r.name, r.params, r.flops) for r in result.rows] == [("", 10, 2 * N * 4 * 2 + N * 2)]
    assert str(result).splitlines()[3].startswith("Linear ")
