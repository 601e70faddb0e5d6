"""The algorithms' pure parts, and every algorithm run by P threads over in-memory links.

No MPI here: `ThreadLink` has the `Link` interface (sendrecv, send, recv on NumPy buffers,
empty buffers skipped) over queues, so the algorithms run unchanged for P = 1 .. 8,
including the non-powers of two that the mpiexec tests only reach up to 3 on 2 cores.
"""

import queue
import threading

import numpy as np
import pytest

from minigrad.distributed.algorithms import (
    ALGORITHMS,
    ALL_REDUCE,
    COLLECTIVE_ALGORITHMS,
    SHORT_MESSAGE_BYTES,
    choose,
    choose_all_reduce,
)
from minigrad.distributed.algorithms._link import Link
from minigrad.distributed.algorithms._pow2 import (
    fold_schedule,
    largest_power_of_two,
    real_rank,
)
from minigrad.distributed.algorithms.rabenseifner import rabenseifner_all_reduce
from minigrad.distributed.algorithms.recursive_doubling import (
    recursive_doubling_all_reduce,
)
from minigrad.distributed.algorithms.ring import (
    chunk_bounds,
    ring_all_gather,
    ring_all_reduce,
    ring_reduce_scatter,
)
from minigrad.distributed.algorithms.tree import binomial_broadcast, binomial_reduce


class ThreadLink:
    """`Link` over in-memory queues, one per ordered pair of ranks; counts what it sends."""

    scratch = staticmethod(Link.scratch)  # the real one: per-thread, and each rank is a thread

    def __init__(self, rank, size, boxes):
        self.rank, self.size, self.boxes = rank, size, boxes
        self.messages = self.elements = 0

    def send(self, send, dest):
        if send.size:
            self.boxes[self.rank, dest].put(send.copy())
            self.messages += 1
            self.elements += send.size

    def recv(self, recv, source):
        if recv.size:
            data = self.boxes[source, self.rank].get(timeout=10)
            assert data.shape == recv.shape, f"rank {self.rank}: got {data.shape} for {recv.shape}"
            recv[...] = data

    def sendrecv(self, send, dest, recv, source):
        self.send(send, dest)
        self.recv(recv, source)


def run_ranks(size, body):
    """Run body(link) on `size` threads; return their links (re-raises a thread's error)."""
    boxes = {(a, b): queue.SimpleQueue() for a in range(size) for b in range(size)}
    links = [ThreadLink(r, size, boxes) for r in range(size)]
    errors = []

    def target(link):
        try:
            body(link)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(link,)) for link in links]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if errors:
        raise errors[0]
    for link in links:
        assert all(box.empty() for (a, b), box in boxes.items() if b == link.rank), "unread"
    return links


def inputs(size, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return [rng.standard_normal(n).astype(dtype) for _ in range(size)]
    info = np.iinfo(dtype)
    return [rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True) for _ in range(size)]


@pytest.mark.parametrize("length, parts", [(10, 4), (0, 3), (2, 5), (7, 7), (1009, 6)])
def test_chunk_bounds_cover_the_buffer_in_near_equal_chunks(length, parts):
    bounds = chunk_bounds(length, parts)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == length and len(bounds) == parts + 1
    assert sizes.min() >= 0 and sizes.max() - sizes.min() <= 1


def test_chunk_bounds_example():
    assert chunk_bounds(10, 4) == [0, 2, 5, 7, 10]
    assert chunk_bounds(2, 4) == [0, 0, 1, 1, 2]


@pytest.mark.parametrize("size, expected", [
    (1, [(0, None)]),
    (3, [(0, 1), (-1, 0), (1, None)]),
    (6, [(0, 1), (-1, 0), (1, 3), (-1, 2), (2, None), (3, None)]),
    (4, [(0, None), (1, None), (2, None), (3, None)]),
])
def test_fold_schedule_pairs_the_first_2r_ranks(size, expected):
    assert [fold_schedule(r, size) for r in range(size)] == expected


@pytest.mark.parametrize("size", range(1, 20))
def test_fold_renumbering_is_a_bijection_onto_a_power_of_two(size):
    p2 = largest_power_of_two(size)
    assert p2 <= size < 2 * p2
    new_ranks = [fold_schedule(r, size)[0] for r in range(size)]
    active = [n for n in new_ranks if n >= 0]
    assert sorted(active) == list(range(p2))
    assert all(real_rank(n, size) == r for r, n in enumerate(new_ranks) if n >= 0)


def test_auto_picks_recursive_doubling_for_short_and_bandwidth_algorithms_for_long():
    assert choose_all_reduce(SHORT_MESSAGE_BYTES, 4) == "recursive_doubling"
    assert choose_all_reduce(SHORT_MESSAGE_BYTES + 1, 4) == "rabenseifner"
    assert choose_all_reduce(SHORT_MESSAGE_BYTES + 1, 3) == "ring"
    assert choose_all_reduce(1 << 30, 6) == "ring"
    assert choose("broadcast", 1 << 20, 4) == "tree"
    assert choose("all_gather", 1 << 20, 4) == "ring"
    assert set(COLLECTIVE_ALGORITHMS["all_reduce"]) == set(ALGORITHMS)


@pytest.mark.parametrize("algorithm", sorted(ALL_REDUCE))
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("n", [0, 1, 3, 9, 100])
def test_all_reduce_sums_exactly_and_every_rank_ends_with_the_same_bytes(algorithm, size, n):
    data = inputs(size, n, np.float32, seed=size * 1000 + n)
    buffers = [d.copy() for d in data]
    run_ranks(size, lambda link: ALL_REDUCE[algorithm](link, buffers[link.rank], np.add))
    np.testing.assert_allclose(buffers[0], np.sum(data, axis=0, dtype=np.float64),
                               rtol=1e-5, atol=1e-5)
    assert all(b.tobytes() == buffers[0].tobytes() for b in buffers)


@pytest.mark.parametrize("algorithm", sorted(ALL_REDUCE))
@pytest.mark.parametrize("size", [3, 5, 8])
def test_all_reduce_of_integers_wraps_like_numpy(algorithm, size):
    data = inputs(size, 37, np.int8, seed=size)
    buffers = [d.copy() for d in data]
    run_ranks(size, lambda link: ALL_REDUCE[algorithm](link, buffers[link.rank], np.add))
    for b in buffers:
        np.testing.assert_array_equal(b, np.sum(data, axis=0, dtype=np.int8))


@pytest.mark.parametrize("size", [3, 6])
def test_recursive_doubling_max_keeps_identical_bytes_for_signed_zeros(size):
    # np.maximum(-0.0, 0.0) returns its first operand; both partners put the lower first
    data = [np.array([0.0 if r % 2 else -0.0, np.nan]) for r in range(size)]
    buffers = [d.copy() for d in data]
    run_ranks(size, lambda link: recursive_doubling_all_reduce(link, buffers[link.rank],
                                                               np.maximum))
    assert all(b.tobytes() == buffers[0].tobytes() for b in buffers)


@pytest.mark.parametrize("size", [2, 4, 5, 7])
def test_ring_sends_2_p_minus_1_messages_of_n_over_p(size):
    n = 1000 * size
    buffers = [np.ones(n) for _ in range(size)]
    links = run_ranks(size, lambda link: ring_all_reduce(link, buffers[link.rank], np.add))
    assert all(link.messages == 2 * (size - 1) for link in links)
    assert all(link.elements == 2 * (size - 1) * n // size for link in links)


def test_rabenseifner_sends_2_log_p_messages_and_2_p_minus_1_over_p_of_n():
    size, n = 8, 8000
    buffers = [np.ones(n) for _ in range(size)]
    links = run_ranks(size, lambda link: rabenseifner_all_reduce(link, buffers[link.rank],
                                                                 np.add))
    assert all(link.messages == 6 and link.elements == 2 * 7 * n // 8 for link in links)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("root", [0, -1])
def test_binomial_broadcast_and_reduce(size, root):
    root = root % size
    data = inputs(size, 11, np.int64, seed=size)
    bcast = [d.copy() for d in data]
    run_ranks(size, lambda link: binomial_broadcast(link, bcast[link.rank], root))
    assert all(np.array_equal(b, data[root]) for b in bcast)
    red = [d.copy() for d in data]
    links = run_ranks(size, lambda link: binomial_reduce(link, red[link.rank], root, np.add))
    np.testing.assert_array_equal(red[root], np.sum(data, axis=0))
    assert sum(link.messages for link in links) == size - 1  # one message up each tree edge


@pytest.mark.parametrize("size", [1, 2, 3, 6])
@pytest.mark.parametrize("chunk", [0, 1, 5])
def test_ring_reduce_scatter_and_all_gather_with_equal_chunks(size, chunk):
    bounds = [i * chunk for i in range(size + 1)]
    data = inputs(size, chunk * size, np.int32, seed=chunk)
    work = [d.copy() for d in data]
    run_ranks(size, lambda link: ring_reduce_scatter(link, work[link.rank], bounds, np.add))
    total = np.sum(data, axis=0, dtype=np.int32)
    for r in range(size):
        np.testing.assert_array_equal(work[r][r * chunk:(r + 1) * chunk],
                                      total[r * chunk:(r + 1) * chunk])
    gathered = [np.where(np.repeat(np.arange(size), chunk) == r, data[r], 0) for r in range(size)]
    run_ranks(size, lambda link: ring_all_gather(link, gathered[link.rank], bounds))
    expected = np.concatenate([data[r][r * chunk:(r + 1) * chunk] for r in range(size)])
    assert all(np.array_equal(g, expected) for g in gathered)


def test_scratch_is_reused_per_thread_and_grows_to_the_largest_request():
    a = Link.scratch(10, np.float32)
    b = Link.scratch(4, np.float64)
    assert a.shape == (10,) and a.dtype == np.float32 and b.shape == (4,) and b.dtype == np.float64
    assert np.shares_memory(a, b)  # the same bytes, reused
    big = Link.scratch(1000, np.int64)
    assert big.size == 1000 and not np.shares_memory(a, big)  # grew: a fresh buffer
    other = {}
    thread = threading.Thread(target=lambda: other.update(s=Link.scratch(1000, np.int64)))
    thread.start()
    thread.join()
    assert not np.shares_memory(other["s"], big)  # each thread has its own
    assert Link.scratch(0, np.float32).size == 0
