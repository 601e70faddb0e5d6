"""Datasets that run offline: two embedded ones and readers for files you already have.

- `Digits`, `load_digits`: the UCI handwritten digits (1,797 8x8 images), shipped in the
  package.
- `StdlibText`, `load_stdlib_corpus`, `CharTokenizer`, `CharDataset`: a character-level corpus
  built from the Python standard library's own source files.
- `MNIST`, `FashionMNIST`, `CIFAR10`: readers for the standard IDX and CIFAR-10 binary
  files; minigrad never downloads anything.

Every dataset here is a `minigrad.utils.data.Dataset` with a batch fast path
(`__getitems__`), so a `DataLoader` over it gathers each batch with one fancy index.
"""

from minigrad.datasets.cifar import CIFAR10, parse_cifar10_batch
from minigrad.datasets.digits import Digits, digits_split_indices, load_digits
from minigrad.datasets.mnist import MNIST, FashionMNIST, parse_idx, read_idx
from minigrad.datasets.text import (CORPUS_MODULES, CharDataset, CharTokenizer, StdlibText,
                                    corpus_fingerprint, load_stdlib_corpus)
from minigrad.datasets.vision import ImageArrayDataset

__all__ = [
                                    "CIFAR10",
                                    "CORPUS_MODULES",
                                    "MNIST",
                                    "CharDataset",
                                    "CharTokenizer",
                                    "Digits",
                                    "FashionMNIST",
                                    "ImageArrayDataset",
                                    "StdlibText",
                                    "corpus_fingerprint",
                                    "digits_split_indices",
                                    "load_digits",
                                    "load_stdlib_corpus",
                                    "parse_cifar10_batch",
                                    "parse_idx",
                                    "read_idx",
]
