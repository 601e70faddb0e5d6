"""CIFAR-10 from the binary batches you already have (minigrad never downloads).

The "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html, folder
`cifar-10-batches-bin`) stores 10,000 records per file, each 3,073 bytes: one label byte
(0..9), then a 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, rows in order. That
is exactly a (3, 32, 32) channel-first uint8 array. minigrad reads only this version: the
"python version" is pickled, and minigrad never unpickles a file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from minigrad.datasets._files import find_files, read_bytes
from minigrad.datasets.vision import ImageArrayDataset

RECORD_BYTES = 1 + 3 * 32 * 32
TRAIN_FILES = [f"data_batch_{k}.bin" for k in range(1, 6)]
TEST_FILES = ["test_batch.bin"]


def parse_cifar10_batch(raw: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Split CIFAR-10 binary records into images uint8 (N, 3, 32, 32) and labels uint8 (N,).

    Raises:
        ValueError: naming `source`, if its size is not a multiple of 3,073 bytes or a label
            is not in 0..9.
    """
    if len(raw) == 0 or len(raw) % RECORD_BYTES:
        raise ValueError(f"{source}: {len(raw)} bytes is not a whole number of CIFAR-10 "
                         f"records of {RECORD_BYTES} bytes (1 label + 3072 pixels)")
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise ValueError(f"{source}: record {bad} has label {labels[bad]}, expected 0..9; "
                         "is this a CIFAR-10 binary batch?")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(ImageArrayDataset):
    """CIFAR-10 read from the binary batches.

    Args:
        root: the folder holding `cifar-10-batches-bin/` (as the archive unpacks), or the
            batch files themselves: `data_batch_1.bin` .. `data_batch_5.bin` (train) and
            `test_batch.bin` (test), each possibly ending in .gz.
        train: the 50,000 training samples (the five batches, in order), or the 10,000 test
            samples.
        transform: optional callable applied to each image Tensor, as in torchvision.
        target_transform: optional callable applied to each label.

    Item i: `(image float32 (3, 32, 32) in [0, 1], label int 0..9)`.

    Raises:
        FileNotFoundError: listing the expected files and the folders searched.
        ValueError: naming a malformed file.
    """

    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck")

    def __init__(self, root: str | Path, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = Path(root)
        self.train = train
        folders = [self.root / "cifar-10-batches-bin", self.root]
        paths = find_files("CIFAR10", folders, TRAIN_FILES if train else TEST_FILES)
        batches = [parse_cifar10_batch(read_bytes(p), str(p)) for p in paths]
        images = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
        super().__init__(images, labels, 255, transform, target_transform)
