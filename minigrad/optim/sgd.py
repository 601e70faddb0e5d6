"""`SGD`: stochastic gradient descent, with momentum (heavy ball or Nesterov) and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer
from minigrad.tensor import Tensor


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (Polyak 1964; Sutskever et al.
    2013, "On the importance of initialization and momentum in deep learning").

    With learning rate lr, momentum mu, dampening tau and weight decay lambda, one step on a
    parameter theta with gradient g is (PyTorch's formulation):

        g  <- -g                         if maximize
        g  <- g + lambda * theta         if lambda != 0   (L2 penalty lambda/2 |theta|^2)
        b  <- g                          at the first step, if mu != 0
        b  <- mu * b + (1 - tau) * g     later steps
        g  <- g + mu * b                 if nesterov
        g  <- b                          otherwise, if mu != 0
        theta <- theta - lr * g

    Note that the learning rate multiplies the momentum buffer, not the gradient inside it
    (Sutskever et al. put lr inside); the two agree while lr stays constant.

    State per parameter: `'momentum_buffer'` (a Tensor like the parameter) when mu != 0;
    nothing otherwise.

    Args:
        params: Tensors or parameter-group dicts (see `Optimizer`).
        lr: learning rate (PyTorch 2.x default 1e-3).
        momentum: mu, the momentum factor.
        dampening: tau, the fraction of the gradient left out of the buffer.
        weight_decay: lambda, the L2 penalty coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One SGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov, maximize = (group["weight_decay"], group["nesterov"],
                                                group["maximize"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                # d_p may be p.grad's own array: only ever rebind it, never write into it.
                d_p = p.grad.data
                if maximize:
                    d_p = -d_p
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._wrap(np.array(d_p, copy=True))
                    else:
                        buf.data *= momentum
                        buf.data += d_p if dampening == 0 else (1 - dampening) * d_p
                    d_p = d_p + momentum * buf.data if nesterov else buf.data
                p.data += -lr * d_p
                p._version_counter[0] += 1
        return loss
