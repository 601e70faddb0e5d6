"""`minigrad.nn.parallel`: where PyTorch users look for `DistributedDataParallel`.

The class lives in `minigrad.distributed.ddp` (it needs the process group); this package only
re-exports it, so `from minigrad.nn.parallel import DistributedDataParallel` works as in
PyTorch. `minigrad.nn` itself does not import this package, so importing `minigrad.nn` never
loads `minigrad.distributed` or mpi4py.
"""

from minigrad.distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
