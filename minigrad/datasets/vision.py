"""`ImageArrayDataset`: image-classification samples held in two arrays, with a batch fast path.

The digits, MNIST and CIFAR-10 datasets all keep their images as one uint8 array
(N, *image shape) and their labels as one int64 array (N,). Item i is
`(image float32 Tensor scaled to [0, 1], label int)`, as torchvision's `ToTensor` gives;
a batch is gathered with one fancy index on each array instead of N `__getitem__` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from minigrad.tensor import Tensor
from minigrad.utils.data.dataset import Dataset, GatheredBatch, index_array


class ImageArrayDataset(Dataset):
    """Samples `(images[i] / max_value as float32, int(labels[i]))`.

    Args:
        images: uint8 (N, *S), e.g. S = (1, 28, 28) or (3, 32, 32); kept as uint8 (4x less
            memory than float32) and scaled when read.
        labels: (N,) integer class labels.
        max_value: the pixel value that maps to 1.0 (255 for 8-bit images, 16 for digits).
        transform: optional callable applied to each image Tensor, as in torchvision.
        target_transform: optional callable applied to each label.

    Attributes:
        images: the uint8 array (N, *S). labels: the int64 array (N,).

    With a transform set, batches are built sample by sample (the transform sees one
    sample at a time); without, `__getitems__` gathers the batch with one fancy index.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, max_value: float,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {len(images)} images but {len(labels)} "
                             "labels")
        self.images = images
        self.labels = labels.astype(np.int64)
        self.max_value = np.float32(max_value)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.labels)

    def _scaled(self, images: np.ndarray) -> np.ndarray:
        return images.astype(np.float32) / self.max_value

    def __getitem__(self, index: int) -> tuple:
        image = Tensor._wrap(self._scaled(self.images[index]))
        label = int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __getitems__(self, indices: Sequence[int]):
        if self.transform is not None or self.target_transform is not None:
            return [self[i] for i in indices]
        index = index_array(indices, len(self), type(self).__name__)
        collated = [Tensor._wrap(self._scaled(self.images[index])),
                    Tensor._wrap(self.labels[index])]
        return GatheredBatch(self, indices, collated)
