"""`LambdaLR`: the lr is base_lr times any function of the epoch you write."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class LambdaLR(LRScheduler):
    """Set each group's lr to its base lr times a function of the epoch:

        lr_t = base_lr * lr_lambda(t)

    For example, linear warm-up then inverse square root decay (Vaswani et al. 2017, Eq. 3):
    `LambdaLR(opt, lambda t: min((t + 1) / 4000, (4000 / (t + 1)) ** 0.5))`.

    Args:
        optimizer: the optimizer to schedule.
        lr_lambda: a function of the integer epoch returning a multiplier, or a list of
            them, one per parameter group.
        last_epoch: -1 to start; the last epoch seen to resume.

    Raises:
        ValueError: a list of lambdas whose length is not the number of groups.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        else:
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * lmbda(self.last_epoch)
                for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's attributes; functions and lambdas are left out (saved as None, code
        is never saved), callable objects are saved as their `__dict__`."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes; the lambdas stay those given to the constructor (callable
        objects get their saved `__dict__` back)."""
        state = {key: value for key, value in state_dict.items() if key != "lr_lambdas"}
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, state_dict["lr_lambdas"], strict=True):
            if saved is not None:
                fn.__dict__.update(saved)
