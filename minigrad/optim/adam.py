"""`Adam`: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from minigrad.optim.optimizer import Optimizer, lerp_, zeros_state


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1).

    With learning rate lr, betas (beta1, beta2), eps and weight decay lambda, step t = 1, 2, ...
    on a parameter theta with gradient g is:

        g  <- -g                                  if maximize
        theta <- theta (1 - lr lambda)            if decoupled_weight_decay (AdamW)
        g  <- g + lambda theta                    else, if lambda != 0 (L2 penalty)
        m  <- beta1 m + (1 - beta1) g             first moment: running mean of g
        v  <- beta2 v + (1 - beta2) g^2           second moment: running mean of g^2
        v_max <- max(v_max, v)                    if amsgrad (Reddi et al. 2018)
        m_hat = m / (1 - beta1^t)                 bias corrections: m and v start at 0,
        v_hat = v / (1 - beta2^t)                 so E[m] = (1 - beta1^t) E[g] (v_max if amsgrad)
        theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

    The arithmetic follows PyTorch's single-tensor Adam term by term (so trajectories match
    it to rounding): `m` moves by lerp, and the last line is computed as
    `theta + (-lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`, i.e. eps is added
    to the bias-corrected sqrt(v_hat), as in Algorithm 1.

    State per parameter: `'step'` (int t), `'exp_avg'` (m) and `'exp_avg_sq'` (v), Tensors like
    the parameter, plus `'max_exp_avg_sq'` with amsgrad: 2 (or 3) floats per parameter.

    Args:
        params: Tensors or parameter-group dicts (see `Optimizer`).
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: lambda; an L2 penalty folded into the gradient (see `AdamW` for the
            decoupled form).
        amsgrad: normalize by the largest second moment seen so far (Reddi, Kale & Kumar 2018,
            "On the Convergence of Adam and Beyond").
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: shrink the weights directly instead of adding lambda theta to
            the gradient: this is AdamW.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Adam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, maximize = (group["weight_decay"], group["amsgrad"],
                                               group["maximize"])
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
                # grad may be p.grad's own array: only ever rebind it, never write into it.
                grad = p.grad.data
                if maximize:
                    grad = -grad
                param = p.data
                state["step"] += 1
                step = state["step"]
                if weight_decay != 0:
                    if decoupled:
                        param *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * param
                exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
                lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                if amsgrad:
                    max_exp_avg_sq = state["max_exp_avg_sq"].data
                    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                    denom = np.sqrt(max_exp_avg_sq)
                else:
                    denom = np.sqrt(exp_avg_sq)
                denom /= bias_correction2_sqrt
                denom += eps
                param += -step_size * exp_avg / denom
                p._version_counter[0] += 1
        return loss
