"""DistributedSampler: PyTorch's pad/trim/stride rule, seeded shuffling, set_epoch."""

import pytest

from minigrad.utils.data import DistributedSampler


def shards(n, replicas, **kwargs):
    return [list(DistributedSampler(range(n), replicas, rank, **kwargs))
            for rank in range(replicas)]


def test_the_rule_on_a_small_example():
    # 10 indices over 4 ranks: padded with 0, 1 to 12, then every 4th from the rank
    assert shards(10, 4, shuffle=False) == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    # drop_last trims to 8 instead
    assert shards(10, 4, shuffle=False, drop_last=True) == [[0, 4], [1, 5], [2, 6], [3, 7]]


def test_padding_longer_than_the_dataset_repeats_it():
    assert shards(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]


@pytest.mark.parametrize("n,replicas", [(10, 4), (12, 3), (7, 8), (101, 6)])
def test_shards_cover_the_dataset_and_are_disjoint_with_drop_last(n, replicas):
    padded = shards(n, replicas, seed=3)
    assert len({len(s) for s in padded}) == 1
    assert set().union(*map(set, padded)) == set(range(n))
    assert sum(len(s) for s in padded) - n < replicas  # at most one extra per rank
    trimmed = shards(n, replicas, seed=3, drop_last=True)
    flat = [i for s in trimmed for i in s]
    assert len(flat) == len(set(flat)) == (n // replicas) * replicas


def test_every_rank_sees_the_same_permutation_for_a_seed():
    # the ranks' shards interleave back into one permutation of the data
    for seed in (0, 1):
        parts = shards(12, 3, seed=seed)
        merged = [parts[i % 3][i // 3] for i in range(12)]
        assert sorted(merged) == list(range(12))
        assert parts == shards(12, 3, seed=seed)
    assert shards(12, 3, seed=0) != shards(12, 3, seed=1)


def test_set_epoch_changes_the_order_reproducibly():
    sampler = DistributedSampler(range(20), num_replicas=2, rank=1, seed=7)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0  # same epoch, same order
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    other = DistributedSampler(range(20), num_replicas=2, rank=1, seed=7)
    other.set_epoch(1)
    assert list(other) == epoch1


def test_lengths():
    assert len(DistributedSampler(range(10), 4, 0)) == 3
    assert len(DistributedSampler(range(10), 4, 0, drop_last=True)) == 2


def test_errors():
    with pytest.raises(ValueError, match=r"invalid rank 4, rank should be in the interval \[0, 3"):
        DistributedSampler(range(10), num_replicas=4, rank=4)
    with pytest.raises(RuntimeError, match="pass num_replicas="):
        DistributedSampler(range(10))
