"""MNIST and Fashion-MNIST from the IDX files you already have (minigrad never downloads).

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
`00 00 <type> <ndim>`, then `ndim` big-endian uint32 sizes, then the values, big-endian, in
row-major order. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. MNIST's image files are uint8 (N, 28, 28) (magic 0x00000803 = 2051), its label
files uint8 (N,) (magic 0x00000801 = 2049). Fashion-MNIST uses the same format and names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from minigrad.datasets._files import find_files, read_bytes
from minigrad.datasets.vision import ImageArrayDataset

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """The array stored in IDX bytes `raw`, in native byte order.

    Args:
        raw: the file's (decompressed) bytes.
        source: the file name, for error messages.

    Raises:
        ValueError: naming `source`, for a wrong magic number, a truncated header or body,
            or trailing bytes.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{source}: not an IDX file: magic number {raw[:4].hex(' ')!r}, "
                         "expected 00 00 <type code 08/09/0b/0c/0d/0e> <ndim>")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{source}: truncated IDX file: {len(raw)} bytes, but the header of "
                         f"a {ndim}-dim array needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "trailing bytes in"
        raise ValueError(f"{source}: {problem} IDX file: {len(raw)} bytes, expected {expected} "
                         f"for an array of shape {dims} and dtype {dtype.newbyteorder('=')}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """The array in an IDX file (`.gz` files are decompressed first)."""
    path = Path(path)
    return parse_idx(read_bytes(path), str(path))


def _read_expecting(path: Path, ndim: int) -> np.ndarray:
    array = read_idx(path)
    if array.dtype != np.uint8 or array.ndim != ndim:
        raise ValueError(f"{path}: expected a uint8 IDX array with {ndim} dims, got "
                         f"{array.dtype} of shape {array.shape}")
    return array


class MNIST(ImageArrayDataset):
    """MNIST digits read from the four standard IDX files.

    Args:
        root: the folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
            `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (each may end in .gz);
            `root/MNIST/raw` (torchvision's layout) is searched too.
        train: the 60,000 training samples, or the 10,000 test ("t10k") samples.
        transform: optional callable applied to each image Tensor, as in torchvision.
        target_transform: optional callable applied to each label.

    Item i: `(image float32 (1, H, W) in [0, 1], label int)`, H = W = 28 for real MNIST.

    Raises:
        FileNotFoundError: listing the expected files and the folders searched.
        ValueError: naming a malformed file.
    """

    folder_name = "MNIST"
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine")

    def __init__(self, root: str | Path, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = Path(root)
        self.train = train
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        folders = [self.root, self.root / self.folder_name / "raw"]
        image_path, label_path = find_files(type(self).__name__, folders, names)
        images = _read_expecting(image_path, 3)
        labels = _read_expecting(label_path, 1)
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {image_path} holds {len(images)} images "
                             f"but {label_path} holds {len(labels)} labels")
        super().__init__(images[:, None], labels, 255, transform, target_transform)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao et al., 2017): MNIST's format and file names, clothing classes.

    Same arguments as `MNIST`; torchvision's layout `root/FashionMNIST/raw` is searched too.
    """

    folder_name = "FashionMNIST"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
