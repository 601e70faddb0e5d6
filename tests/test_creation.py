"""minigrad/creation.py and minigrad/random.py: factories and reproducible randomness."""

import numpy as np
import pytest

import minigrad as mg


def test_constant_factories_accept_sizes_three_ways():
    for t in (mg.zeros(2, 3), mg.zeros((2, 3)), mg.zeros([2, 3])):
        assert t.shape == (2, 3) and t.dtype == mg.float32 and not t.numpy().any()
    assert mg.ones(2, dtype=mg.int64).tolist() == [1, 1]
    assert mg.full((2, 2), 3.0).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert mg.full((2,), 3).dtype == mg.int64
    assert mg.full((2,), True).dtype == mg.bool
    assert mg.empty(4).shape == (4,)
    assert mg.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert mg.ones(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="negative dimension"):
        mg.zeros(-1)


def test_like_factories():
    base = mg.tensor([[1, 2]], dtype=mg.int32)
    assert mg.zeros_like(base).dtype == mg.int32 and mg.zeros_like(base).shape == (1, 2)
    assert mg.ones_like(base, dtype=mg.float64).dtype == mg.float64
    assert mg.full_like(base, 9).tolist() == [[9, 9]]
    assert mg.empty_like(base).shape == (1, 2)
    f = mg.zeros(3, 2)
    assert mg.rand_like(f).shape == (3, 2) and mg.randn_like(f).dtype == mg.float32
    r = mg.randint_like(f, 5)
    assert r.shape == (3, 2) and (r.numpy() < 5).all()


def test_ranges():
    assert mg.arange(4).tolist() == [0, 1, 2, 3] and mg.arange(4).dtype == mg.int64
    assert mg.arange(1, 2, 0.5).tolist() == [1.0, 1.5] and mg.arange(1, 2, 0.5).dtype == mg.float32
    assert mg.arange(5, dtype=mg.float64).dtype == mg.float64
    np.testing.assert_allclose(mg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError, match="step"):
        mg.arange(0, 1, 0)


def test_random_ranges_and_dtypes():
    u = mg.rand(1000)
    assert u.dtype == mg.float32 and 0 <= u.numpy().min() and u.numpy().max() < 1
    n = mg.randn(20000, dtype=mg.float64)
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    i = mg.randint(3, 7, (100,))
    assert i.dtype == mg.int64 and set(i.tolist()) <= {3, 4, 5, 6}
    assert set(mg.randint(2, (50,)).tolist()) <= {0, 1}
    assert sorted(mg.randperm(6).tolist()) == list(range(6))


def test_manual_seed_makes_runs_reproducible():
    mg.manual_seed(123)
    a = mg.randn(5).tolist()
    mg.manual_seed(123)
    assert mg.randn(5).tolist() == a
    assert mg.initial_seed() == 123


def test_rng_state_round_trip_and_private_generator():
    mg.manual_seed(7)
    state = mg.get_rng_state()
    first = mg.rand(3).tolist()
    mg.set_rng_state(state)
    assert mg.rand(3).tolist() == first
    g = mg.Generator().manual_seed(1)
    x = mg.rand(3, generator=g).tolist()
    g.manual_seed(1)
    assert mg.rand(3, generator=g).tolist() == x
