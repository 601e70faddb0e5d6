"""The UCI handwritten digits: 1,797 images of 8x8 pixels (values 0..16), ten classes.

Shipped inside the package (`minigrad/data/digits.npz`, 45 KB), so it works offline: small
enough that a model trains on it in seconds on a laptop, real enough that the accuracy means
something. Source: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository (1998), doi:10.24432/C50P49, licence CC BY 4.0; the same
1,797 samples scikit-learn ships (see `minigrad/data/DIGITS_LICENSE.txt`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np

from minigrad.datasets.vision import ImageArrayDataset
from minigrad.tensor import Tensor

NUM_SAMPLES = 1797
MAX_PIXEL = 16


def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """images uint8 (1797, 8, 8) in 0..16, labels uint8 (1797,) in 0..9, in file order."""
    path = resources.files("minigrad").joinpath("data").joinpath("digits.npz")
    with path.open("rb") as f, np.load(f, allow_pickle=False) as archive:
        return archive["images"], archive["labels"]


def load_digits() -> tuple[Tensor, Tensor]:
    """All 1,797 digits, in file order.

    Returns:
        images: float32 (1797, 8, 8), pixel / 16, so in [0, 1].
        labels: int64 (1797,), the digit 0..9.
    """
    images, labels = _load_arrays()
    return (Tensor._wrap(images.astype(np.float32) / np.float32(MAX_PIXEL)),
            Tensor._wrap(labels.astype(np.int64)))


def digits_split_indices(split_seed: int = 0,
                         test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train/test split of the 1,797 indices, the same for the same arguments.

    For each digit d in 0..9 in turn, its indices are permuted by one
    `numpy.random.default_rng(split_seed)` and the first `round(test_fraction * count_d)`
    go to the test set; so every digit keeps its share in both sets.

    Returns:
        (train indices, test indices): sorted int64 arrays, disjoint, together 0..1796.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"digits: test_fraction must be in (0, 1), got {test_fraction}")
    _, labels = _load_arrays()
    rng = np.random.default_rng(split_seed)
    test = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test.append(members[: round(test_fraction * len(members))])
    test_indices = np.sort(np.concatenate(test))
    train_indices = np.setdiff1d(np.arange(len(labels)), test_indices)
    return train_indices, test_indices


class Digits(ImageArrayDataset):
    """The train or test part of the digits, as a Dataset of `(image, label)`.

    Args:
        train: the training part (about 80%) or the test part.
        split_seed: seed of the stratified split (see `digits_split_indices`); the same seed
            gives the same split on every machine.
        test_fraction: share of each digit's samples that goes to the test part.
        flatten: images of shape (64,) (for an MLP) instead of (1, 8, 8) (for a conv net).
        transform: optional callable applied to each image Tensor, as in torchvision.
        target_transform: optional callable applied to each label.

    Item i: `(image float32 (1, 8, 8) or (64,) in [0, 1], label int 0..9)`. A `DataLoader`
    over it gets batches `[images (B, 1, 8, 8) float32, labels (B,) int64]`.
    """

    classes = tuple(str(d) for d in range(10))

    def __init__(self, train: bool = True, split_seed: int = 0, test_fraction: float = 0.2,
                 flatten: bool = False, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        images, labels = _load_arrays()
        train_indices, test_indices = digits_split_indices(split_seed, test_fraction)
        self.indices = train_indices if train else test_indices
        shape = (64,) if flatten else (1, 8, 8)
        super().__init__(images[self.indices].reshape(-1, *shape), labels[self.indices],
                         MAX_PIXEL, transform, target_transform)
        self.train = train
