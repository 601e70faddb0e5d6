"""The embedded UCI digits: contents, value range, and the deterministic stratified split."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import Digits, digits_split_indices, load_digits
from minigrad.utils.data import DataLoader


def test_load_digits_contents():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == mg.float32
    assert labels.shape == (1797,) and labels.dtype == mg.int64
    assert images.data.min() == 0.0 and images.data.max() == 1.0
    # pixels are counts 0..16 scaled by 1/16
    np.testing.assert_array_equal(images.data * 16, np.round(images.data * 16))
    assert sorted(set(labels.tolist())) == list(range(10))
    np.testing.assert_array_equal(np.bincount(labels.data),
                                  [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    # the first sample of the UCI file is a zero; checksums pin the whole file
    assert labels[0].item() == 0
    assert round(float(images.data.sum()) * 16) == 561718 and labels.data.sum() == 8070


def test_split_is_stratified_disjoint_and_complete():
    train, test = digits_split_indices(split_seed=0, test_fraction=0.2)
    assert len(train) + len(test) == 1797
    assert len(np.intersect1d(train, test)) == 0
    assert len(test) == 359  # sum over digits of round(0.2 * count)
    _, labels = load_digits()
    per_digit = np.bincount(labels.data[test], minlength=10)
    np.testing.assert_array_equal(per_digit, np.round(0.2 * np.bincount(labels.data)))


def test_split_is_deterministic_and_seeded():
    a_train, a_test = digits_split_indices(split_seed=3)
    b_train, b_test = digits_split_indices(split_seed=3)
    np.testing.assert_array_equal(a_test, b_test)
    np.testing.assert_array_equal(a_train, b_train)
    assert not np.array_equal(digits_split_indices(split_seed=4)[1], a_test)


def test_digits_dataset_items_and_batches():
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1438, 359)
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype == mg.float32 and isinstance(label, int)
    images, labels = load_digits()
    first = int(train.indices[0])
    np.testing.assert_array_equal(image.data[0], images.data[first])
    assert label == labels[first].item()
    xb, yb = next(iter(DataLoader(test, batch_size=32)))
    assert xb.shape == (32, 1, 8, 8) and yb.shape == (32,) and yb.dtype == mg.int64
    assert 0.0 <= xb.data.min() and xb.data.max() <= 1.0


def test_flatten():
    image, _ = Digits(flatten=True)[5]
    assert image.shape == (64,)
    np.testing.assert_array_equal(image.data, Digits()[5][0].data.reshape(64))


def test_bad_test_fraction():
    with pytest.raises(ValueError, match="test_fraction must be in \\(0, 1\\), got 1.5"):
        Digits(test_fraction=1.5)
