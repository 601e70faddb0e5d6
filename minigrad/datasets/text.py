"""A character-level text corpus built from the Python standard library's own source files.

Every Python install carries a few hundred kilobytes of carefully written English: the
docstrings and comments of its standard library. `load_stdlib_corpus` concatenates the
source of a fixed list of docstring-heavy modules (`CORPUS_MODULES`), which is enough text to
train a small character-level language model offline, with nothing to download.

Determinism: the text is the same on every run and machine *for a given Python version*;
the stdlib source changes between versions (3.11's `argparse.py` is not 3.12's). Each
`StdlibText` records `fingerprint`, a short hash of the text, so runs can be compared.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minigrad.tensor import Tensor
from minigrad.utils.data.dataset import Dataset, GatheredBatch, index_array

# Plain-English-heavy modules with long docstrings and explanatory comments, in corpus order.
CORPUS_MODULES = (
    "argparse", "bisect", "calendar", "collections", "contextlib", "dataclasses", "difflib",
    "fractions", "functools", "heapq", "json", "logging", "random", "statistics", "string",
    "textwrap",
)


def corpus_files(modules: Sequence[str] = CORPUS_MODULES) -> list[Path]:
    """The source file of each module, found with `importlib.util.find_spec(name).origin`."""
    paths = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py") or not Path(origin).is_file():
            raise FileNotFoundError(
                f"stdlib corpus: no Python source for module {name!r} (origin {origin!r}); the "
                "corpus needs the standard library's .py files, which some stripped-down "
                "Python installs leave out")
        paths.append(Path(origin))
    return paths


def load_stdlib_corpus(max_chars: int | None = None) -> str:
    """The source of the `CORPUS_MODULES`, read as UTF-8, joined by blank lines, in order.

    Args:
        max_chars: keep only the first `max_chars` characters (None: all, about 640,000
            characters on Python 3.11).

    Returns:
        The text, with "\\n" line endings on every platform.
    """
    if max_chars is not None and max_chars <= 0:
        raise ValueError(f"load_stdlib_corpus: max_chars must be positive, got {max_chars}")
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in corpus_files())
    return text if max_chars is None else text[:max_chars]


def corpus_fingerprint(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of `text` (UTF-8): equal texts, equal prints."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class CharTokenizer:
    """Characters <-> integer ids; id k is the k-th character of the sorted set of `text`.

    Args:
        text: the text whose characters make the vocabulary.

    Attributes:
        chars: the vocabulary, a sorted string of distinct characters.
        vocab_size: len(chars).
    """

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharTokenizer: cannot build a vocabulary from an empty text")
        self.chars = "".join(sorted(set(text)))
        self.vocab_size = len(self.chars)
        # sorted str order is code-point order, so the code points are sorted for searchsorted
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)

    def encode_array(self, text: str) -> np.ndarray:
        """`text` as an int64 array of ids, shape (len(text),), in one vectorised lookup."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        ids = np.minimum(np.searchsorted(self._codes, codes), self.vocab_size - 1)
        unknown = np.flatnonzero(self._codes[ids] != codes)
        if unknown.size:
            pos = int(unknown[0])
            raise ValueError(f"CharTokenizer.encode: character {text[pos]!r} "
                             f"(U+{ord(text[pos]):04X}) at position {pos} is not in the "
                             f"vocabulary of {self.vocab_size} characters")
        return ids.astype(np.int64)

    def encode(self, text: str) -> list[int]:
        """The id of each character of `text`; a ValueError names an unknown character."""
        return self.encode_array(text).tolist()

    def decode(self, ids) -> str:
        """The text of a sequence of ids: a list of ints, a 1-D int array or Tensor."""
        array = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise ValueError(f"CharTokenizer.decode: expected a 1-D sequence of integer ids, "
                             f"got shape {array.shape} of dtype {array.dtype}")
        bad = (array < 0) | (array >= self.vocab_size)
        if bad.any():
            raise ValueError(f"CharTokenizer.decode: id {int(array[bad][0])} is out of range "
                             f"for a vocabulary of {self.vocab_size} characters")
        return "".join(self.chars[i] for i in array.tolist())


class CharDataset(Dataset):
    """Next-character prediction windows over a token sequence.

    Args:
        data: the token ids, 1-D (a list, an int array or a Tensor), length L.
        block_size: the context length T.

    Item i is `(x, y) = (data[i:i+T], data[i+1:i+T+1])` as int64 Tensors of shape (T,): y is
    x shifted by one, so position t of y is the character that follows x[:t+1]. There are
    L - T items. `__getitems__` gathers a batch (B, T) of x and of y with one fancy index
    each on a strided (T,)-window view of the tokens.
    """

    def __init__(self, data, block_size: int) -> None:
        tokens = np.asarray(data.data if isinstance(data, Tensor) else data)
        if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
            raise ValueError(f"CharDataset: expected 1-D integer token ids, got shape "
                             f"{tokens.shape} of dtype {tokens.dtype}")
        if block_size < 1 or len(tokens) <= block_size:
            raise ValueError(f"CharDataset: need block_size >= 1 and more than block_size "
                             f"tokens, got block_size={block_size} and {len(tokens)} tokens")
        self.tokens = tokens.astype(np.int64)
        self.block_size = block_size
        # windows[i] is tokens[i:i+T], a view: no copy until a batch is gathered from it
        self._windows = sliding_window_view(self.tokens, block_size)

    def __len__(self) -> int:
        return len(self.tokens) - self.block_size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"CharDataset: index {index} is out of range for {n} items")
        index %= n
        return (Tensor._wrap(self._windows[index].copy()),
                Tensor._wrap(self._windows[index + 1].copy()))

    def __getitems__(self, indices: Sequence[int]) -> GatheredBatch:
        index = index_array(indices, len(self), "CharDataset")
        return GatheredBatch(self, indices, [Tensor._wrap(self._windows[index]),
                                             Tensor._wrap(self._windows[index + 1])])


class StdlibText(CharDataset):
    """The stdlib corpus as a `CharDataset`: the first 90% of the text trains, the rest
    validates.

    Args:
        split: "train" (the first `1 - val_fraction` of the characters) or "val" (the rest).
        block_size: context length T of each item.
        max_chars: cap on the corpus length (see `load_stdlib_corpus`).
        val_fraction: share of the text, taken from its end, used for "val".

    Attributes:
        tokenizer: a `CharTokenizer` over the whole corpus (the same for both splits).
        text: this split's text.
        fingerprint: `corpus_fingerprint` of the whole corpus, to tell corpora apart across
            Python versions.
    """

    def __init__(self, split: str = "train", block_size: int = 64,
                 max_chars: int | None = None, val_fraction: float = 0.1) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"StdlibText: split must be 'train' or 'val', got {split!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"StdlibText: val_fraction must be in (0, 1), got {val_fraction}")
        corpus = load_stdlib_corpus(max_chars)
        self.fingerprint = corpus_fingerprint(corpus)
        self.tokenizer = CharTokenizer(corpus)
        cut = int(len(corpus) * (1.0 - val_fraction))
        self.text = corpus[:cut] if split == "train" else corpus[cut:]
        self.split = split
        super().__init__(self.tokenizer.encode_array(self.text), block_size)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size
