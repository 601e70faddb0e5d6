"""scaled_dot_product_attention: forward against a per-query loop, gradients by finite
differences (plain, causal, masked, fully masked rows, a float mask that requires grad),
dropout, and the error messages."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck


def naive_attention(q, k, v, allowed=None, scale=None):
    """One query at a time: weights over the allowed keys, then a weighted sum of values."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, v))
    out = np.zeros(batch + (q.shape[-2], v.shape[-1]))
    for b in np.ndindex(*batch):
        for i in range(q.shape[-2]):
            keys = [j for j in range(k.shape[-2]) if allowed is None or allowed[i, j]]
            if not keys:
                continue  # fully masked: zeros
            scores = np.array([q[b][i] @ k[b][j] * scale for j in keys])
            weights = np.exp(scores - scores.max())
            weights /= weights.sum()
            out[b][i] = sum(w * v[b][j] for w, j in zip(weights, keys))
    return out


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def qkv(batch=(2,), length=3, source=4, e=5, ev=2, requires_grad=False):
    shapes = [batch + (length, e), batch + (source, e), batch + (source, ev)]
    return [mg.tensor(rand(*s, seed=i), requires_grad=requires_grad) for i, s in enumerate(shapes)]


def test_forward_matches_naive():
    q, k, v = qkv(batch=(2, 3))
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 3, 2)
    np.testing.assert_allclose(out.data, naive_attention(q.data, k.data, v.data), rtol=1e-12)
    scaled = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    np.testing.assert_allclose(scaled.data, naive_attention(q.data, k.data, v.data, scale=0.3),
                               rtol=1e-12)


@pytest.mark.parametrize("length,source", [(3, 3), (2, 4), (4, 2)])
def test_causal_is_top_left_aligned(length, source):
    q, k, v = qkv(length=length, source=source)
    allowed = np.tril(np.ones((length, source), dtype=bool))  # query i sees keys 0..i
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.data, naive_attention(q.data, k.data, v.data, allowed),
                               rtol=1e-12)
    # the first query sees only the first key, so it returns the first value exactly
    np.testing.assert_allclose(out.data[:, 0], v.data[:, 0], rtol=1e-12)


def test_bool_mask_and_equivalent_float_mask():
    q, k, v = qkv()
    allowed = np.array([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=bool)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(allowed))
    np.testing.assert_allclose(out.data, naive_attention(q.data, k.data, v.data, allowed),
                               rtol=1e-12)
    additive = np.where(allowed, 0.0, -np.inf)
    out_float = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(additive))
    np.testing.assert_allclose(out_float.data, out.data, rtol=1e-12)


def test_float_mask_is_added_to_the_scores():
    q, k, v = qkv()
    bias = rand(3, 4, seed=9)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(bias))
    scores = q.data @ k.data.swapaxes(-1, -2) / math.sqrt(5) + bias
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(out.data, weights @ v.data, rtol=1e-12)


def test_fully_masked_row_gives_zeros_and_no_gradient():
    q, k, v = qkv(requires_grad=True)
    allowed = np.ones((3, 4), dtype=bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(allowed))
    assert np.isfinite(out.data).all()
    np.testing.assert_array_equal(out.data[:, 1], 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(q.grad.data[:, 1], 0.0)
    assert np.isfinite(k.grad.data).all() and np.isfinite(v.grad.data).all()


@pytest.mark.parametrize("kind", ["plain", "causal", "bool_mask", "float_mask", "broadcast"])
def test_gradcheck(kind):
    kwargs = {}
    q, k, v = qkv(requires_grad=True)
    if kind == "causal":
        kwargs["is_causal"] = True
    elif kind == "bool_mask":
        allowed = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 0]], dtype=bool)
        kwargs["attn_mask"] = mg.tensor(allowed)
    elif kind == "float_mask":
        kwargs["attn_mask"] = mg.tensor(rand(2, 3, 4, seed=7))
    elif kind == "broadcast":  # one query set, two key/value sets
        q = mg.tensor(rand(1, 2, 3, 5), requires_grad=True)
        k = mg.tensor(rand(2, 1, 4, 5, seed=1), requires_grad=True)
        v = mg.tensor(rand(4, 2, seed=2), requires_grad=True)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs),
                     (q, k, v))


@pytest.mark.parametrize("mask_shape", [(2, 3, 4), (3, 4), (1, 4), (5, 2, 3, 4)], ids=str)
def test_float_mask_that_requires_grad_gets_the_scores_gradient(mask_shape):
    """A float mask is an additive bias on the scores (a learned position bias, say): its
    gradient is dL/dscores, summed over the dimensions it was broadcast along."""
    q, k, v = qkv(requires_grad=True)
    mask = mg.tensor(rand(*mask_shape, seed=7), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                     (q, k, v, mask))


def test_float32_mask_gets_a_float32_gradient_with_float64_inputs():
    q, k, v = qkv()
    mask = mg.tensor(rand(3, 4, seed=7), dtype=mg.float32, requires_grad=True)
    F.scaled_dot_product_attention(q, k, v, attn_mask=mask).sum().backward()
    assert mask.grad.dtype == mg.float32 and mask.grad.shape == (3, 4)
    np.testing.assert_allclose(mask.grad.data.sum(axis=-1), 0.0, atol=1e-6)  # softmax rows


def test_dropout_is_reproducible_and_rescaled():
    q, k, v = qkv()
    mg.manual_seed(3)
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    mg.manual_seed(3)
    second = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(first.data, second.data)
    assert not np.allclose(first.data, F.scaled_dot_product_attention(q, k, v).data)
    zeros = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(zeros.data, 0.0)
    # the dropout mask is fixed inside one call, so the gradient is exact for it
    q, k, v = qkv(requires_grad=True)

    def dropped(q, k, v):
        mg.manual_seed(11)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    assert gradcheck(dropped, (q, k, v))


def test_errors_name_shapes():
    q, k, v = qkv()
    with pytest.raises(RuntimeError, match=r"embedding size E: 5 != 3"):
        F.scaled_dot_product_attention(q, mg.randn(2, 4, 3, dtype=mg.float64), v)
    with pytest.raises(RuntimeError, match=r"sequence length S: 4 != 6"):
        F.scaled_dot_product_attention(q, k, mg.randn(2, 6, 2, dtype=mg.float64))
    with pytest.raises(RuntimeError, match=r"not together with|together with is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(3, 4, dtype=mg.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 3\) does not broadcast.*"
                                           r"\(2, 3, 4\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(4, 3, dtype=mg.bool))
    with pytest.raises(RuntimeError, match=r"bool or floating point, got dtype int64"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(3, 4, dtype=mg.int64))
    with pytest.raises(RuntimeError, match=r"at least 2-D.*\(5,\)"):
        F.scaled_dot_product_attention(*[mg.randn(5, dtype=mg.float64)] * 3)
    with pytest.raises(RuntimeError, match=r"same dtype, got float64, float64 and float32"):
        F.scaled_dot_product_attention(q, k, mg.randn(2, 4, 2))
    with pytest.raises(RuntimeError, match=r"batch dimensions.*do not broadcast"):
        F.scaled_dot_product_attention(q, mg.randn(3, 4, 5, dtype=mg.float64), v)
