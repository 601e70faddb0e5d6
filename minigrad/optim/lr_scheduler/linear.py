"""`LinearLR`: move the lr linearly from start_factor * base_lr to end_factor * base_lr."""

from __future__ import annotations

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class LinearLR(LRScheduler):
    """Scale the lr by a factor that changes linearly over `total_iters` epochs, then stays.

        lr_t = base_lr * (start_factor + (end_factor - start_factor) min(t, total_iters) / total_iters)

    With start_factor < 1 = end_factor this is the usual linear *warm-up* (Goyal et al. 2017,
    "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", Sec. 2.2): a few epochs of
    small steps while Adam's moment estimates and the batch-norm statistics settle, before the
    full lr.

    `step()` uses PyTorch's recursive form: the factor of epoch t over the factor of epoch t-1,

        lr_t = lr_{t-1} (1 + (end_factor - start_factor)
                             / (total_iters start_factor + (t - 1)(end_factor - start_factor)))

    Args:
        optimizer: the optimizer to schedule.
        start_factor: factor at epoch 0, in (0, 1].
        end_factor: factor from epoch total_iters on, in [0, 1].
        total_iters: number of epochs the change takes.
        last_epoch: -1 to start; the last epoch seen to resume.

    Raises:
        ValueError: a factor outside its range.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             f"less or equal to 1, got start_factor={start_factor}")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1, got "
                             f"end_factor={end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [group["lr"] * ratio for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        factor = (self.start_factor + (self.end_factor - self.start_factor)
                  * min(self.total_iters, self.last_epoch) / self.total_iters)
        return [base_lr * factor for base_lr in self.base_lrs]
