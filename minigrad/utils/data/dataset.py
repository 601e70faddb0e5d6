"""Map-style datasets: `Dataset`, `TensorDataset`, `Subset`, `ConcatDataset`, `random_split`.

A dataset is anything with `__getitem__(i)` (the i-th sample) and `__len__`. The `DataLoader`
asks it for samples and collates them into batches.

Batch fast path. Asking a dataset for 64 samples one `__getitem__` at a time and stacking
them costs 64 Python calls, 64 small arrays and a copy. A dataset that holds its samples in
arrays can do better: gather the whole batch with one fancy index, `array[indices]`. As in
PyTorch 2.x, such a dataset defines `__getitems__(indices)`, which the loader calls instead of
`__getitem__` when it exists. Here `__getitems__` returns a `GatheredBatch`: a sequence of the
same samples that `__getitem__` gives (so a custom `collate_fn` sees what it expects) which
also carries the batch already collated, so `default_collate` returns it without stacking.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from minigrad.creation import as_tensor, randperm
from minigrad.random import Generator


class Dataset:
    """Base class of map-style datasets: subclasses define `__getitem__` and `__len__`.

    They may also define `__getitems__(indices) -> sequence of samples` to load a batch at
    once (see the module docstring). `a + b` concatenates two datasets.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class GatheredBatch(Sequence):
    """The samples `dataset[i] for i in indices`, plus the batch they collate to.

    Indexing it gives the individual samples (built on demand by `dataset[i]`), so code that
    treats it as a list of samples works unchanged. `collated` is what `default_collate` would
    make of those samples, built by the dataset with one fancy index per array; the loader's
    `default_collate` returns it directly.
    """

    def __init__(self, dataset, indices: Sequence[int], collated) -> None:
        self.dataset = dataset
        self.indices = indices
        self.collated = collated

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.dataset[j] for j in self.indices[i]]
        return self.dataset[self.indices[i]]


def index_array(indices: Sequence[int], length: int, name: str) -> np.ndarray:
    """`indices` as an int64 array, negatives wrapped; an IndexError naming the bad one."""
    array = np.asarray(indices, dtype=np.int64).reshape(-1)
    bad = (array < -length) | (array >= length)
    if bad.any():
        raise IndexError(f"{name}: index {int(array[bad][0])} is out of range for a dataset "
                         f"of size {length}")
    return np.where(array < 0, array + length, array)


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension: item i is
    `tuple(t[i] for t in tensors)`.

    Args:
        *tensors: Tensors (or NumPy arrays, wrapped without a copy; PyTorch takes tensors
            only) with the same size N in dim 0, e.g. inputs (N, D) float32, targets (N,)
            int64.

    `__getitems__` gathers a batch with one fancy index per tensor.
    """

    def __init__(self, *tensors) -> None:
        tensors = tuple(as_tensor(t) for t in tensors)
        sizes = tuple(t.shape[0] if t.ndim else None for t in tensors)
        if not tensors or any(s is None for s in sizes) or len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError("TensorDataset: all tensors must have the same size in dim 0, "
                             f"got shapes {shapes or '(no tensors)'}")
        self.tensors = tensors

    def __getitem__(self, index) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> GatheredBatch:
        index = index_array(indices, len(self), "TensorDataset")
        return GatheredBatch(self, indices, [t[index] for t in self.tensors])

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: item i is `dataset[indices[i]]`."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: Sequence[int]):
        """Forwards to the dataset's own `__getitems__` when it has one (its fast path)."""
        mapped = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other; `cumulative_sizes[k]` is where dataset k ends."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: index {idx} is out of range for a dataset of "
                                 f"size {len(self)}")
            idx += len(self)
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        if dataset_idx == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of "
                             f"size {len(self)}")
        start = self.cumulative_sizes[dataset_idx - 1] if dataset_idx else 0
        return self.datasets[dataset_idx][idx - start]


def _lengths_from_fractions(fractions: Sequence[float], n: int) -> list[int]:
    """PyTorch's rule: floor(n * f) each, then the remainder one by one, round robin from 0."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"random_split: fraction at index {i} is {frac}, not between 0 "
                             "and 1")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this gives an "
                          "empty dataset", stacklevel=3)
    return lengths


def random_split(dataset, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    Args:
        dataset: the dataset to split (N samples).
        lengths: ints summing to N, or fractions summing to 1. Fractions become
            `floor(N * f)` each, and the remainder is handed out one sample at a time, round
            robin from the first split (PyTorch's rule, so the lengths equal PyTorch's).
        generator: source of the random permutation; None draws from minigrad's global
            generator (seed it with `minigrad.manual_seed`). The permutation itself differs
            from PyTorch's for the same seed (a different random number generator).

    Returns:
        One Subset per length; together they hold every index exactly once.
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {list(lengths)} is {sum(lengths)}, "
                         f"which does not equal the length of the input dataset ({n})")
    indices = randperm(n, generator=generator).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]

