"""OneCycleLR: phases, annealing, momentum cycling, step count and errors."""

import math

import pytest

import minigrad as mg
from minigrad.optim import SGD, Adagrad, Adam
from minigrad.optim.lr_scheduler import OneCycleLR


def param():
    return mg.tensor([1.0], requires_grad=True)


def run(opt, steps, **kwargs):
    scheduler = OneCycleLR(opt, **kwargs)
    lrs, momenta = [opt.param_groups[0]["lr"]], [opt.param_groups[0].get("momentum")]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0].get("momentum"))
    return lrs, momenta, scheduler


def test_two_phase_cosine_schedule_and_inverse_momentum():
    # total 10, pct_start 0.3: up over steps 0..2, down over 2..9
    lrs, momenta, _ = run(SGD([param()], lr=0.1, momentum=0.9), 9, max_lr=1.0,
                          total_steps=10, div_factor=10.0, final_div_factor=100.0)
    assert lrs[0] == pytest.approx(0.1) and lrs[2] == pytest.approx(1.0)
    assert lrs[9] == pytest.approx(0.1 / 100)
    assert lrs[1] == pytest.approx(1.0 + (0.1 - 1.0) / 2 * (math.cos(math.pi / 2) + 1))
    assert momenta[0] == pytest.approx(0.95) and momenta[2] == pytest.approx(0.85)
    assert momenta[9] == pytest.approx(0.95)


def test_linear_three_phase():
    # total 10, pct_start 0.3: 0..2 up, 2..4 back down to initial_lr, 4..9 to min_lr
    lrs, _, _ = run(SGD([param()], lr=0.1, momentum=0.9), 9, max_lr=1.0, total_steps=10,
                    div_factor=10.0, final_div_factor=10.0, anneal_strategy="linear",
                    three_phase=True)
    assert lrs[:5] == pytest.approx([0.1, 0.55, 1.0, 0.55, 0.1])
    assert lrs[9] == pytest.approx(0.01)


def test_cycles_adam_beta1_and_keeps_beta2():
    opt = Adam([param()], betas=(0.9, 0.99))
    run(opt, 2, max_lr=0.01, total_steps=10)
    beta1, beta2 = opt.param_groups[0]["betas"]
    assert beta2 == 0.99 and beta1 == pytest.approx(0.85)


def test_epochs_times_steps_per_epoch_and_the_error_past_the_end():
    _, _, scheduler = run(SGD([param()], momentum=0.9), 6, max_lr=0.1, epochs=2,
                          steps_per_epoch=3)
    assert scheduler.total_steps == 6
    with pytest.raises(ValueError, match="Tried to step 7 times. The specified number of "
                                         "total steps is 6"):
        scheduler.step()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    ({"total_steps": 0}, "Expected positive integer total_steps, but got 0"),
    ({"epochs": 2, "steps_per_epoch": -1}, "Expected positive integer steps_per_epoch"),
    ({"total_steps": 10, "pct_start": 1}, "Expected float between 0 and 1 pct_start, but got 1"),
    ({"total_steps": 10, "anneal_strategy": "exp"}, "must be one of 'cos' or 'linear'"),
    ({"total_steps": 10, "max_lr": [0.1, 0.2]},
     "max_lr must have the same length as optimizer.param_groups. max_lr has 2 values"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OneCycleLR(SGD([param()], momentum=0.9), **{"max_lr": 0.1, **kwargs})


def test_momentum_cycling_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="must support momentum or beta1.*Adagrad has neither"):
        OneCycleLR(Adagrad([param()]), max_lr=0.1, total_steps=10)
    OneCycleLR(Adagrad([param()]), max_lr=0.1, total_steps=10, cycle_momentum=False)
