"""CosineAnnealingLR: the closed form, eta_min at T_max, the climb back after it."""

import math

import numpy as np

import minigrad as mg
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import CosineAnnealingLR


def run(steps, **kwargs):
    opt = SGD([mg.tensor([1.0], requires_grad=True)], lr=0.1)
    scheduler = CosineAnnealingLR(opt, **kwargs)
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        values.append(opt.param_groups[0]["lr"])
    return np.array(values)


def test_follows_half_a_cosine_from_base_lr_to_eta_min():
    values = run(10, T_max=10, eta_min=0.01)
    t = np.arange(11)
    np.testing.assert_allclose(values, 0.01 + 0.09 * (1 + np.cos(np.pi * t / 10)) / 2,
                               rtol=1e-12)
    assert values[0] == 0.1 and math.isclose(values[5], 0.055) and math.isclose(values[10], 0.01)


def test_past_t_max_the_lr_climbs_back_as_in_pytorch():
    values = run(20, T_max=5)
    np.testing.assert_allclose(values[5], 0.0, atol=1e-15)
    np.testing.assert_allclose(values[10], 0.1, rtol=1e-12)
    assert np.all(np.diff(values[5:11]) > 0)
