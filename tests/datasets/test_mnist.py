"""MNIST / Fashion-MNIST IDX readers, on small IDX files the tests write (plain and gzip)."""

import gzip
import re
import struct

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import MNIST, FashionMNIST, parse_idx, read_idx
from minigrad.utils.data import DataLoader


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, compress: bool):
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_mnist(folder, prefix, n, compress, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / f"{prefix}-images-idx3-ubyte", idx_bytes(images), compress)
    write(folder / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_reads_train_and_test_files(tmp_path, compress):
    images, labels = write_mnist(tmp_path, "train", 6, compress)
    test_images, _ = write_mnist(tmp_path, "t10k", 3, compress, seed=1)
    train, test = MNIST(tmp_path), MNIST(tmp_path, train=False)
    assert (len(train), len(test)) == (6, 3)
    image, label = train[4]
    assert image.shape == (1, 28, 28) and image.dtype == mg.float32
    assert label == int(labels[4]) and isinstance(label, int)
    np.testing.assert_allclose(image.data[0], images[4] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(test[2][0].data[0], test_images[2] / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(train, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.dtype == mg.int64
    np.testing.assert_array_equal(yb.data, labels[:4])


def test_torchvision_layout_and_fashion_classes(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw", "train", 2, compress=False)
    ds = FashionMNIST(tmp_path)
    assert len(ds) == 2 and ds.classes[9] == "Ankle boot"


def test_missing_files_list_names_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path, train=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "never downloads" in message


def test_parse_idx_other_dtypes_and_byte_order():
    values = np.array([[1.5, -2.0], [3.25, 0.0]], dtype=np.float32)
    out = parse_idx(idx_bytes(values, 0x0D))
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)
    ints = np.array([-3, 70000], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(ints, 0x0C)), ints)


def test_bad_magic_truncation_and_trailing_bytes_name_the_file(tmp_path):
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    path = write(tmp_path / "bad", b"\x12\x34\x08\x01rest", compress=False)
    message = f"{path}: not an IDX file: magic number '12 34 08 01'"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_idx(path)
    path = write(tmp_path / "short", good[:-1], compress=True)
    with pytest.raises(ValueError, match=r"short.gz: truncated IDX file: 17 bytes, expected 18"):
        read_idx(path)
    with pytest.raises(ValueError, match="trailing bytes"):
        parse_idx(good + b"\0")
    with pytest.raises(ValueError, match="header of a 3-dim array needs 16"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]))
    path = write(tmp_path / "notgz", b"plain bytes", compress=False).rename(tmp_path / "x.gz")
    with pytest.raises(ValueError, match="x.gz: not a valid gzip file"):
        read_idx(path)


def test_wrong_kind_of_idx_file(tmp_path):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((2, 4), np.uint8)), False)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(2, np.uint8)), False)
    with pytest.raises(ValueError, match=r"expected a uint8 IDX array with 3 dims, got uint8 of "
                                         r"shape \(2, 4\)"):
        MNIST(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((3, 2, 2), np.uint8)), False)
    with pytest.raises(ValueError, match="holds 3 images but .* holds 2 labels"):
        MNIST(tmp_path)
