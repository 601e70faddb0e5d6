"""Optimizers and learning-rate schedules, written by hand on NumPy with PyTorch's names.

    import minigrad as mg
    from minigrad import optim

    w = mg.randn(3, requires_grad=True)
    opt = optim.Adam([w], lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()

Each optimizer is one file (`sgd.py`, `adam.py`, ...) whose docstring states its update rule;
`optimizer.py` holds what they share: parameter groups, per-parameter state, checkpoints.
The ideas and their memory cost are in docs/concepts/optimizers.md.
"""

from minigrad.optim import lr_scheduler
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam
from minigrad.optim.adamw import AdamW
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
