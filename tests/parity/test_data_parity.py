"""PyTorch parity of `minigrad.utils.data`: batches, collation dtypes, the distributed
partition rule and random_split's lengths.

Orders that depend on random numbers (shuffle, the shuffled DistributedSampler, random_split's
permutation) cannot match: minigrad's generator is NumPy's PCG64, not torch's. Everything
else must.
"""

import warnings
from collections import namedtuple

import numpy as np
import pytest

import minigrad as mg
import minigrad.utils.data as mud

torch = pytest.importorskip("torch")
tud = torch.utils.data
pytestmark = pytest.mark.parity


def assert_same(mine, theirs, where="batch"):
    """Same structure, values, shapes and dtypes, recursively."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, mg.Tensor), f"{where}: expected a Tensor, got {type(mine)}"
        assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], \
            f"{where}: dtype {mine.dtype} != {theirs.dtype}"
        assert mine.shape == tuple(theirs.shape), f"{where}: shape {mine.shape} != {theirs.shape}"
        np.testing.assert_array_equal(mine.data, theirs.numpy(), err_msg=where)
    elif isinstance(theirs, dict):
        assert type(mine) is type(theirs) and mine.keys() == theirs.keys(), where
        for key in theirs:
            assert_same(mine[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(mine) is type(theirs) and len(mine) == len(theirs), \
            f"{where}: {type(mine).__name__} of {len(mine)} != {type(theirs).__name__} " \
            f"of {len(theirs)}"
        for i, (m, t) in enumerate(zip(mine, theirs)):
            assert_same(m, t, f"{where}[{i}]")
    else:
        assert mine == theirs, f"{where}: {mine!r} != {theirs!r}"


def tensor_datasets(n=11):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    mask = rng.random(n) > 0.5
    return (mud.TensorDataset(mg.tensor(x), mg.tensor(y), mg.tensor(mask)),
            tud.TensorDataset(torch.tensor(x), torch.tensor(y), torch.tensor(mask)))


@pytest.mark.parametrize("batch_size", [1, 4, 11, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_tensor_dataset_batches(batch_size, drop_last):
    mine, theirs = tensor_datasets()
    m = list(mud.DataLoader(mine, batch_size=batch_size, drop_last=drop_last))
    t = list(tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last))
    assert len(mud.DataLoader(mine, batch_size=batch_size, drop_last=drop_last)) == len(
        tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)) == len(t)
    assert_same(m, t)


Pair = namedtuple("Pair", "a b")


def python_samples(i):
    return (
        {"x": np.full(3, i, dtype=np.float32), "f": i * 0.5, "n": i, "ok": i % 2 == 0,
         "name": f"s{i}"},
        [np.int16(i), np.float64(i) / 3],
        Pair(i, [i, -i]),
    )


@pytest.mark.parametrize("drop_last", [False, True])
def test_collate_of_tuples_dicts_numbers(drop_last):
    samples = [python_samples(i) for i in range(7)]
    m = list(mud.DataLoader(samples, batch_size=3, drop_last=drop_last))
    t = list(tud.DataLoader(samples, batch_size=3, drop_last=drop_last))
    assert_same(m, t)


def test_batch_size_none_converts_like_torch():
    samples = [(np.arange(3), 2.5, {"k": np.float32(1)})]
    assert_same(list(mud.DataLoader(samples, batch_size=None)),
                list(tud.DataLoader(samples, batch_size=None)))


@pytest.mark.parametrize("n", [0, 1, 7, 10, 12, 13])
@pytest.mark.parametrize("replicas", [1, 3, 4, 16])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partition_rule(n, replicas, drop_last):
    for rank in range(replicas):
        kwargs = {"num_replicas": replicas, "rank": rank, "shuffle": False,
                  "drop_last": drop_last}
        mine = mud.DistributedSampler(range(n), **kwargs)
        theirs = tud.DistributedSampler(range(n), **kwargs)
        assert (len(mine), mine.total_size) == (len(theirs), theirs.total_size)
        assert list(mine) == list(theirs), f"n={n} replicas={replicas} rank={rank}"


@pytest.mark.parametrize("n", [1, 7, 10, 99, 100, 1001])
@pytest.mark.parametrize("fractions", [
    [0.5, 0.5], [0.8, 0.2], [0.7, 0.2, 0.1], [1 / 3] * 3, [0.25] * 4, [0.1] * 10, [1.0],
    [0.9, 0.1, 0.0],
])
def test_random_split_lengths_from_fractions(n, fractions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about empty splits (n=1)
        mine = mud.random_split(range(n), fractions, generator=mg.Generator(0))
        theirs = tud.random_split(range(n), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in mine] == [len(s) for s in theirs]
