"""The alpha-beta-gamma cost model: formulas at known values, limits, crossovers, the fits.

The pure functions need no MPI; the ping-pong fit runs under `mpiexec -n 2`
(workers/bench_fit.py) and is skipped where MPI is not installed.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from minigrad.distributed import cost_model as cm

ALPHA, BETA, GAMMA = 2e-6, 1e-10, 5e-11   # 2 us, 10 GB/s, 20 GB/s of np.add
N = 1 << 20


@pytest.mark.parametrize("algorithm", cm.MODEL_ALGORITHMS + ("mpi",))
def test_one_rank_costs_nothing(algorithm):
    assert cm.predict(algorithm, N, 1, ALPHA, BETA, GAMMA) == 0.0


def test_known_values_at_four_ranks():
    # ring: 2(p-1) alpha + 2(p-1)/p n beta + (p-1)/p n gamma = 6 alpha + 1.5 n beta + .75 n gamma
    assert cm.predict("ring", N, 4, ALPHA, BETA, GAMMA) == pytest.approx(
        6 * ALPHA + 1.5 * N * BETA + 0.75 * N * GAMMA)
    # rabenseifner: 2 lg p alpha + the ring's volume and reduction
    assert cm.predict("rabenseifner", N, 4, ALPHA, BETA, GAMMA) == pytest.approx(
        4 * ALPHA + 1.5 * N * BETA + 0.75 * N * GAMMA)
    # recursive doubling: lg p (alpha + n beta + n gamma)
    assert cm.predict("recursive_doubling", N, 4, ALPHA, BETA, GAMMA) == pytest.approx(
        2 * (ALPHA + N * BETA + N * GAMMA))
    # tree: binomial reduce + broadcast, ceil(lg p) = 2 steps each
    assert cm.predict("tree", N, 4, ALPHA, BETA, GAMMA) == pytest.approx(
        4 * ALPHA + 4 * N * BETA + 2 * N * GAMMA)


def test_non_power_of_two_adds_the_fold_in_step():
    # p = 6: p' = 4 ranks run the algorithm; the 2 extra ranks cost (alpha + n beta + n gamma)
    # before and (alpha + n beta) after
    core = cm.predict("rabenseifner", N, 4, ALPHA, BETA, GAMMA)
    assert cm.predict("rabenseifner", N, 6, ALPHA, BETA, GAMMA) == pytest.approx(
        core + 2 * ALPHA + 2 * N * BETA + N * GAMMA)
    doubling = cm.predict("recursive_doubling", N, 4, ALPHA, BETA, GAMMA)
    assert cm.predict("recursive_doubling", N, 7, ALPHA, BETA, GAMMA) == pytest.approx(
        doubling + 2 * ALPHA + 2 * N * BETA + N * GAMMA)
    assert cm.cost_terms("tree", 5) == cm.CostTerms(6, 6, 3)    # ceil(lg 5) = 3


def test_ring_bandwidth_term_approaches_two_n_beta():
    ratios = [cm.predict("ring", N, p, 0.0, BETA) / (2 * N * BETA) for p in (2, 16, 4096)]
    assert ratios == pytest.approx([0.5, 15 / 16, 4095 / 4096])


def test_predict_accepts_arrays_of_sizes():
    sizes = np.array([0, 1024, 1 << 20])
    times = cm.predict("ring", sizes, 8, ALPHA, BETA, GAMMA)
    assert times.shape == (3,)
    assert times[0] == pytest.approx(14 * ALPHA)
    assert times[2] == pytest.approx(cm.predict("ring", 1 << 20, 8, ALPHA, BETA, GAMMA))


def test_mpi_is_recursive_doubling_when_short_and_rabenseifner_when_long():
    short, long = cm.MPICH_SHORT_MESSAGE_BYTES, 1 << 24
    assert cm.predict("mpi", short, 8, ALPHA, BETA, GAMMA) == pytest.approx(
        cm.predict("recursive_doubling", short, 8, ALPHA, BETA, GAMMA))
    assert cm.predict("mpi", long, 8, ALPHA, BETA, GAMMA) == pytest.approx(
        cm.predict("rabenseifner", long, 8, ALPHA, BETA, GAMMA))
    both = cm.predict("mpi", np.array([short, long]), 8, ALPHA, BETA, GAMMA)
    assert both[1] == pytest.approx(cm.predict("rabenseifner", long, 8, ALPHA, BETA, GAMMA))


def test_crossover_between_short_and_long_message_algorithms():
    p = 64
    n = cm.crossover_bytes("recursive_doubling", "rabenseifner", p, ALPHA, BETA, GAMMA)
    # 6 alpha + 6 n (beta + gamma) = 12 alpha + 2(63/64) n beta + (63/64) n gamma
    expected = 6 * ALPHA / (6 * (BETA + GAMMA) - 2 * 63 / 64 * BETA - 63 / 64 * GAMMA)
    assert n == pytest.approx(expected)
    assert cm.best_algorithm(n / 4, p, ALPHA, BETA, GAMMA) == "recursive_doubling"
    assert cm.best_algorithm(n * 4, p, ALPHA, BETA, GAMMA) == "rabenseifner"
    assert cm.crossover_bytes("ring", "ring", p, ALPHA, BETA, GAMMA) is None


def test_ring_wins_long_messages_only_where_p_is_not_a_power_of_two():
    long = 1 << 28
    assert cm.best_algorithm(long, 64, ALPHA, BETA, GAMMA) == "rabenseifner"
    assert cm.best_algorithm(long, 96, ALPHA, BETA, GAMMA) == "ring"
    assert cm.best_algorithm(64, 96, ALPHA, BETA, GAMMA) == "recursive_doubling"


def test_winner_map_matches_best_algorithm():
    sizes, procs = [16, 1 << 12, 1 << 26], [8, 12, 1024]
    winners = cm.winner_map(sizes, procs, ALPHA, BETA, GAMMA)
    assert winners.shape == (3, 3)
    for i, p in enumerate(procs):
        for j, n in enumerate(sizes):
            assert cm.MODEL_ALGORITHMS[winners[i, j]] == cm.best_algorithm(n, p, ALPHA, BETA,
                                                                           GAMMA)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="predict: unknown algorithm 'butterfly'"):
        cm.predict("butterfly", N, 4, ALPHA, BETA)
    with pytest.raises(ValueError, match="cost_terms: unknown algorithm 'mpi'"):
        cm.cost_terms("mpi", 4)
    with pytest.raises(ValueError, match="p must be at least 1, got 0"):
        cm.cost_terms("ring", 0)
    with pytest.raises(ValueError, match="at least two distinct sizes"):
        cm.fit_line([8, 8], [1e-6, 1e-6])
    with pytest.raises(ValueError, match="times must be positive"):
        cm.fit_line([0, 8], [0.0, 1e-6])


def test_fit_line_recovers_alpha_and_beta_of_exact_data():
    sizes = np.array(cm.PING_PONG_SIZES, dtype=float)
    fit = cm.fit_line(sizes, ALPHA + BETA * sizes)
    assert fit.intercept == pytest.approx(ALPHA, rel=1e-9)
    assert fit.slope == pytest.approx(BETA, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.max_relative_error < 1e-9


def test_fit_line_weighs_small_messages_as_much_as_large_ones():
    # 20% noise on the largest point must not swamp the 2 us intercept
    sizes = np.array([0, 64, 1024, 1 << 16, 1 << 22], dtype=float)
    times = ALPHA + BETA * sizes
    times[-1] *= 1.2
    fit = cm.fit_line(sizes, times)
    assert fit.intercept == pytest.approx(ALPHA, rel=0.02)
    ordinary = np.linalg.lstsq(np.stack([np.ones_like(sizes), sizes], axis=1), times,
                               rcond=None)[0]
    assert abs(ordinary[0] / ALPHA - 1) > 0.1             # what the weighting avoids
    assert 0.05 < fit.max_relative_error < 0.2            # the bad point shows in the quality


def test_measure_gamma_on_one_process():
    fit = cm.measure_gamma(sizes=(1 << 16, 1 << 22), repeat=3)
    assert 1e-13 < fit.slope < 1e-8          # between 0.1 and 10,000 GB/s
    with pytest.raises(ValueError, match="size 6 is not a multiple of the float32 itemsize 4"):
        cm.measure_gamma(sizes=(6, 8))


def test_ping_pong_fit_under_mpiexec():
    pytest.importorskip("mpi4py")
    from tests.distributed.mpi_launch import run_mpi

    worker = Path(__file__).parent / "workers" / "bench_fit.py"
    done = run_mpi(2, worker, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    link, gamma = result["link"], result["gamma"]
    assert result["same_on_every_rank"]
    assert 0 < link["intercept_s"] < 1e-3                 # alpha: under a millisecond
    assert 1e-12 < link["slope_s_per_byte"] < 1e-8        # beta: 0.1 to 1000 GB/s
    assert link["sizes"] == list(cm.PING_PONG_SIZES)
    assert all(t > 0 for t in link["seconds"])
    assert -1.0 <= link["r2"] <= 1.0 and math.isfinite(link["max_relative_error"])
    assert 1e-13 < gamma["slope_s_per_byte"] < 1e-8
    with_fit = cm.predict("ring", 1 << 20, 2, link["intercept_s"], link["slope_s_per_byte"])
    assert with_fit > 0
