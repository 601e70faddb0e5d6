"""Each FLOP formula against its closed form, on layers built from functional ops."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd.function import Function
from minigrad.profiler import FlopCounter, register_flop_formula
from minigrad.profiler.formulas import FORMULAS, find_formula, shapes_of


def randn(*shape, requires_grad=False):
    return mg.randn(*shape, requires_grad=requires_grad)


def forward_flops(fn) -> FlopCounter:
    with FlopCounter() as fc:
        fn()
    return fc


@pytest.fixture(autouse=True)
def seed():
    mg.manual_seed(0)


@pytest.mark.parametrize("a_shape, b_shape, closed_form", [
    ((3, 4), (4, 5), 2 * 3 * 5 * 4),                # M N K
    ((7, 3, 4), (7, 4, 5), 7 * 2 * 3 * 5 * 4),      # batched: times the batch
    ((2, 1, 3, 4), (6, 4, 5), 12 * 2 * 3 * 5 * 4),  # broadcast batch (2, 6)
    ((4,), (4, 5), 2 * 5 * 4),                      # vector @ matrix: M = 1
    ((3, 4), (4,), 2 * 3 * 4),                      # matrix @ vector: N = 1
    ((4,), (4,), 2 * 4),                            # dot product
])
def test_matmul_is_2mnk_times_batch(a_shape, b_shape, closed_form):
    a, b = randn(*a_shape), randn(*b_shape)
    fc = forward_flops(lambda: a @ b)
    assert fc.forward_flops == closed_form
    assert dict(fc.by_op) == {"MatMul": closed_form}


@pytest.mark.parametrize("needs, factor", [((True, True), 2), ((True, False), 1),
                                           ((False, True), 1)])
def test_matmul_backward_is_forward_per_needed_gradient(needs, factor):
    a = randn(3, 4, requires_grad=needs[0])
    b = randn(4, 5, requires_grad=needs[1])
    with FlopCounter() as fc:
        out = a @ b
        out.backward(mg.ones(3, 5))
    assert fc.by_op["MatMulBackward"] == factor * 2 * 3 * 5 * 4


@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_2_n_in_out_plus_bias(bias):
    n, d_in, d_out = 6, 5, 4
    x, w = randn(2, n // 2, d_in), randn(d_out, d_in)
    b = randn(d_out) if bias else None
    fc = forward_flops(lambda: F.linear(x, w, b))
    assert fc.forward_flops == 2 * n * d_in * d_out + (n * d_out if bias else 0)


@pytest.mark.parametrize("c_in, c_out, groups, k, stride, padding, hw", [
    (3, 8, 1, 3, 1, 1, 8),   # standard 3x3, 'same' size
    (6, 6, 6, 3, 1, 1, 8),   # depthwise
    (6, 10, 1, 1, 1, 0, 8),  # pointwise 1x1
    (4, 8, 2, 3, 2, 0, 9),   # grouped, strided, unpadded: 4x4 output
    (2, 3, 1, 5, 1, 2, 7),   # 5x5 with padding 2
])
def test_conv2d_formula(c_in, c_out, groups, k, stride, padding, hw):
    n = 2
    x, w, b = randn(n, c_in, hw, hw), randn(c_out, c_in // groups, k, k), randn(c_out)
    out_hw = (hw + 2 * padding - k) // stride + 1
    fc = forward_flops(lambda: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups))
    outputs = n * c_out * out_hw * out_hw
    assert fc.forward_flops == 2 * outputs * (c_in // groups) * k * k + outputs


def test_depthwise_and_pointwise_closed_forms():
    n, c, c_out, hw = 2, 8, 16, 6
    x = randn(n, c, hw, hw)
    depthwise = forward_flops(lambda: F.conv2d(x, randn(c, 1, 3, 3), padding=1, groups=c))
    assert depthwise.forward_flops == 2 * n * c * hw * hw * 3 * 3
    pointwise = forward_flops(lambda: F.conv2d(x, randn(c_out, c, 1, 1)))
    assert pointwise.forward_flops == 2 * n * c * c_out * hw * hw


def test_conv2d_backward_counts_each_needed_gradient():
    n, c_in, c_out, hw, k = 2, 3, 4, 6, 3
    x = randn(n, c_in, hw, hw, requires_grad=True)
    w, b = randn(c_out, c_in, k, k, requires_grad=True), randn(c_out, requires_grad=True)
    with FlopCounter() as fc:
        out = F.conv2d(x, w, b)
        out.backward(mg.ones(*out.shape))
    outputs = n * c_out * 4 * 4
    product = 2 * outputs * c_in * k * k
    assert fc.by_op["Conv2dBackward"] == 2 * product + outputs


@pytest.mark.parametrize("causal", [False, True])
def test_attention_formula(causal):
    b, h, t, s, d, dv = 2, 3, 5, 5, 4, 6
    q, k, v = randn(b, h, t, d), randn(b, h, s, d), randn(b, h, s, dv)
    fc = forward_flops(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    scores = b * h * t * s
    # Q K^T + P V, then per score: scale 1 + softmax 5 (+ mask 1)
    expected = 2 * scores * d + 2 * scores * dv + (6 + causal) * scores
    assert fc.forward_flops == expected


def test_attention_backward_formula():
    b, t, d = 2, 4, 8
    q, k, v = (randn(b, t, d, requires_grad=True) for _ in range(3))
    with FlopCounter() as fc:
        out = F.scaled_dot_product_attention(q, k, v)
        out.backward(mg.ones(*out.shape))
    scores = b * t * t
    assert fc.backward_flops == 4 * scores * (d + d) + 5 * scores


def test_softmax_layer_norm_and_batch_norm_per_element_constants():
    x = randn(4, 6, 5)
    assert forward_flops(lambda: F.softmax(x, dim=-1)).forward_flops == 5 * x.numel()
    assert forward_flops(lambda: F.log_softmax(x, dim=-1)).forward_flops == 5 * x.numel()
    w, b = randn(5), randn(5)
    assert forward_flops(lambda: F.layer_norm(x, (5,), w, b)).forward_flops == 7 * x.numel()
    assert forward_flops(lambda: F.layer_norm(x, (5,))).forward_flops == 5 * x.numel()
    c = randn(6)
    mean, var = mg.zeros(6), mg.ones(6)
    train = forward_flops(lambda: F.batch_norm(x, mean, var, c, c, training=True))
    assert train.forward_flops == 8 * x.numel()
    evaluation = forward_flops(lambda: F.batch_norm(x, mean, var, c, c, training=False))
    assert evaluation.forward_flops == 4 * x.numel()


def test_elementwise_reductions_and_views():
    x, y = randn(3, 4), randn(4)
    assert forward_flops(lambda: x + y).forward_flops == 12      # 1 per output element
    assert forward_flops(lambda: x.tanh()).forward_flops == 12   # exp/tanh/gelu count 1
    assert forward_flops(lambda: F.gelu(x)).forward_flops == 12
    assert forward_flops(lambda: x.sum(1)).forward_flops == 12   # 1 per input element
    assert forward_flops(lambda: x.var(1)).forward_flops == 4 * 12
    views = forward_flops(lambda: x.reshape(4, 3).T[1:].unsqueeze(0))
    assert views.forward_flops == 0
    assert set(views.by_op) == {"Reshape", "Permute", "BasicIndex"}
    assert views.uncounted_ops == {}


def test_embedding_is_free_forward_and_scatter_adds_backward():
    weight = randn(10, 4, requires_grad=True)
    ids = mg.tensor([[1, 2, 2], [0, 9, 1]])
    with FlopCounter() as fc:
        out = F.embedding(ids, weight)
        out.backward(mg.ones(2, 3, 4))
    assert fc.forward_flops == 0
    assert fc.by_op["EmbeddingBackward"] == 2 * 3 * 4


def test_cross_entropy_is_log_softmax_plus_nll():
    logits, target = randn(4, 10), mg.tensor([1, 0, 9, 3])
    with mg.use_backend("numpy"):
        fc = forward_flops(lambda: F.cross_entropy(logits, target))
    assert dict(fc.by_op) == {"LogSoftmax": 5 * 40, "NLLLoss": 2 * 4}
    with mg.use_backend("numba"):  # the fused kernel counts the same
        fc = forward_flops(lambda: F.cross_entropy(logits, target))
    assert dict(fc.by_op) == {"CrossEntropy": 5 * 40 + 2 * 4}


def test_pooling_formulas():
    x = randn(2, 3, 8, 8)
    assert forward_flops(lambda: F.max_pool2d(x, 2)).forward_flops == x.numel()
    # overlapping 3x3 windows at stride 2 read most inputs more than once
    out = F.max_pool2d(x, 3, stride=2, padding=1)
    assert forward_flops(lambda: F.max_pool2d(x, 3, stride=2, padding=1)).forward_flops == (
        out.numel() * 9)
    assert forward_flops(lambda: F.avg_pool2d(x, 2)).forward_flops == 2 * 3 * 16 * (4 + 1)
    assert forward_flops(lambda: F.adaptive_avg_pool2d(x, 1)).forward_flops == x.numel() + 6


class Unknown(Function):
    @staticmethod
    def forward(ctx, a):
        return a + 1

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_unknown_ops_count_zero_and_are_reported_forward_and_backward():
    x = randn(3, requires_grad=True)
    with FlopCounter() as fc:
        y = Unknown.apply(Unknown.apply(x)).sum()
        y.backward()
    assert fc.uncounted_ops == {"Unknown": 2, "UnknownBackward": 2}
    assert fc.forward_flops == 3  # only the sum
    assert "Unknown" in repr(fc)


def test_backward_of_a_graph_built_before_the_counter_is_reported():
    x = randn(3, 4, requires_grad=True)
    y = (x @ x.T).sum()
    with FlopCounter() as fc:
        y.backward()
    assert fc.backward_flops == 0
    assert fc.uncounted_ops == {"SumBackward": 1, "MatMulBackward": 1, "PermuteBackward": 1}


def test_register_flop_formula_teaches_a_custom_op():
    class Square(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return 2 * a * grad

    register_flop_formula(Square, lambda inputs, out: int(np.prod(out)),
                          lambda inputs, out, needs: 2 * int(np.prod(out)))
    try:
        x = randn(5, requires_grad=True)
        with FlopCounter() as fc:
            Square.apply(x).backward(mg.ones(5))
        assert (fc.forward_flops, fc.backward_flops) == (5, 10)
        assert find_formula(type("Sub", (Square,), {})) is FORMULAS[Square]  # subclasses too
    finally:
        del FORMULAS[Square]


def test_register_flop_formula_rejects_non_functions():
    with pytest.raises(TypeError, match="Function subclass"):
        register_flop_formula(int, lambda inputs, out: 0)


def test_shapes_of_keeps_no_arrays():
    a = np.zeros((2, 3))
    assert shapes_of([a, 1, None, (a, a), (1, 2)]) == ((2, 3), 1, None, ((2, 3), (2, 3)), (1, 2))
