"""ImageArrayDataset: scaling, transforms, and the batch fast path against the per-sample one."""

import numpy as np

import minigrad as mg
from minigrad.datasets import ImageArrayDataset
from minigrad.utils.data import DataLoader, GatheredBatch, Subset


def make(transform=None, target_transform=None):
    images = np.arange(5 * 4, dtype=np.uint8).reshape(5, 1, 2, 2) * 10
    return ImageArrayDataset(images, np.array([3, 1, 4, 1, 5]), 255, transform, target_transform)


def test_items_are_scaled_float32_images_and_int_labels():
    image, label = make()[2]
    assert image.dtype == mg.float32 and image.shape == (1, 2, 2) and label == 4
    np.testing.assert_allclose(image.data.ravel(), np.array([80, 90, 100, 110]) / 255, rtol=1e-6)


def test_fast_batches_equal_per_sample_batches():
    ds = make()
    batch = ds.__getitems__([4, 0, 2])
    assert isinstance(batch, GatheredBatch)
    slow = DataLoader([ds[i] for i in range(5)], batch_size=3, sampler=[4, 0, 2])
    (sx, sy), = list(slow)
    fx, fy = batch.collated
    assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
    np.testing.assert_array_equal(fx.data, sx.data)
    np.testing.assert_array_equal(fy.data, sy.data)
    # through a Subset (what random_split returns) the fast path is kept
    assert isinstance(Subset(ds, [1, 2]).__getitems__([0]), GatheredBatch)


def test_transforms_apply_per_sample_and_in_batches():
    ds = make(transform=lambda x: x * 2.0, target_transform=lambda y: y + 100)
    image, label = ds[1]
    assert label == 101
    np.testing.assert_allclose(image.data.ravel(), 2 * np.array([40, 50, 60, 70]) / 255,
                               rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert yb.tolist() == [103, 101, 104, 101, 105]
    np.testing.assert_allclose(xb.data[1], image.data)
