"""Samplers: sequential order, random permutations from a generator, batching of indices."""

import pytest

import minigrad as mg
from minigrad.utils.data import BatchSampler, RandomSampler, Sampler, SequentialSampler


def test_sequential_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(SequentialSampler(range(5))) == 5


def test_random_sampler_is_a_permutation_that_changes_every_epoch():
    sampler = RandomSampler(range(50), generator=mg.Generator(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second
    assert first == list(RandomSampler(range(50), generator=mg.Generator(0)))


def test_random_sampler_without_generator_follows_the_global_seed():
    mg.manual_seed(11)
    a = list(RandomSampler(range(30)))
    mg.manual_seed(11)
    b = list(RandomSampler(range(30)))
    assert a == b and sorted(a) == list(range(30))


def test_random_sampler_takes_one_global_draw_per_epoch():
    mg.manual_seed(4)
    list(RandomSampler(range(1000)))
    after_epoch = mg.rand(1).item()
    mg.manual_seed(4)
    mg.default_generator.numpy.integers(0, 2**63 - 1)  # the one seed an epoch draws
    assert mg.rand(1).item() == after_epoch


def test_random_sampler_num_samples_and_replacement():
    sampler = RandomSampler(range(4), num_samples=10, generator=mg.Generator(2))
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 10
    assert sorted(drawn[:4]) == [0, 1, 2, 3] and sorted(drawn[4:8]) == [0, 1, 2, 3]
    with_replacement = list(RandomSampler(range(3), replacement=True, num_samples=200,
                                          generator=mg.Generator(0)))
    assert len(with_replacement) == 200 and set(with_replacement) == {0, 1, 2}


def test_random_sampler_argument_errors():
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement=1"):
        RandomSampler(range(3), replacement=1)


@pytest.mark.parametrize("drop_last,expected", [
    (False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
])
def test_batch_sampler(drop_last, expected):
    sampler = BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=drop_last)
    assert list(sampler) == expected
    assert len(sampler) == len(expected)


def test_batch_sampler_exact_multiple_and_errors():
    assert list(BatchSampler(range(4), 2, True)) == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="batch_size=0"):
        BatchSampler(range(4), 0, False)
    with pytest.raises(ValueError, match="drop_last=None"):
        BatchSampler(range(4), 2, None)


def test_sampler_base_needs_iter():
    with pytest.raises(NotImplementedError, match="Sampler must implement __iter__"):
        iter(Sampler())
