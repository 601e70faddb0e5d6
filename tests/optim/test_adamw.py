"""AdamW: weight decay that shrinks the weights directly, outside Adam's normalization."""

import numpy as np

import minigrad as mg
from minigrad.optim import Adam, AdamW


def param(values):
    return mg.tensor(values, dtype=mg.float64, requires_grad=True)


def test_with_zero_gradient_only_the_decay_acts():
    # m = 0, so Adam's step is 0; theta <- theta (1 - lr lambda) = 2 * (1 - 0.1 * 0.5)
    p = param([2.0, -4.0])
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = mg.tensor([0.0, 0.0], dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(p.numpy(force=True), [1.9, -3.8], rtol=1e-15)


def test_decay_then_the_adam_step():
    p = param([1.0])
    opt = AdamW([p], lr=0.1, weight_decay=0.2)
    p.grad = mg.tensor([3.0], dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(p.numpy(force=True), [1.0 * (1 - 0.02) - 0.1 * 3 / (3 + 1e-8)],
                               rtol=1e-15)


def test_differs_from_adams_l2_weight_decay():
    # Adam's L2 term goes through the normalization: with g = 0 its first step is ~lr.
    grads = [[0.0], [0.0]]
    results = []
    for cls in (Adam, AdamW):
        p = param([1.0])
        opt = cls([p], lr=0.1, weight_decay=0.1)
        for g in grads:
            p.grad = mg.tensor(g, dtype=mg.float64)
            opt.step()
        results.append(p.item())
    np.testing.assert_allclose(results[1], 0.99**2, rtol=1e-15)
    assert results[0] < 0.85


def test_defaults_and_groups_record_the_decoupling():
    opt = AdamW([param([1.0])])
    group = opt.param_groups[0]
    assert group["weight_decay"] == 1e-2 and group["lr"] == 1e-3
    assert group["decoupled_weight_decay"] is True and group["betas"] == (0.9, 0.999)
    assert Adam([param([1.0])]).param_groups[0]["decoupled_weight_decay"] is False


def test_loading_an_adam_state_keeps_the_decay_decoupled():
    adam = Adam([param([1.0])], weight_decay=0.1)
    state = adam.state_dict()
    del state["param_groups"][0]["decoupled_weight_decay"]  # as an older checkpoint
    adamw = AdamW([param([1.0])])
    adamw.load_state_dict(state)
    group = adamw.param_groups[0]
    assert group["decoupled_weight_decay"] is True and group["weight_decay"] == 0.1
    adam.load_state_dict(state)
    assert adam.param_groups[0]["decoupled_weight_decay"] is False
