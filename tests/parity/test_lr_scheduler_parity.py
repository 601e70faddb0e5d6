"""PyTorch parity of `minigrad.optim.lr_scheduler`: the lr (and momentum) sequences.

Each case builds the same scheduler in both frameworks over an optimizer with two parameter
groups (lrs 0.1 and 0.02), calls `optimizer.step()` then `scheduler.step()` N times, and
compares what `get_last_lr()` returns and what the groups hold (lr, and momentum or beta1
where OneCycleLR cycles it) at every step. The schedules are the same Python float
arithmetic in the same order, so the numbers are expected to agree to the last bit; the
comparison allows 1e-12 relative.
"""

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.parity

STEPS = 30


def make_optimizer(lib: str, name: str = "SGD"):
    """An optimizer with two groups, in `lib` ("torch" or "minigrad")."""
    tensor, module = (torch.tensor, torch.optim) if lib == "torch" else (mg.tensor, optim)
    groups = [{"params": [tensor([1.0, 2.0], requires_grad=True)], "lr": 0.1},
              {"params": [tensor([3.0], requires_grad=True)], "lr": 0.02}]
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    return getattr(module, name)(groups, **kwargs)


def snapshot(opt, scheduler) -> list[float]:
    """Everything a schedule sets: get_last_lr(), and each group's lr and momentum/beta1."""
    values = list(scheduler.get_last_lr())
    for group in opt.param_groups:
        values.append(group["lr"])
        values.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))
    return values


def run(lib: str, make_scheduler, steps: int = STEPS, optimizer: str = "SGD"):
    opt = make_optimizer(lib, optimizer)
    module = torch.optim.lr_scheduler if lib == "torch" else optim.lr_scheduler
    scheduler = make_scheduler(module, opt)
    history = [snapshot(opt, scheduler)]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        history.append(snapshot(opt, scheduler))
    return np.array(history), opt, scheduler


def check_same_schedule(make_scheduler, steps: int = STEPS, optimizer: str = "SGD"):
    expected, *_ = run("torch", make_scheduler, steps, optimizer)
    actual, *_ = run("minigrad", make_scheduler, steps, optimizer)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)
    return actual


def warmup_then_cosine(m, opt):
    warmup = m.LinearLR(opt, start_factor=0.1, total_iters=5)
    cosine = m.CosineAnnealingLR(opt, T_max=STEPS - 5, eta_min=1e-4)
    return m.SequentialLR(opt, [warmup, cosine], milestones=[5])


CASES = {
    "StepLR(3, 0.5)": lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.5),
    "StepLR(1)": lambda m, opt: m.StepLR(opt, step_size=1),
    "MultiStepLR(repeated milestone)": lambda m, opt: m.MultiStepLR(opt, [2, 5, 5, 9], 0.3),
    "ExponentialLR(0.9)": lambda m, opt: m.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR(10, 1e-3) past T_max": lambda m, opt: m.CosineAnnealingLR(opt, 10, 1e-3),
    "CosineAnnealingLR(7)": lambda m, opt: m.CosineAnnealingLR(opt, T_max=7),
    "LinearLR warm-up": lambda m, opt: m.LinearLR(opt, start_factor=0.25, total_iters=4),
    "LinearLR decay": lambda m, opt: m.LinearLR(opt, 1.0, 0.1, total_iters=6),
    "LambdaLR": lambda m, opt: m.LambdaLR(opt, lambda e: 0.95**e),
    "LambdaLR per group": lambda m, opt: m.LambdaLR(opt, [lambda e: 1 / (e + 1),
                                                          lambda e: min(1.0, (e + 1) / 8)]),
    "OneCycleLR cos": lambda m, opt: m.OneCycleLR(opt, max_lr=[0.5, 0.2], total_steps=STEPS),
    "OneCycleLR linear three_phase": lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.3, total_steps=STEPS, anneal_strategy="linear", three_phase=True),
    "OneCycleLR epochs x steps": lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.3, epochs=6, steps_per_epoch=5, pct_start=0.25, div_factor=10.0,
        final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
    "OneCycleLR no momentum cycling": lambda m, opt: m.OneCycleLR(
        opt, max_lr=0.3, total_steps=STEPS, cycle_momentum=False),
    "SequentialLR warm-up + cosine": warmup_then_cosine,
    "SequentialLR three schedulers": lambda m, opt: m.SequentialLR(
        opt, [m.ExponentialLR(opt, gamma=0.8), m.StepLR(opt, 4), m.LambdaLR(opt, lambda e: 1.0)],
        milestones=[6, 15]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(name):
    check_same_schedule(CASES[name])


def test_one_cycle_cycles_adam_beta1_like_torch():
    history = check_same_schedule(CASES["OneCycleLR cos"], optimizer="Adam")
    assert history[0][3] == 0.95 and min(h[3] for h in history) == pytest.approx(0.85)


def test_one_cycle_errors_past_total_steps_like_torch():
    for lib in ("torch", "minigrad"):
        *_, scheduler = run(lib, CASES["OneCycleLR cos"])
        with pytest.raises(ValueError, match=f"Tried to step {STEPS + 1} times. The specified "
                                             f"number of total steps is {STEPS}"):
            scheduler.step()


def test_warmup_then_cosine_shape():
    """The sequence itself, not only its agreement: warm-up up to base lr, then cosine down."""
    history = check_same_schedule(warmup_then_cosine)
    lrs = history[:, 0]
    np.testing.assert_allclose(lrs[0], 0.01)
    np.testing.assert_allclose(lrs[5], 0.1)
    assert np.all(np.diff(lrs[:6]) > 0) and np.all(np.diff(lrs[5:]) < 0)
    np.testing.assert_allclose(lrs[STEPS], 1e-4)


@pytest.mark.parametrize("name", ["StepLR(3, 0.5)", "MultiStepLR(repeated milestone)",
                                  "CosineAnnealingLR(10, 1e-3) past T_max", "LinearLR warm-up",
                                  "LambdaLR", "OneCycleLR linear three_phase",
                                  "SequentialLR warm-up + cosine"])
def test_state_dict_round_trip_matches_torch(name):
    """Stop after 12 steps, restore optimizer and scheduler from their state dicts into fresh
    objects (PyTorch's order: build the scheduler, then load the optimizer, then the
    scheduler), continue: the same lrs as the uninterrupted torch schedule."""
    make = CASES[name]
    expected, *_ = run("torch", make)
    _, opt, scheduler = run("minigrad", make, steps=12)
    saved_opt = copy.deepcopy(opt.state_dict())
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    assert "optimizer" not in saved_scheduler

    fresh_opt = make_optimizer("minigrad")
    fresh = make(optim.lr_scheduler, fresh_opt)
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved_scheduler)
    resumed = [snapshot(fresh_opt, fresh)]
    for _ in range(STEPS - 12):
        fresh_opt.step()
        fresh.step()
        resumed.append(snapshot(fresh_opt, fresh))
    np.testing.assert_allclose(np.array(resumed), expected[12:], rtol=1e-12, atol=0)
