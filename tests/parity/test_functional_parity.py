"""PyTorch parity of `minigrad.nn.functional`: forward values, dtypes and gradients.

Each case runs the same lambda `fn(F, *tensors)` with F = `minigrad.nn.functional` and with
F = `torch.nn.functional`, through the shared `helper_test_op` (float32 inputs, a random
upstream gradient). Integer inputs (class targets, indices) are passed as int64 arrays and
get no gradient.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as MF

from tests.parity.helper import helper_test_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.parity

TOL = {"atol": 1e-5, "rtol": 1e-5, "grad_atol": 1e-5, "grad_rtol": 1e-4}
TOL_CONV = {"atol": 1e-4, "rtol": 1e-4, "grad_atol": 1e-4, "grad_rtol": 1e-4}


def check(inputs, fn, **kwargs):
    """`helper_test_op` with one lambda `fn(F, *tensors)` used for both frameworks."""
    return helper_test_op(inputs, lambda *a: fn(MF, *a), lambda *a: fn(TF, *a),
                          **{**TOL, **kwargs})


def ints(values):
    return np.array(values, dtype=np.int64)


def probabilities(shape, axis=1, seed=1):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    return (p / p.sum(axis=axis, keepdims=True)).astype(np.float32)


# -- linear -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", [[(4, 3), (5, 3), (5,)], [(2, 4, 3), (5, 3), (5,)],
                                    [(3,), (5, 3), (5,)], [(4, 3), (5, 3)]], ids=str)
def test_linear(shapes):
    check(shapes, lambda F, *a: F.linear(*a))


# -- losses -----------------------------------------------------------------------------------

TARGET = ints([1, 0, 3, 3, 2])
TARGET_IGNORED = ints([1, -100, 3, 3, 2])
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 0.25], dtype=np.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_indices(reduction, smoothing, weighted):
    inputs = [(5, 4), TARGET_IGNORED] + ([CLASS_WEIGHT] if weighted else [])
    check(inputs, lambda F, x, t, *w: F.cross_entropy(
        x, t, *w, reduction=reduction, label_smoothing=smoothing), requires_grad=[True, False,
                                                                                 False])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_spatial_targets_and_ignore_index(reduction):
    target = np.random.default_rng(3).integers(0, 3, (2, 4, 5))
    target[0, 1, :2] = 1
    check([(2, 3, 4, 5), target.astype(np.int64), CLASS_WEIGHT[:3]],
          lambda F, x, t, w: F.cross_entropy(x, t, w, ignore_index=1, reduction=reduction,
                                             label_smoothing=0.1),
          requires_grad=[True, False, False])


def test_cross_entropy_unbatched():
    check([(4,), ints(2)], lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probabilities(reduction, smoothing):
    check([(3, 4, 2), probabilities((3, 4, 2)), CLASS_WEIGHT],
          lambda F, x, t, w: F.cross_entropy(x, t, w, reduction=reduction,
                                             label_smoothing=smoothing),
          requires_grad=[True, True, False])


def test_cross_entropy_large_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5e3, 5e3, -1e4]], dtype=np.float32)
    check([logits, ints([0, 1, 2])], lambda F, x, t: F.cross_entropy(x, t, reduction="none"),
          atol=1e-2, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    check([(5, 4), TARGET_IGNORED, CLASS_WEIGHT],
          lambda F, x, t, w: F.nll_loss(x, t, w, reduction=reduction),
          requires_grad=[True, False, False])


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(loss, reduction):
    check([(3, 4), (3, 4)], lambda F, x, y: getattr(F, loss)(x, y, reduction=reduction))
    check([(3, 4), (3, 4), (3, 4)],
          lambda F, x, y, w: getattr(F, loss)(x, y, reduction=reduction, weight=w),
          requires_grad=[True, True, False], low=0.1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((4, 3)) * 5).astype(np.float32)
    logits[0] = [0.0, 60.0, -60.0]
    target = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    weight = rng.uniform(0.5, 2, (4, 3)).astype(np.float32)
    pos_weight = np.array([0.5, 1.0, 3.0], dtype=np.float32)
    check([logits, target], lambda F, x, y: F.binary_cross_entropy_with_logits(
        x, y, reduction=reduction))
    check([logits, target, weight, pos_weight], lambda F, x, y, w, p:
          F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=p),
          requires_grad=[True, True, False, False])


@pytest.mark.filterwarnings("ignore:.*reduction.*mean")
@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    log_q = np.log(probabilities((3, 5), seed=2))
    target = np.log(probabilities((3, 5))) if log_target else probabilities((3, 5))
    check([log_q, target], lambda F, x, t: F.kl_div(x, t, reduction=reduction,
                                                   log_target=log_target))
    if not log_target:
        # 0 log 0 = 0 in the loss; torch's target gradient there is NaN, so only the input's
        # gradient is compared.
        target[0, 1] = 0.0
        check([log_q, target], lambda F, x, t: F.kl_div(x, t, reduction=reduction),
              requires_grad=[True, False])


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape,normalized", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5)),
                                              ((3, 5), [5])], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, normalized, affine):
    extra = [tuple(normalized)] * 2 if affine else []
    check([shape] + extra, lambda F, x, *wb: F.layer_norm(x, normalized, *wb, eps=1e-5),
          grad_atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, training):
    rng = np.random.default_rng(5)
    mean, var = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    stats = {MF: (mg.tensor(mean), mg.tensor(var)), TF: (torch.tensor(mean), torch.tensor(var))}

    def run(F, x, w, b):
        return F.batch_norm(x, *stats[F], w, b, training=training, momentum=0.3, eps=1e-3)

    check([shape, (3,), (3,)], run, grad_atol=1e-4)
    for mine, theirs in zip(stats[MF], stats[TF]):  # the running statistics, updated in place
        np.testing.assert_allclose(mine.data, theirs.numpy(), rtol=1e-5, atol=1e-6)


# -- dropout, embedding, one_hot --------------------------------------------------------------


def test_dropout_identity_cases():
    check([(3, 4)], lambda F, x: F.dropout(x, 0.5, training=False))
    check([(3, 4)], lambda F, x: F.dropout(x, 0.0))
    check([(3, 4)], lambda F, x: F.dropout(x, 1.0))


def test_embedding():
    idx = ints([[1, 3, 1], [0, 3, 3]])
    check([(5, 4), idx], lambda F, w, i: F.embedding(i, w), requires_grad=[True, False])
    check([(5, 4), idx], lambda F, w, i: F.embedding(i, w, padding_idx=3),
          requires_grad=[True, False])


def test_one_hot():
    idx = ints([[0, 2], [4, 1]])
    check([idx], lambda F, i: F.one_hot(i))
    check([idx], lambda F, i: F.one_hot(i, 7))


# -- convolution and pooling ------------------------------------------------------------------

CONV_CASES = [
    # input, weight, kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((1, 4, 8, 7), (6, 2, 3, 3), {"stride": (2, 1), "padding": 2, "dilation": 2, "groups": 2}),
    ((2, 4, 6, 6), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
    ((1, 2, 6, 5), (3, 2, 4, 2), {"padding": "same"}),
    ((1, 2, 6, 5), (3, 2, 3, 3), {"padding": "same", "dilation": (2, 1)}),
    ((1, 2, 6, 5), (3, 2, 3, 3), {"padding": "valid"}),
    ((6, 5, 4), (4, 3, 2, 2), {"groups": 2}),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("x_shape,w_shape,kwargs", CONV_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d(x_shape, w_shape, kwargs, bias):
    inputs = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])
    check(inputs, lambda F, x, w, *b: F.conv2d(x, w, *b, **kwargs), **TOL_CONV)


POOL_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": (2, 3), "ceil_mode": True},
    {"kernel_size": 2, "stride": 1, "padding": 1},
]


@pytest.mark.parametrize("kwargs", POOL_CASES + [{"kernel_size": 2, "dilation": 2, "padding": 1},
                                                 {"kernel_size": 3, "dilation": (1, 2),
                                                  "ceil_mode": True, "stride": 2}], ids=str)
def test_max_pool2d(kwargs):
    check([(2, 3, 7, 6)], lambda F, x: F.max_pool2d(x, return_indices=True, **kwargs))
    check([(3, 7, 6)], lambda F, x: F.max_pool2d(x, **kwargs))


def test_max_pool2d_ties_go_to_first():
    x = np.array([[[[1, 3, 3], [3, 0, 3], [2, 3, 1]]]], dtype=np.float32)
    check([x], lambda F, x: F.max_pool2d(x, 2, stride=1, return_indices=True))


@pytest.mark.parametrize("kwargs", POOL_CASES, ids=str)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(kwargs, count_include_pad):
    check([(2, 3, 7, 6)], lambda F, x: F.avg_pool2d(x, count_include_pad=count_include_pad,
                                                   **kwargs))


def test_avg_pool2d_divisor_override():
    check([(2, 3, 7, 6)], lambda F, x: F.avg_pool2d(x, 3, 2, 1, divisor_override=4))


@pytest.mark.parametrize("output_size", [(3, 4), 1, (5, None), (7, 6), (4, 5), 9], ids=str)
def test_adaptive_avg_pool2d(output_size):
    check([(2, 3, 7, 6)], lambda F, x: F.adaptive_avg_pool2d(x, output_size))


# -- attention --------------------------------------------------------------------------------


def _attention_shapes(batch=(2, 3), length=4, source=5, e=6, ev=3):
    return [batch + (length, e), batch + (source, e), batch + (source, ev)]


def test_attention_plain_and_scaled():
    check(_attention_shapes(), lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v),
          **TOL_CONV)
    check(_attention_shapes(), lambda F, q, k, v: F.scaled_dot_product_attention(
        q, k, v, scale=0.7), **TOL_CONV)


@pytest.mark.parametrize("length,source", [(4, 4), (3, 5), (5, 3)])
def test_attention_causal(length, source):
    check(_attention_shapes(length=length, source=source),
          lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
          **TOL_CONV)


def test_attention_masks_with_fully_masked_rows():
    bool_mask = np.random.default_rng(6).uniform(size=(3, 4, 5)) > 0.4
    bool_mask[1, 2] = False  # a query that may see no key: zeros in both frameworks
    float_mask = np.random.default_rng(7).standard_normal((4, 5)).astype(np.float32)
    float_mask[0] = -np.inf
    check(_attention_shapes() + [bool_mask],
          lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
          **TOL_CONV)
    check(_attention_shapes() + [float_mask],
          lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
          **TOL_CONV)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4, 5), (3, 1, 5), (4, 5), (5,)], ids=str)
def test_attention_float_mask_gets_the_scores_gradient(mask_shape):
    """A float mask that requires grad is a learned additive bias (summed over broadcasting)."""
    check(_attention_shapes() + [mask_shape],
          lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
          **TOL_CONV)


def test_attention_broadcast_batch():
    check([(2, 1, 4, 6), (1, 3, 5, 6), (3, 5, 2)],
          lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v), **TOL_CONV)
