"""`LRScheduler`: the base of every learning-rate schedule.

A scheduler owns no learning rate: it writes `group['lr']` into the optimizer's parameter
groups, and the optimizer reads it at its next step. The protocol, as in PyTorch 2.x:

- the constructor records each group's starting lr as `group['initial_lr']` (kept in
  `base_lrs`) and takes an *initial step*, which sets the lr for epoch 0 (`last_epoch = 0`);
- each `scheduler.step()`, called after `optimizer.step()`, advances `last_epoch` by one and
  writes the lr that `get_lr()` computes for it;
- `get_last_lr()` returns the lrs written last.

Most schedules are written in PyTorch's *recursive* ("chainable") form: the new lr is computed
from the group's current lr (e.g. `lr * gamma`), so two schedulers on one optimizer compose.
Their *closed form* (`_get_closed_form_lr`, a function of `base_lrs` and `last_epoch` alone)
is what `step(epoch)` and `SequentialLR` use to jump to an epoch.
"""

from __future__ import annotations

import warnings
import weakref
from functools import wraps
from typing import Any

from minigrad.optim.optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available."
)


class LRScheduler:
    """Base class of learning-rate schedulers; subclasses implement `get_lr()`.

    Args:
        optimizer: the optimizer whose `param_groups[i]['lr']` this scheduler sets.
        last_epoch: the index of the last epoch seen; -1 starts the schedule. A value >= 0
            resumes one, and needs `'initial_lr'` in every group (a loaded optimizer state
            has it).

    Attributes:
        base_lrs: the starting lr of each group (`group['initial_lr']`).
        last_epoch: how many times `step()` was called after the initial step.
    """

    _is_initial = False  # True only during the constructor's step (see `_initial_step`)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"a scheduler with last_epoch={last_epoch} >= 0: load the optimizer's "
                        "state first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        _mark_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the lr of epoch 0 (or of the resumed epoch), marking the step as the initial one."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lr of each group at `last_epoch` (called by `step()`; use `get_last_lr()` to read)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as set by the last `step()`."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch (or batch) and write the new lrs into the groups.

        Args:
            epoch: deprecated, as in PyTorch: jump to this epoch, through the closed form
                where the schedule has one.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch "
                "1.1.0 and later (and in minigrad), you should call them in the opposite order: "
                "`optimizer.step()` before `lr_scheduler.step()`. Failure to do this will result "
                "in skipping the first value of the learning rate schedule.",
                UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute of the scheduler except the optimizer (save the optimizer too)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by `state_dict()`."""
        self.__dict__.update(state_dict)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


def _mark_optimizer_steps(optimizer: Optimizer) -> None:
    """Wrap `optimizer.step` once so it records that it ran (`optimizer._opt_called`).

    That lets the first `scheduler.step()` warn when it comes before any `optimizer.step()`,
    the mistake that silently skips the first lr of the schedule. The wrapper holds the
    optimizer weakly, so it adds no reference cycle.
    """
    if hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        return
    opt_ref = weakref.ref(optimizer)
    step = type(optimizer).step

    @wraps(step)
    def wrapper(*args, **kwargs):
        opt = opt_ref()
        opt._opt_called = True
        return step(opt, *args, **kwargs)

    wrapper._wrapped_by_lr_sched = True
    optimizer.step = wrapper
