"""clip_grad_norm_, get_total_norm, clip_grads_with_norm_ and clip_grad_value_
(nn/utils/clip_grad.py)."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)


def params_with_grads(*grads):
    out = []
    for g in grads:
        p = Parameter(mg.zeros(len(g)))
        p.grad = mg.tensor(g)
        out.append(p)
    return out


def test_clips_to_max_norm_and_returns_the_norm_before():
    ps = params_with_grads([3.0, 0.0], [0.0, 4.0])
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, mg.Tensor) and total.shape == () and total.dtype == mg.float32
    assert total.item() == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.data, [3 * scale, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ps[1].grad.data, [0.0, 4 * scale], rtol=1e-6)


def test_small_gradients_are_left_alone_and_params_without_grad_skipped():
    ps = params_with_grads([0.3, 0.4])
    ps.append(Parameter(mg.zeros(2)))
    grad = ps[0].grad
    assert clip_grad_norm_(iter(ps), 10.0).item() == pytest.approx(0.5)
    assert ps[0].grad is grad  # in place
    np.testing.assert_allclose(grad.data, [0.3, 0.4], rtol=1e-6)
    assert ps[1].grad is None


def test_a_single_tensor_and_no_gradients():
    p = params_with_grads([6.0, 8.0])[0]
    assert clip_grad_norm_(p, 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.data, [3.0, 4.0], rtol=1e-5)
    assert clip_grad_norm_([Parameter(mg.zeros(2))], 1.0).item() == 0.0


def test_other_norms():
    ps = params_with_grads([1.0, -7.0], [2.0])
    assert get_total_norm([p.grad for p in ps], math.inf).item() == 7.0
    assert get_total_norm([p.grad for p in ps], "inf").item() == 7.0
    assert get_total_norm([p.grad for p in ps], 1).item() == pytest.approx(10.0)
    assert get_total_norm([p.grad for p in ps], 3).item() == pytest.approx(352 ** (1 / 3))
    total = clip_grad_norm_(ps, 3.5, norm_type=math.inf)
    assert total.item() == 7.0
    np.testing.assert_allclose(ps[0].grad.data, [0.5, -3.5], rtol=1e-5)


def test_non_finite_norm_errors_or_poisons_the_gradients():
    ps = params_with_grads([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from "
                                           "`parameters` is non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[0].grad.data, [math.inf, 1.0])  # untouched
    total = clip_grad_norm_(ps, 1.0)
    assert math.isinf(total.item())
    assert np.isnan(ps[0].grad.data[0]) and ps[0].grad.data[1] == 0.0  # as PyTorch
    nan = params_with_grads([math.nan])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(nan, 1.0, norm_type=math.inf, error_if_nonfinite=True)


def test_clip_grads_with_norm_uses_the_given_norm():
    ps = params_with_grads([1.0, 1.0])
    clip_grads_with_norm_(ps, 1.0, mg.tensor(4.0))
    np.testing.assert_allclose(ps[0].grad.data, [0.25, 0.25], rtol=1e-5)


def test_float64_gradients_give_a_float64_norm():
    p = Parameter(mg.zeros(2, dtype=mg.float64))
    p.grad = mg.tensor([3.0, 4.0], dtype=mg.float64)
    total = clip_grad_norm_([p], 1.0)
    assert total.dtype == mg.float64 and p.grad.dtype == mg.float64


def test_clip_grad_value():
    ps = params_with_grads([-3.0, 0.5, 2.0])
    assert clip_grad_value_(ps, 1.0) is None
    np.testing.assert_array_equal(ps[0].grad.data, [-1.0, 0.5, 1.0])


def test_works_on_a_model_after_backward():
    from minigrad import nn

    mg.manual_seed(0)
    model = nn.Linear(4, 3)
    (model(mg.randn(8, 4)) * 100).sum().backward()
    before = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum())
                           for p in model.parameters()))
    total = clip_grad_norm_(model.parameters(), 1.0)
    assert total.item() == pytest.approx(before, rel=1e-6)
    after = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum())
                          for p in model.parameters()))
    assert after == pytest.approx(1.0, rel=1e-5)
