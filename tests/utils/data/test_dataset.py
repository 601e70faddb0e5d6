"""Datasets: TensorDataset (and its batch fast path), Subset, ConcatDataset, random_split."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils.data import (ConcatDataset, Dataset, GatheredBatch, Subset, TensorDataset,
                                 random_split)


class Squares(Dataset):
    """A dataset without __getitems__: item i is i * i."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


def test_tensor_dataset_items_are_tuples_of_rows():
    x = mg.arange(12, dtype=mg.float32).reshape(6, 2)
    y = mg.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi.data, [8.0, 9.0])
    assert yi.item() == 4 and yi.dtype == mg.int64


def test_tensor_dataset_accepts_numpy_arrays_without_copy():
    a = np.arange(5.0)
    ds = TensorDataset(a)
    a[0] = 7.0
    assert ds[0][0].item() == 7.0


def test_tensor_dataset_size_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(4, 2\), \(3,\)"):
        TensorDataset(mg.zeros(4, 2), mg.zeros(3))
    with pytest.raises(ValueError, match="same size in dim 0"):
        TensorDataset(mg.zeros(4), mg.tensor(1.0))


def test_getitems_gathers_what_getitem_gives():
    x = mg.randn(10, 3, generator=mg.Generator(1))
    y = mg.arange(10)
    ds = TensorDataset(x, y)
    batch = ds.__getitems__([7, 2, 2, -1])
    assert isinstance(batch, GatheredBatch) and len(batch) == 4
    np.testing.assert_array_equal(batch.collated[0].data, x.data[[7, 2, 2, 9]])
    np.testing.assert_array_equal(batch.collated[1].data, [7, 2, 2, 9])
    # as a sequence it holds the same samples __getitem__ gives
    np.testing.assert_array_equal(batch[0][0].data, ds[7][0].data)
    assert [s[1].item() for s in batch[1:3]] == [2, 2]


def test_getitems_out_of_range_names_the_index():
    ds = TensorDataset(mg.zeros(3))
    with pytest.raises(IndexError, match="index 3 is out of range for a dataset of size 3"):
        ds.__getitems__([0, 3])


def test_subset_maps_indices_and_forwards_getitems():
    ds = TensorDataset(mg.arange(10) * 10)
    sub = Subset(ds, [9, 3, 5])
    assert len(sub) == 3
    assert sub[1][0].item() == 30
    batch = sub.__getitems__([2, 0])
    assert isinstance(batch, GatheredBatch)
    np.testing.assert_array_equal(batch.collated[0].data, [50, 90])
    assert Subset(Squares(10), [9, 3]).__getitems__([1, 0]) == [9, 81]


def test_concat_dataset_and_add():
    a, b = Squares(3), Squares(2)
    cat = a + b
    assert isinstance(cat, ConcatDataset)
    assert cat.cumulative_sizes == [3, 5]
    assert [cat[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert cat[-1] == 1 and cat[-5] == 0
    with pytest.raises(IndexError, match="index 5 is out of range for a dataset of size 5"):
        cat[5]
    with pytest.raises(ValueError, match="index -6"):
        cat[-6]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_dataset_base_needs_getitem():
    with pytest.raises(NotImplementedError, match="Dataset must implement __getitem__"):
        Dataset()[0]


@pytest.mark.parametrize("lengths,expected", [
    ([3, 7], [3, 7]),
    ([0.3, 0.7], [3, 7]),
    ([0.5, 0.25, 0.25], [6, 2, 2]),     # floors 5, 2, 2; the remainder 1 goes to split 0
    ([0.25] * 4, [3, 3, 2, 2]),         # floors 2 each; the remainder 2 goes to splits 0, 1
    ([1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),
])
def test_random_split_lengths(lengths, expected):
    parts = random_split(Squares(10), lengths, generator=mg.Generator(0))
    assert [len(p) for p in parts] == expected
    indices = sorted(i for p in parts for i in p.indices)
    assert indices == list(range(10))


def test_random_split_is_reproducible_from_a_seed_and_the_global_generator():
    first = random_split(Squares(20), [0.5, 0.5], generator=mg.Generator(3))
    again = random_split(Squares(20), [0.5, 0.5], generator=mg.Generator(3))
    assert first[0].indices == again[0].indices
    mg.manual_seed(5)
    a = random_split(Squares(20), [10, 10])
    mg.manual_seed(5)
    b = random_split(Squares(20), [10, 10])
    assert a[1].indices == b[1].indices
    assert a[0].indices != list(range(10))


def test_random_split_errors_name_lengths_and_size():
    with pytest.raises(ValueError, match=r"\[3, 3\] is 6.*dataset \(10\)"):
        random_split(Squares(10), [3, 3])
    with pytest.raises(ValueError, match="fraction at index 0 is -0.5"):
        random_split(Squares(10), [-0.5, 1.5])
    with pytest.warns(UserWarning, match="index 1 is 0"):
        random_split(Squares(2), [0.9, 0.1])
