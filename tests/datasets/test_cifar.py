"""CIFAR-10 binary-batch reader, on small batch files the tests write (plain and gzip)."""

import gzip

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import CIFAR10, parse_cifar10_batch
from minigrad.utils.data import DataLoader


def batch_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    records = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)
    return records.astype(np.uint8).tobytes()


def write_cifar(folder, compress, per_batch=3):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    contents = {}
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, size=(per_batch, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch, dtype=np.uint8)
        data = batch_bytes(images, labels)
        path = folder / name
        if compress:
            path, data = path.with_name(name + ".gz"), gzip.compress(data)
        path.write_bytes(data)
        contents[name] = (images, labels)
    return contents


@pytest.mark.parametrize("compress", [False, True])
def test_reads_the_batches_in_order(tmp_path, compress):
    contents = write_cifar(tmp_path / "cifar-10-batches-bin", compress)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert (len(train), len(test)) == (15, 3)
    image, label = train[7]  # the second sample of data_batch_3
    images3, labels3 = contents["data_batch_3.bin"]
    assert image.shape == (3, 32, 32) and image.dtype == mg.float32
    np.testing.assert_allclose(image.data, images3[1] / 255.0, rtol=1e-6)
    assert label == int(labels3[1])
    np.testing.assert_array_equal(test.labels, contents["test_batch.bin"][1])
    xb, yb = next(iter(DataLoader(train, batch_size=4, shuffle=True, generator=mg.Generator(0))))
    assert xb.shape == (4, 3, 32, 32) and yb.dtype == mg.int64


def test_the_files_may_sit_directly_in_root(tmp_path):
    write_cifar(tmp_path, compress=False, per_batch=1)
    assert len(CIFAR10(tmp_path)) == 5


def test_channels_come_from_consecutive_planes():
    record = np.zeros(3073, np.uint8)
    record[0] = 6
    record[1:1025] = 10  # red plane
    record[1025:2049] = 20
    record[2049:] = 30
    images, labels = parse_cifar10_batch(record.tobytes())
    assert labels.tolist() == [6]
    assert images.shape == (1, 3, 32, 32)
    assert images[0, :, 5, 7].tolist() == [10, 20, 30]


def test_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="f.bin: 3072 bytes is not a whole number of CIFAR-10 "
                                         "records of 3073 bytes"):
        parse_cifar10_batch(bytes(3072), "f.bin")
    bad = np.zeros(2 * 3073, np.uint8)
    bad[3073] = 12
    with pytest.raises(ValueError, match="g.bin: record 1 has label 12"):
        parse_cifar10_batch(bad.tobytes(), "g.bin")
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path)
    message = str(info.value)
    assert "data_batch_1.bin" in message and "data_batch_5.bin" in message
    assert str(tmp_path / "cifar-10-batches-bin") in message and "never downloads" in message
