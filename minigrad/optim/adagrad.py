"""`Adagrad`: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer
from minigrad.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 12, 2011: the diagonal-matrix variant).

    With learning rate lr, learning-rate decay delta, weight decay lambda and eps, step
    t = 1, 2, ... on a parameter theta with gradient g is:

        g  <- -g                               if maximize
        g  <- g + lambda theta                 if lambda != 0
        lr_t = lr / (1 + (t - 1) delta)
        s  <- s + g^2                          s starts at initial_accumulator_value
        theta <- theta - lr_t g / (sqrt(s) + eps)

    Coordinates that have seen large gradients take small steps and rarely-updated ones
    (rare features) keep large steps; since s only grows, every step size shrinks over time,
    the weakness that RMSprop and Adam fix by averaging instead of summing.

    State per parameter: `'step'` (int t) and `'sum'` (s): 1 float per parameter. As in
    PyTorch, the state is created in the constructor (filled with initial_accumulator_value);
    groups added later get theirs at their first step.

    Args:
        params: Tensors or parameter-group dicts (see `Optimizer`).
        lr: learning rate.
        lr_decay: delta, the learning rate decay.
        weight_decay: lambda, the L2 penalty coefficient.
        initial_accumulator_value: starting value of s.
        eps: added to the denominator for numerical stability.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "maximize": maximize}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        state["step"] = 0
        state["sum"] = Tensor._wrap(np.full_like(p.data, group["initial_accumulator_value"]))
        return state

    def step(self, closure: Callable | None = None):
        """One Adagrad update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p] or self._init_state(p, group)
                # grad may be p.grad's own array: only ever rebind it, never write into it.
                grad = p.grad.data
                if maximize:
                    grad = -grad
                param = p.data
                state["step"] += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                state_sum = state["sum"].data
                state_sum += grad * grad
                std = np.sqrt(state_sum)
                std += eps
                param += -clr * grad / std
                p._version_counter[0] += 1
        return loss
