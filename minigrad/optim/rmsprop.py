"""`RMSprop`: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer, lerp_, zeros_state


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton 2012, "Neural Networks for Machine Learning", lecture 6.5;
    the centered variant from Graves 2013, "Generating Sequences With Recurrent Neural
    Networks", Sec. 4, Eq. 38-41).

    With learning rate lr, smoothing constant alpha, eps, weight decay lambda and momentum mu,
    one step on a parameter theta with gradient g is:

        g  <- -g                                 if maximize
        g  <- g + lambda theta                   if lambda != 0
        v  <- alpha v + (1 - alpha) g^2          running mean of g^2
        a  <- alpha a + (1 - alpha) g            if centered: running mean of g
        d  = sqrt(v - a^2) + eps                 if centered (a running standard deviation)
        d  = sqrt(v) + eps                       otherwise
        b  <- mu b + g / d;  theta <- theta - lr b    if mu > 0
        theta <- theta - lr g / d                     otherwise

    Unlike Adam there is no bias correction, and eps is added outside the square root.
    The arithmetic order follows PyTorch's single-tensor RMSprop.

    Deviation from PyTorch: `maximize` is keyword-only. In PyTorch's signature it comes after
    `capturable` and `foreach`, which minigrad leaves out, so a call that passes it by
    position would bind the wrong argument; here such a call fails loudly instead.

    State per parameter: `'step'` (int), `'square_avg'` (v), plus `'momentum_buffer'` (b) when
    mu > 0 and `'grad_avg'` (a) when centered: 1 to 3 floats per parameter.

    Args:
        params: Tensors or parameter-group dicts (see `Optimizer`).
        lr: learning rate.
        alpha: smoothing constant of the running averages.
        eps: added to the denominator for numerical stability.
        weight_decay: lambda, the L2 penalty coefficient.
        momentum: mu, momentum factor applied to the normalized step.
        centered: normalize by an estimate of the gradient's variance instead of its
            uncentered second moment.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One RMSprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum, centered = (group["weight_decay"], group["momentum"],
                                                group["centered"])
            maximize = group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered:
                        state["grad_avg"] = zeros_state(p)
                # grad may be p.grad's own array: only ever rebind it, never write into it.
                grad = p.grad.data
                if maximize:
                    grad = -grad
                param = p.data
                state["step"] += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                square_avg = state["square_avg"].data
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if centered:
                    grad_avg = state["grad_avg"].data
                    lerp_(grad_avg, grad, 1 - alpha)
                    avg = np.subtract(square_avg, grad_avg * grad_avg)
                    np.sqrt(avg, out=avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"].data
                    buf *= momentum
                    buf += grad / avg
                    param += -lr * buf
                else:
                    param += -lr * grad / avg
                p._version_counter[0] += 1
        return loss
