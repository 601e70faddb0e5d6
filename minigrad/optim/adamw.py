"""`AdamW`: Adam with decoupled weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minigrad.optim.adam import Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2).

    Adam with the weight decay taken out of the gradient: each step first shrinks the
    parameter, then takes the plain Adam step (see `Adam` for the moments and bias corrections):

        theta <- theta (1 - lr lambda)
        theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

    Why it differs from Adam's `weight_decay`: there, lambda theta is added to g and then
    divided by sqrt(v_hat) like the rest of the gradient, so weights whose gradients are large
    are barely decayed, and the decay strength depends on the gradient history. Here every
    weight shrinks by the same factor (1 - lr lambda) per step, as in plain SGD with L2.
    The shrink is scaled by lr (as in PyTorch; the paper's schedule multiplier eta_t plays
    that role), so a schedule that lowers lr also lowers the decay.

    This is `Adam(..., decoupled_weight_decay=True)`, as in PyTorch; `param_groups` keep the
    `'decoupled_weight_decay': True` entry.

    Args:
        params: Tensors or parameter-group dicts (see `Optimizer`).
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: lambda, the decoupled decay coefficient (default 1e-2).
        amsgrad: use the running maximum of the second moment (see `Adam`).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """`Optimizer.load_state_dict`, keeping the decay decoupled whatever the saved groups
        say (as PyTorch does): an AdamW stays AdamW."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
