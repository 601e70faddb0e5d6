"""`OneCycleLR`: one cycle of lr up then down (and momentum down then up), over the whole run."""

from __future__ import annotations

import math
from typing import Any

from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2019, "Super-Convergence: Very Fast Training of Neural
    Networks Using Large Learning Rates", Sec. 3), stepped once per batch.

    With initial_lr = max_lr / div_factor and min_lr = initial_lr / final_div_factor, and N =
    total_steps (or epochs * steps_per_epoch), the schedule is made of phases, each annealing
    from a start to an end value as pct goes from 0 to 1 over the phase's steps:

        two phases (default, as fastai):  initial_lr -> max_lr    over steps 0 .. pct_start N - 1
                                          max_lr -> min_lr        up to step N - 1
        three_phase=True (the paper):     initial_lr -> max_lr    over steps 0 .. pct_start N - 1
                                          max_lr -> initial_lr    up to step 2 pct_start N - 2
                                          initial_lr -> min_lr    up to step N - 1

        anneal 'cos':    end + (start - end) / 2 (1 + cos(pi pct))
        anneal 'linear': start + (end - start) pct

    With cycle_momentum, momentum runs the other way (max_momentum -> base_momentum while
    the lr rises, and back), written into `group['momentum']` (SGD, RMSprop) or into
    `group['betas'][0]` (Adam, AdamW): large steps get less momentum.

    Args:
        optimizer: the optimizer to schedule.
        max_lr: the peak lr, one number or one per group.
        total_steps: steps in the cycle; or give epochs and steps_per_epoch.
        epochs: number of epochs, with steps_per_epoch.
        steps_per_epoch: batches per epoch, with epochs.
        pct_start: fraction of the cycle spent raising the lr (a float in [0, 1]).
        anneal_strategy: 'cos' or 'linear'.
        cycle_momentum: cycle the momentum (or beta1) inversely to the lr.
        base_momentum: momentum at the lr peak, one number or one per group.
        max_momentum: momentum at the start and end, one number or one per group.
        div_factor: initial_lr = max_lr / div_factor.
        final_div_factor: min_lr = initial_lr / final_div_factor.
        three_phase: use the paper's three phases instead of fastai's two.
        last_epoch: -1 to start; the index of the last *batch* to resume.

    Raises:
        ValueError: no way to know the number of steps, invalid pct_start or anneal_strategy,
            cycle_momentum with an optimizer without momentum or betas, or (from `step()`)
            stepping past total_steps.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _phases(self.total_steps, pct_start, three_phase)
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_func_type = anneal_strategy

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with "
                                 f"`cycle_momentum` option enabled ({type(optimizer).__name__} "
                                 "has neither)")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, group_max, group_base in zip(optimizer.param_groups, max_momentums,
                                                        base_momentums):
                    _set_momentum(group, group_max, self.use_beta1)
                    group["max_momentum"] = group_max
                    group["base_momentum"] = group_base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total "
                             f"steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]],
                                            pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                        _set_momentum(group, momentum, self.use_beta1)
                    break
                start_step = end_step
        return lrs


def _total_steps(total_steps: int | None, epochs: int | None,
                 steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(
                f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """Each phase: its last step, and the group keys holding its start and end values."""
    warm_up = {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr",
               "end_lr": "max_lr", "start_momentum": "max_momentum",
               "end_momentum": "base_momentum"}
    if not three_phase:
        return [warm_up, {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                          "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
    return [warm_up,
            {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr",
             "end_lr": "initial_lr", "start_momentum": "base_momentum",
             "end_momentum": "max_momentum"},
            {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
             "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]


def _per_group(name: str, optimizer: Optimizer, value) -> list:
    """One value per parameter group: a list is checked for length, a number is repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                             f"{name} has {len(value)} values, param_groups has "
                             f"{len(optimizer.param_groups)}.")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _set_momentum(group: dict[str, Any], momentum: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum
