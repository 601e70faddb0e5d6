"""`DataLoader`: batches from a dataset, in the order a sampler gives; and `default_collate`.

One epoch is `for batch in loader`: the batch sampler yields a list of indices, the dataset
turns them into samples (all at once through `__getitems__` if it has one, else one
`dataset[i]` each), and `collate_fn` turns the list of samples into one batch.
"""

from __future__ import annotations

import collections.abc
import copy
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from minigrad.creation import as_tensor, tensor
from minigrad.ops import stack
from minigrad.random import Generator
from minigrad.tensor import Tensor
from minigrad.utils.data.dataset import GatheredBatch
from minigrad.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_STRING_KINDS = "SUO"  # NumPy dtype kinds (bytes, str, object) that cannot become a Tensor


def _collate_error(what) -> TypeError:
    return TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                     f"or lists; found {what}")


def default_collate(batch: Sequence):
    """Turn a list of B samples into one batch, recursing into containers, as PyTorch does.

    Per type of the first sample:

    - `Tensor` of shape S -> `stack`ed, shape (B, *S);
    - `numpy.ndarray` -> converted to a Tensor (dtype kept), then stacked;
    - NumPy scalar -> a (B,) Tensor of its dtype;
    - Python `float` -> (B,) **float64** (PyTorch's rule, not its float32 default dtype);
      `int` -> (B,) int64; `bool` -> (B,) bool;
    - `str`/`bytes` -> the list unchanged;
    - dict -> a dict (same type) of the collated values per key;
    - namedtuple -> the same namedtuple of collated fields;
    - tuple or list -> a **list** of the collated positions (a tuple becomes a list, as in
      PyTorch); all samples must have the same length.

    A `GatheredBatch` (what a dataset's `__getitems__` returns) is already collated: its
    `collated` is returned as is.

    Raises:
        TypeError: naming an element type it cannot batch.
        RuntimeError: if list or tuple samples differ in length.
    """
    if isinstance(batch, GatheredBatch):
        return batch.collated
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _STRING_KINDS:
            raise _collate_error(f"numpy array of dtype {elem.dtype}")
        return stack([as_tensor(b) for b in batch], 0)
    if isinstance(elem, (np.bool_, np.number)):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, bool):
        return tensor(batch, dtype=np.bool_)
    if isinstance(elem, int):
        return tensor(batch, dtype=np.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            sizes = sorted({len(sample) for sample in batch})
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {sizes}")
        return [default_collate(list(position)) for position in zip(*batch)]
    raise _collate_error(type(elem).__name__)


def default_convert(data):
    """What the loader applies to single samples when `batch_size=None` (no batching):
    NumPy arrays and scalars become Tensors, recursing into dicts, tuples and lists.
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in _STRING_KINDS:
        return as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):  # a tuple becomes a list, as in PyTorch
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterate over a map-style dataset in batches.

    Args:
        dataset: anything with `__getitem__` and `__len__`.
        batch_size: samples per batch; None turns batching off (the loader yields single
            samples, passed through `default_convert`).
        shuffle: visit the samples in a new random order each epoch (a `RandomSampler`
            drawing from `generator`, or from minigrad's global generator if None).
        sampler: the order of indices (e.g. a `DistributedSampler`); excludes `shuffle`.
        batch_sampler: yields whole lists of indices; excludes `batch_size`, `shuffle`,
            `sampler` and `drop_last`.
        num_workers: must be 0: minigrad loads in the main process.
        collate_fn: list of samples -> batch; default `default_collate`.
        drop_last: drop the last batch if it is smaller than `batch_size`.
        generator: the random source of `shuffle`.

    Every `for batch in loader` is a new epoch; `len(loader)` is the number of batches.

    Deviations from PyTorch: no worker processes (`num_workers > 0` raises) and hence no
    `pin_memory`, `timeout`, `worker_init_fn`, `prefetch_factor`, `persistent_workers`;
    no `IterableDataset`; the arguments after `num_workers` are keyword-only (PyTorch
    also accepts them by position, in a different order than here). PyTorch draws one
    number from the global generator per epoch for worker seeds even without `shuffle`;
    minigrad does not, so a loader without `shuffle` leaves the global generator untouched.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 sampler: Sampler | None = None, batch_sampler: Sampler | None = None,
                 num_workers: int = 0, *, collate_fn: Callable | None = None,
                 drop_last: bool = False, generator: Generator | None = None) -> None:
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers} is not supported; minigrad "
                             "loads data in the main process, use num_workers=0")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator:
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        getitems = getattr(self.dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if callable(getitems):
                samples = getitems(indices)
            else:
                samples = [self.dataset[i] for i in indices]
            yield self.collate_fn(samples)

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
