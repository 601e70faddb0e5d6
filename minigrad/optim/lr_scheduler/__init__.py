"""Learning-rate schedules, with PyTorch's names and numbers (`torch.optim.lr_scheduler`).

    opt = minigrad.optim.SGD(params, lr=0.1, momentum=0.9)
    schedule = minigrad.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(opt)      # calls opt.step() per batch
        schedule.step()           # after the optimizer, once per epoch

The base class and protocol are in `scheduler.py`; each file holds one kind of schedule.
"""

from minigrad.optim.lr_scheduler.cosine import CosineAnnealingLR
from minigrad.optim.lr_scheduler.decay import ExponentialLR, MultiStepLR, StepLR
from minigrad.optim.lr_scheduler.lambda_lr import LambdaLR
from minigrad.optim.lr_scheduler.linear import LinearLR
from minigrad.optim.lr_scheduler.one_cycle import OneCycleLR
from minigrad.optim.lr_scheduler.scheduler import LRScheduler
from minigrad.optim.lr_scheduler.sequential import SequentialLR

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR",
           "MultiStepLR", "OneCycleLR", "SequentialLR", "StepLR"]
