"""DataLoader and default_collate: batching, shuffling and resuming, the batch fast path."""

from collections import namedtuple

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils.data import (BatchSampler, DataLoader, Dataset, SequentialSampler,
                                 TensorDataset, default_collate)


class PerSample(Dataset):
    """Wraps a dataset, hiding its __getitems__: the loader must go sample by sample."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __getitem__(self, i):
        return self.dataset[i]

    def __len__(self):
        return len(self.dataset)


def make_dataset(n=10):
    x = mg.arange(n * 3, dtype=mg.float32).reshape(n, 3)
    return TensorDataset(x, mg.arange(n))


def labels_of(loader):
    return [batch[1].tolist() for batch in loader]


@pytest.mark.parametrize("drop_last,expected", [
    (False, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
    (True, [[0, 1, 2, 3], [4, 5, 6, 7]]),
])
def test_batches_in_order(drop_last, expected):
    loader = DataLoader(make_dataset(), batch_size=4, drop_last=drop_last)
    assert labels_of(loader) == expected
    assert len(loader) == len(expected)
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 3) and xb.dtype == mg.float32 and yb.dtype == mg.int64
    np.testing.assert_array_equal(xb.data[1], [3.0, 4.0, 5.0])
    assert labels_of(loader) == expected  # re-iterable: a new epoch each time


def test_default_batch_size_is_one():
    loader = DataLoader(make_dataset(3))
    assert labels_of(loader) == [[0], [1], [2]]


def test_fast_path_equals_the_per_sample_path():
    ds = TensorDataset(mg.randn(23, 2, 3, generator=mg.Generator(0)),
                       mg.randint(0, 5, (23,), generator=mg.Generator(1)))
    for kwargs in ({"batch_size": 5}, {"batch_size": 5, "drop_last": True},
                   {"batch_size": 4, "shuffle": True}):
        fast = list(DataLoader(ds, generator=mg.Generator(3), **kwargs))
        slow = list(DataLoader(PerSample(ds), generator=mg.Generator(3), **kwargs))
        assert len(fast) == len(slow)
        for (fx, fy), (sx, sy) in zip(fast, slow):
            assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
            np.testing.assert_array_equal(fx.data, sx.data)
            np.testing.assert_array_equal(fy.data, sy.data)


def test_custom_collate_sees_individual_samples_on_the_fast_path():
    loader = DataLoader(make_dataset(), batch_size=4,
                        collate_fn=lambda samples: [int(s[1].item()) for s in samples])
    assert list(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffle_is_reproducible_from_the_global_seed():
    loader = DataLoader(make_dataset(20), batch_size=6, shuffle=True)
    mg.manual_seed(0)
    epoch1, epoch2 = labels_of(loader), labels_of(loader)
    assert epoch1 != epoch2
    assert sorted(i for batch in epoch1 for i in batch) == list(range(20))
    mg.manual_seed(0)
    assert labels_of(loader) == epoch1 and labels_of(loader) == epoch2


def test_resuming_from_a_saved_rng_state_replays_the_epoch_order():
    loader = DataLoader(make_dataset(20), batch_size=6, shuffle=True)
    mg.manual_seed(1)
    labels_of(loader)
    checkpoint = mg.get_rng_state()  # saved between epochs, with the model
    epoch2 = labels_of(loader)
    mg.manual_seed(123)  # a new process: some other state
    mg.set_rng_state(checkpoint)
    assert labels_of(loader) == epoch2


def test_shuffle_with_an_explicit_generator():
    a = DataLoader(make_dataset(20), batch_size=6, shuffle=True, generator=mg.Generator(5))
    b = DataLoader(make_dataset(20), batch_size=6, shuffle=True, generator=mg.Generator(5))
    mg.manual_seed(0)
    first = labels_of(a)
    mg.manual_seed(99)  # the global generator plays no part
    assert labels_of(b) == first
    assert labels_of(a) != first  # the generator advanced: the next epoch differs


def test_sampler_and_batch_sampler():
    ds = make_dataset()
    loader = DataLoader(ds, batch_size=3, sampler=[9, 0, 4, 4])
    assert labels_of(loader) == [[9, 0, 4], [4]]
    loader = DataLoader(ds, batch_sampler=[[1, 2], [8]])
    assert labels_of(loader) == [[1, 2], [8]]
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, True))
    assert len(loader) == 2 and loader.batch_size is None


def test_batch_size_none_yields_single_converted_samples():
    samples = [(np.array([1.0, 2.0]), 3)]
    loader = DataLoader(samples, batch_size=None)
    (x, y), = list(loader)
    assert isinstance(x, mg.Tensor) and x.dtype == mg.float64 and y == 3
    assert len(loader) == 1


@pytest.mark.parametrize("kwargs,message", [
    ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"num_workers": 2}, "num_workers=2 is not supported"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(make_dataset(), **kwargs)


def test_collate_python_numbers_follow_torch_dtypes():
    assert default_collate([1.5, 2.0]).dtype == mg.float64  # not float32: PyTorch's rule
    ints = default_collate([1, 2, 3])
    assert ints.dtype == mg.int64 and ints.tolist() == [1, 2, 3]
    assert default_collate([True, False]).dtype == mg.bool


def test_collate_numpy_arrays_and_scalars_keep_their_dtype():
    arrays = default_collate([np.zeros(2, np.float32), np.ones(2, np.float32)])
    assert arrays.shape == (2, 2) and arrays.dtype == mg.float32
    np.testing.assert_array_equal(arrays.data, [[0, 0], [1, 1]])
    scalars = default_collate([np.int32(4), np.int32(5)])
    assert scalars.dtype == mg.int32 and scalars.tolist() == [4, 5]
    with pytest.raises(TypeError, match="numpy array of dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_collate_containers():
    batch = default_collate([({"x": 1.0, "name": "a"}, [1, 2]), ({"x": 2.0, "name": "b"}, [3, 4])])
    assert isinstance(batch, list) and len(batch) == 2  # the tuple becomes a list
    assert batch[0]["x"].tolist() == [1.0, 2.0] and batch[0]["name"] == ["a", "b"]
    assert [t.tolist() for t in batch[1]] == [[1, 3], [2, 4]]
    Point = namedtuple("Point", "x y")
    point = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(point, Point) and point.x.tolist() == [1, 3]
    assert point.y.dtype == mg.float64


def test_collate_stacks_tensors_and_keeps_the_graph():
    w = mg.ones(2, requires_grad=True)
    batch = default_collate([w * 2.0, w * 3.0])
    assert batch.shape == (2, 2)
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, 5.0])


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, got sizes \[1, 2\]"):
        default_collate([[1], [1, 2]])
    with pytest.raises(TypeError, match="found NoneType"):
        default_collate([None, None])


def test_reachable_as_minigrad_utils_data_after_import_minigrad():
    assert mg.utils.data.DataLoader is DataLoader
