"""`DistributedSampler`: each of R processes (ranks) reads its own 1/R of the dataset.

Data parallelism runs the same model on R processes, each on different samples, and averages
the gradients. Every rank builds the same index list (the same permutation, from the same
seed), pads or trims it to a multiple of R, and keeps every R-th index starting at its rank:

    N = 10, R = 4, drop_last=False:  indices 0..9, padded with 0, 1  ->  total_size 12
    rank 0: [0, 4, 8]   rank 1: [1, 5, 9]   rank 2: [2, 6, 0]   rank 3: [3, 7, 1]

No communication is needed: agreeing on the seed is enough.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Sized

from minigrad.creation import randperm
from minigrad.random import Generator
from minigrad.utils.data.sampler import Sampler


def _world_from_process_group() -> tuple[int, int]:
    """(world size, rank) from `minigrad.distributed`, or a RuntimeError saying what to pass."""
    try:
        distributed = importlib.import_module("minigrad.distributed")
    except ModuleNotFoundError as e:
        if e.name != "minigrad.distributed":
            raise  # minigrad.distributed exists but cannot import: show that error, not ours
        distributed = None
    is_initialized = getattr(distributed, "is_initialized", None)
    if distributed is None or is_initialized is None or not is_initialized():
        raise RuntimeError("DistributedSampler: num_replicas and rank were not given and no "
                           "minigrad.distributed process group is initialised; pass "
                           "num_replicas= (the world size) and rank= explicitly")
    return distributed.get_world_size(), distributed.get_rank()


class DistributedSampler(Sampler):
    """The indices that rank `rank` of `num_replicas` processes reads, PyTorch's rule exactly.

    Every epoch: take `range(N)`, or a permutation of it drawn from `Generator(seed + epoch)`
    when `shuffle`; if `drop_last`, cut it to `total_size = R * floor(N / R)`, else pad it to
    `total_size = R * ceil(N / R)` by repeating indices from its start; keep
    `indices[rank:total_size:R]`. Each rank gets `num_samples = total_size / R` indices; with
    `drop_last` the ranks' shards are disjoint, without it together they cover the dataset
    (some indices twice, at most one extra per rank).

    Args:
        dataset: the dataset (only its length N is used).
        num_replicas: the number of processes R; None: the world size of the initialised
            `minigrad.distributed` process group.
        rank: this process's rank in [0, R); None: the rank in that process group.
        shuffle: permute the indices, differently each epoch (see `set_epoch`).
        seed: base seed of the permutation; must be the same on every rank.
        drop_last: trim instead of pad when N is not a multiple of R.

    Deviation from PyTorch: the permutation comes from minigrad's generator (NumPy's PCG64)
    seeded with `seed + epoch`, so for the same seed it differs from `torch.randperm`'s; the
    padding, trimming and striding rule, and hence every shard for `shuffle=False`, is
    PyTorch's.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            world_size, group_rank = _world_from_process_group()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = group_rank if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # the largest multiple of R not above N (PyTorch writes it as ceil((N - R) / R))
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            generator = Generator(self.seed + self.epoch)
            indices = randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[: self.total_size]
        else:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding] if padding else []
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch `epoch`; call it on every rank before each epoch."""
        self.epoch = epoch
