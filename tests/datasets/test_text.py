"""The stdlib character corpus, CharTokenizer, and CharDataset's windows and batch fast path."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import (CORPUS_MODULES, CharDataset, CharTokenizer, StdlibText,
                               corpus_fingerprint, load_stdlib_corpus)
from minigrad.utils.data import DataLoader, GatheredBatch


def test_corpus_is_the_listed_modules_in_order():
    text = load_stdlib_corpus()
    first, second = (Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8")
                     for name in CORPUS_MODULES[:2])
    assert text.startswith(first + "\n\n" + second + "\n\n")
    assert len(text) > 300_000  # sizeable on every supported Python version
    assert "\r" not in text


def test_corpus_is_deterministic_and_capped():
    assert corpus_fingerprint(load_stdlib_corpus()) == corpus_fingerprint(load_stdlib_corpus())
    assert load_stdlib_corpus(max_chars=1000) == load_stdlib_corpus()[:1000]
    with pytest.raises(ValueError, match="max_chars must be positive, got 0"):
        load_stdlib_corpus(max_chars=0)


def test_fingerprint_is_a_short_sha256():
    # sha256("abc") = ba7816bf8f01cfea...
    assert corpus_fingerprint("abc") == "ba7816bf8f01cfea"


def test_tokenizer_round_trip_and_sorted_vocabulary():
    tok = CharTokenizer("hello world")
    assert tok.chars == " dehlorw" and tok.vocab_size == 8
    assert tok.encode("hold") == [3, 5, 4, 1]
    assert tok.decode([3, 5, 4, 1]) == "hold"
    assert tok.decode(mg.tensor([2, 3])) == "eh"
    assert tok.decode(np.array([7], dtype=np.int32)) == "w"
    assert tok.decode([]) == "" and tok.encode("") == []


def test_tokenizer_errors_name_the_character_and_id():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"character 'z' \(U\+007A\) at position 2"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="id 3 is out of range for a vocabulary of 3"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="1-D sequence of integer ids"):
        tok.decode([[0]])
    with pytest.raises(ValueError, match="empty text"):
        CharTokenizer("")


def test_char_dataset_items_are_shifted_windows():
    ds = CharDataset(mg.arange(10) * 10, block_size=4)
    assert len(ds) == 6
    x, y = ds[2]
    assert x.dtype == mg.int64 and x.tolist() == [20, 30, 40, 50] and y.tolist() == [30, 40, 50, 60]
    assert ds[-1][1].tolist() == [60, 70, 80, 90]
    with pytest.raises(IndexError, match="index 6 is out of range for 6 items"):
        ds[6]


def test_char_dataset_fast_path_equals_per_sample_stacking():
    tokens = np.random.default_rng(0).integers(0, 50, size=200)
    ds = CharDataset(tokens, block_size=16)
    indices = [183, 0, 57, 57, -1]
    batch = ds.__getitems__(indices)
    assert isinstance(batch, GatheredBatch)
    bx, by = batch.collated
    assert bx.shape == (5, 16) and bx.dtype == mg.int64
    np.testing.assert_array_equal(bx.data, np.stack([ds[i][0].data for i in indices]))
    np.testing.assert_array_equal(by.data, np.stack([ds[i][1].data for i in indices]))
    bx.data[0, 0] = -7  # gathered batches are copies: the dataset is untouched
    assert ds[183][0].data[0] == tokens[183]


def test_char_dataset_errors():
    with pytest.raises(ValueError, match="more than block_size tokens"):
        CharDataset([1, 2, 3], block_size=3)
    with pytest.raises(ValueError, match="1-D integer token ids"):
        CharDataset(np.zeros((2, 5)), block_size=2)


def test_stdlib_text_splits_and_vocabulary():
    train = StdlibText("train", block_size=32, max_chars=20_000)
    val = StdlibText("val", block_size=32, max_chars=20_000)
    corpus = load_stdlib_corpus(max_chars=20_000)
    assert train.text + val.text == corpus
    assert len(train.text) == 18_000 and len(val.text) == 2_000
    assert train.fingerprint == val.fingerprint == corpus_fingerprint(corpus)
    assert train.vocab_size == val.vocab_size == len(set(corpus))
    assert len(train) == 18_000 - 32
    x, y = train[100]
    assert train.tokenizer.decode(x) == corpus[100:132]
    assert train.tokenizer.decode(y) == corpus[101:133]
    xb, yb = next(iter(DataLoader(val, batch_size=8)))
    assert xb.shape == yb.shape == (8, 32)
    assert val.tokenizer.decode(xb[3]) == val.text[3:35]


def test_stdlib_text_bad_split():
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        StdlibText("test", max_chars=1000)
