"""Multiplicative decay on a timetable: `StepLR`, `MultiStepLR`, `ExponentialLR`.

All three multiply the lr by gamma at chosen epochs: every `step_size` epochs, at listed
milestones, or every epoch. In closed form, lr_t = base_lr * gamma^(number of decays so far).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class StepLR(LRScheduler):
    """Multiply the lr by gamma every `step_size` epochs.

        lr_t = base_lr * gamma^floor(t / step_size)

    Args:
        optimizer: the optimizer to schedule.
        step_size: period of the decay, in epochs (calls of `step()`).
        gamma: the decay factor.
        last_epoch: -1 to start; the last epoch seen to resume.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone epoch.

        lr_t = base_lr * gamma^(number of milestones <= t)

    Args:
        optimizer: the optimizer to schedule.
        milestones: increasing epoch indices; a milestone listed twice decays twice.
        gamma: the decay factor.
        last_epoch: -1 to start; the last epoch seen to resume.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch]
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every epoch.

        lr_t = base_lr * gamma^t

    Args:
        optimizer: the optimizer to schedule.
        gamma: the decay factor.
        last_epoch: -1 to start; the last epoch seen to resume.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # The initial step of a resumed scheduler must not decay once more.
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]
