"""Data loading with PyTorch's names: `Dataset`, `DataLoader`, samplers, `DistributedSampler`.

    from minigrad.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    for xb, yb in loader:
        ...

The embedded datasets (handwritten digits, a character corpus) and the MNIST/CIFAR-10 file
readers are in `minigrad.datasets`.
"""

from minigrad.utils.data.dataloader import DataLoader, default_collate, default_convert
from minigrad.utils.data.dataset import (ConcatDataset, Dataset, GatheredBatch, Subset,
                                         TensorDataset, random_split)
from minigrad.utils.data.distributed import DistributedSampler
from minigrad.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
    "GatheredBatch", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
    "TensorDataset", "default_collate", "default_convert", "random_split",
]
