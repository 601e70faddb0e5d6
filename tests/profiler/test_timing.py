"""measure_latency and throughput: statistics of a function that sleeps a known time."""

import time

import pytest

from minigrad.profiler import LatencyStats, measure_latency, throughput


def test_latency_of_a_sleep_is_at_least_the_sleep():
    calls = []

    def nap():
        calls.append(1)
        time.sleep(0.002)

    stats = measure_latency(nap, warmup=2, repeat=5)
    assert len(calls) == 7 and len(stats.samples) == 5
    # loose bounds: sleep never returns early; a busy machine may make it much later
    assert 0.002 <= stats.min <= stats.p50 <= stats.p95 <= stats.max < 1.0
    assert stats.min <= stats.mean <= stats.max
    assert (stats.repeat, stats.warmup) == (5, 2)
    assert stats.to_dict()["p50_s"] == stats.p50


def test_percentiles_follow_numpy_on_the_samples():
    stats = measure_latency(lambda: None, warmup=0, repeat=21)
    ordered = sorted(stats.samples)
    assert stats.p50 == ordered[10]  # odd count: the middle sample
    assert stats.min == ordered[0] and stats.max == ordered[-1]


@pytest.mark.parametrize("warmup, repeat", [(-1, 5), (0, 0)])
def test_bad_counts_are_rejected(warmup, repeat):
    with pytest.raises(ValueError, match="warmup"):
        measure_latency(lambda: None, warmup=warmup, repeat=repeat)


def test_throughput_is_work_over_latency():
    assert throughput(64, 0.5) == 128.0
    stats = LatencyStats(p50=0.25, p95=1.0, mean=0.4, min=0.2, max=1.0, repeat=3, warmup=0,
                         samples=(0.2, 0.25, 1.0))
    assert throughput(8 * 128, stats) == 4096.0  # tokens per second from the median
    with pytest.raises(ValueError, match="positive"):
        throughput(1, 0.0)
