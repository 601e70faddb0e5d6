"""PyTorch parity of `minigrad.optim`: whole training trajectories, for every option.

The problem: a 2-layer tanh network, mean squared error on fixed random data (its negative
when maximize=True), the same float32 initial weights in both frameworks. Each framework computes its own loss and
gradients (its own autograd) and takes its own optimizer steps; after every one of 200 steps
the parameters are compared.

Tolerances:
- float64: 1e-6 relative (`rtol=1e-6`, plus `atol=1e-12` for entries that cross zero).
  In practice the trajectories agree to ~1e-12: the update rules match term by term.
- float32: `rtol=1e-4, atol=5e-5`. The two frameworks round differently (torch fuses
  multiply-adds, sums matrix products in another order), ~1e-7 per step, and 200 steps of a
  nonlinear problem amplify that to at most ~5e-6 absolute here (10x margin).

The learning rates keep every run out of the chaotic regime (RMSprop at lr=1e-2 oscillates
on this problem and amplifies even float64 rounding to ~1e-6 within 100 steps).
"""

import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.parity

STEPS = 200
TOL = {np.float64: {"rtol": 1e-6, "atol": 1e-12}, np.float32: {"rtol": 1e-4, "atol": 5e-5}}
DTYPES = [np.float64, np.float32]

_rng = np.random.default_rng(0)
X = _rng.standard_normal((16, 4)).astype(np.float32)
Y = _rng.standard_normal((16, 2)).astype(np.float32)
INIT = [(0.5 * _rng.standard_normal(shape)).astype(np.float32)
        for shape in [(4, 8), (8,), (8, 2), (2,)]]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The arrays are tiny: torch's thread pool only adds overhead (4x on a busy 2-core CI)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def loss_fn(params, x, y):
    """The same expression in both frameworks: mean((tanh(x W1 + b1) W2 + b2 - y)^2)."""
    w1, b1, w2, b2 = params
    return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean()


class Run:
    """One framework's copy of the problem: parameters, data, and its module of optimizers."""

    def __init__(self, lib: str, dtype):
        self.lib = lib
        if lib == "torch":
            self.params = [torch.tensor(a.astype(dtype), requires_grad=True) for a in INIT]
            self.x, self.y = torch.tensor(X.astype(dtype)), torch.tensor(Y.astype(dtype))
        else:
            self.params = [mg.tensor(a.astype(dtype), requires_grad=True) for a in INIT]
            self.x, self.y = mg.tensor(X.astype(dtype)), mg.tensor(Y.astype(dtype))

    def make(self, name: str, params=None, **kwargs):
        params = self.params if params is None else params
        if self.lib == "torch":  # the single-tensor path: the one minigrad mirrors
            return getattr(torch.optim, name)(params, foreach=False, **kwargs)
        return getattr(optim, name)(params, **kwargs)

    def values(self) -> np.ndarray:
        return np.concatenate([np.array(p.detach().numpy()).ravel() for p in self.params])

    def train(self, opt, steps: int) -> np.ndarray:
        """`steps` steps; the parameters after each, shape (steps, number of weights).

        An optimizer with maximize=True climbs -loss (gradient ascent on the loss itself
        diverges, and a diverging run amplifies rounding without bound).
        """
        sign = -1.0 if opt.param_groups[0].get("maximize") else 1.0
        trajectory = []
        for _ in range(steps):
            opt.zero_grad()
            (sign * loss_fn(self.params, self.x, self.y)).backward()
            opt.step()
            trajectory.append(self.values())
        return np.stack(trajectory)


def check_same_trajectory(name: str, kwargs: dict, dtype, steps: int = STEPS) -> None:
    runs = [Run(lib, dtype) for lib in ("torch", "minigrad")]
    expected, actual = (r.train(r.make(name, **kwargs), steps) for r in runs)
    assert actual.dtype == expected.dtype == dtype
    assert not np.array_equal(actual[-1], np.concatenate([a.ravel() for a in INIT]))
    np.testing.assert_allclose(actual, expected, **TOL[dtype],
                               err_msg=f"{name}({kwargs}) in {dtype.__name__}")


def grid(**options):
    """Every combination of the given option values, as kwargs dicts."""
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


SGD_CASES = [c for c in grid(momentum=[0, 0.9], dampening=[0, 0.1], nesterov=[False, True],
                             weight_decay=[0, 0.01], maximize=[False, True])
             if not c["nesterov"] or (c["momentum"] > 0 and c["dampening"] == 0)]
ADAM_CASES = grid(amsgrad=[False, True], weight_decay=[0, 0.01], maximize=[False, True])
RMSPROP_CASES = grid(centered=[False, True], momentum=[0, 0.9], weight_decay=[0, 0.01],
                     maximize=[False, True])
ADAGRAD_CASES = grid(lr_decay=[0, 0.01], weight_decay=[0, 0.01],
                     initial_accumulator_value=[0, 0.1], maximize=[False, True])


def test_the_option_grids_have_every_valid_combination():
    assert len(SGD_CASES) == 20  # 5 valid (momentum, dampening, nesterov) x 2 x 2
    assert (len(ADAM_CASES), len(RMSPROP_CASES), len(ADAGRAD_CASES)) == (8, 16, 16)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd(kwargs, dtype):
    check_same_trajectory("SGD", {"lr": 0.05, **kwargs}, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam(kwargs, dtype):
    check_same_trajectory("Adam", {"lr": 0.01, **kwargs}, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adamw(kwargs, dtype):
    check_same_trajectory("AdamW", {"lr": 0.01, **kwargs}, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", RMSPROP_CASES, ids=str)
def test_rmsprop(kwargs, dtype):
    check_same_trajectory("RMSprop", {"lr": 1e-3, **kwargs}, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kwargs", ADAGRAD_CASES, ids=str)
def test_adagrad(kwargs, dtype):
    check_same_trajectory("Adagrad", {"lr": 0.05, **kwargs}, dtype)


def test_adam_with_other_betas_and_eps():
    check_same_trajectory("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6},
                          np.float64)


@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"lr": 0.02, "momentum": 0.9}),
                                            ("Adam", {"lr": 0.01}),
                                            ("RMSprop", {"lr": 1e-3, "momentum": 0.5})],
                         ids=["SGD", "Adam", "RMSprop"])
def test_two_param_groups_with_their_own_hyper_parameters(name, kwargs):
    trajectories = []
    for lib in ("torch", "minigrad"):
        run = Run(lib, np.float64)
        w1, b1, w2, b2 = run.params
        groups = [{"params": [w1, w2], "lr": 2 * kwargs["lr"], "weight_decay": 0.01},
                  {"params": [b1, b2]}]
        trajectories.append(run.train(run.make(name, groups, **kwargs), STEPS))
    np.testing.assert_allclose(trajectories[1], trajectories[0], **TOL[np.float64])


OPTIONS_FOR_RESUME = [("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
                      ("Adam", {"lr": 0.01, "amsgrad": True}),
                      ("AdamW", {"lr": 0.01}),
                      ("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.9}),
                      ("Adagrad", {"lr": 0.05, "lr_decay": 0.01})]


@pytest.mark.parametrize(("name", "kwargs"), OPTIONS_FOR_RESUME, ids=lambda v: str(v))
def test_state_dict_round_trip_mid_run_continues_like_torch(name, kwargs):
    """Save at step 100 (as NumPy arrays, as a checkpoint file holds them), load into a fresh
    optimizer over fresh parameters holding the saved values, continue: the same steps as an
    uninterrupted run, in minigrad and in torch."""
    run = Run("minigrad", np.float64)
    opt = run.make(name, **kwargs)
    run.train(opt, 100)
    saved = opt.state_dict()
    on_disk = {"state": {i: {k: (v.data.copy() if isinstance(v, mg.Tensor) else v)
                             for k, v in s.items()}
                         for i, s in saved["state"].items()},
               "param_groups": [dict(g) for g in saved["param_groups"]]}
    weights = [p.data.copy() for p in run.params]
    uninterrupted = run.train(opt, 100)

    resumed_run = Run("minigrad", np.float64)
    for p, w in zip(resumed_run.params, weights):
        p.data[...] = w
    resumed = resumed_run.make(name, **kwargs)
    resumed.load_state_dict(on_disk)
    np.testing.assert_array_equal(resumed_run.train(resumed, 100), uninterrupted)

    torch_run = Run("torch", np.float64)
    torch_opt = torch_run.make(name, **kwargs)
    torch_run.train(torch_opt, 100)
    check_same_state_dict(on_disk, torch_opt.state_dict())
    np.testing.assert_allclose(uninterrupted, torch_run.train(torch_opt, 100), **TOL[np.float64])


# options PyTorch has and minigrad leaves out (documented in `Optimizer`)
TORCH_ONLY_OPTIONS = {"foreach", "fused", "capturable", "differentiable"}


def check_same_state_dict(ours: dict, theirs: dict) -> None:
    """Same parameter indices, state keys and values, and group keys but torch's extras."""
    assert list(ours["state"]) == list(theirs["state"])
    for i, state in ours["state"].items():
        assert set(state) == set(theirs["state"][i]), i
        for key, value in state.items():
            expected = theirs["state"][i][key]
            if key == "step":
                assert value == expected.item()
            else:
                np.testing.assert_allclose(value, expected.numpy(), **TOL[np.float64])
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert set(torch_group) - set(group) <= TORCH_ONLY_OPTIONS
        assert set(group) <= set(torch_group)
        for key, value in group.items():
            assert value == torch_group[key], key
