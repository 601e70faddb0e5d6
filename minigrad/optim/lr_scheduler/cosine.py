"""`CosineAnnealingLR`: lower the lr along half a cosine, from base_lr to eta_min."""

from __future__ import annotations

import math

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with
    Warm Restarts", Eq. 5, here without the restarts).

    Closed form, with T_cur = t:

        lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2

    The lr starts at base_lr, falls slowly, fastest at T_max / 2, and flattens onto eta_min
    at t = T_max. Past T_max the cosine continues: the lr climbs back up over the next T_max
    epochs (PyTorch's behaviour; stop stepping at T_max to stay at eta_min).

    `step()` uses PyTorch's recursive form, which gives the same numbers up to rounding while
    the lr is set by this scheduler alone, and composes with other schedulers:

        lr_t = eta_min + (lr_{t-1} - eta_min) (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))

    At the epochs where the denominator vanishes ((t - 1 - T_max) a multiple of 2 T_max),
    it adds (base_lr - eta_min)(1 - cos(pi / T_max)) / 2 instead, as PyTorch does.

    Args:
        optimizer: the optimizer to schedule.
        T_max: number of epochs from base_lr down to eta_min.
        eta_min: the lowest lr.
        last_epoch: -1 to start; the last epoch seen to resume.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return self._current_lrs()
        if (t - 1 - T_max) % (2 * T_max) == 0:
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                    for base_lr, group in zip(self.base_lrs, groups, strict=True)]
        return [(1 + math.cos(math.pi * t / T_max)) / (1 + math.cos(math.pi * (t - 1) / T_max))
                * (group["lr"] - eta_min) + eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]
