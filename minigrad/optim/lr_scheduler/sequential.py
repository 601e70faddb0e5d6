"""`SequentialLR`: run schedulers one after another, switching at milestone epochs."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class SequentialLR(LRScheduler):
    """Hand the lr to `schedulers[i]` from epoch `milestones[i-1]` on.

    The usual use is warm-up then cosine decay::

        warmup = LinearLR(opt, start_factor=0.01, total_iters=W)
        cosine = CosineAnnealingLR(opt, T_max=N - W)
        schedule = SequentialLR(opt, [warmup, cosine], milestones=[W])

    At a milestone the next scheduler restarts from its own epoch 0 (through its closed form,
    from the base lrs), whatever lr the previous one ended on.

    Args:
        optimizer: the optimizer that every scheduler in the list schedules.
        schedulers: the schedulers, in order (their constructors' initial steps are undone).
        milestones: len(schedulers) - 1 increasing epochs where the next scheduler takes over.
        last_epoch: -1 to start; the last epoch seen to resume.

    Raises:
        ValueError: no scheduler, a scheduler of another optimizer, or a wrong number of
            milestones.
    """

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int], last_epoch: int = -1) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name} at index {i} should have `optimizer` as its attribute.")
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"{name} expects all schedulers to belong to the same optimizer, but got "
                    f"scheduler {type(scheduler).__name__} at index {i} has "
                    f"{type(scheduler.optimizer).__name__} at {id(scheduler.optimizer):#x}, "
                    f"which is different from {type(optimizer).__name__} at {id(optimizer):#x}."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in schedulers:
            _undo_initial_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch with the scheduler in charge (restarting it at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The attributes of this scheduler, with each inner scheduler's own state dict."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore this scheduler and each inner scheduler from `state_dict()`'s output."""
        self.__dict__.update({key: value for key, value in state_dict.items()
                              if key != "_schedulers"})
        for scheduler, saved in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            scheduler.load_state_dict(saved)


def _undo_initial_step(scheduler: LRScheduler) -> None:
    """Take back the epoch a constructor's initial step counted (in nested sequences, that of
    every inner scheduler), so each starts at its own epoch 0 when its turn comes."""
    inner = getattr(scheduler, "_schedulers", None)
    if inner is None:
        scheduler.last_epoch -= 1
    else:
        for s in inner:
            _undo_initial_step(s)
