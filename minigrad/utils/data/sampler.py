"""Samplers decide the order in which a `DataLoader` visits a dataset.

A sampler yields dataset indices; a `BatchSampler` groups them into lists, one per batch.
The loader never shuffles by itself: `shuffle=True` just means "use a `RandomSampler`".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized

from minigrad.random import Generator, default_generator


class Sampler:
    """Base class: subclasses define `__iter__` (yielding indices) and usually `__len__`."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices (a new one each epoch), or draws with replacement.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw `num_samples` indices independently (repeats possible) instead of
            a permutation.
        num_samples: how many indices per epoch; default len(data_source). Without
            replacement, more than len(data_source) chains whole permutations.
        generator: source of randomness, advanced by every epoch. None (the default): at
            the start of each epoch one 63-bit seed is drawn from minigrad's global
            generator and the epoch's order comes from a fresh `Generator(seed)`, as PyTorch
            does. So `minigrad.manual_seed(s)` fixes all epoch orders, an epoch costs the
            global stream exactly one draw whatever the dataset size, and restoring
            `minigrad.set_rng_state(state)` saved before an epoch replays that epoch's order.
            The orders differ from PyTorch's for the same seed (a different generator).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if (not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool)
                or self.num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={self.num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if self.generator is None:
            seed = int(default_generator.numpy.integers(0, 2**63 - 1))
            rng = Generator(seed).numpy
        else:
            rng = self.generator.numpy
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[: self.num_samples % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`.

    Args:
        sampler: any iterable of indices (a Sampler, a range, a list).
        batch_size: indices per batch (a positive int).
        drop_last: drop the last batch if it is smaller than `batch_size`.
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size

