"""The alpha-beta-gamma cost model of all-reduce: formulas, fits to this machine, predictions.

Every all-reduce algorithm is a sequence of steps; in each step a rank sends and receives
one message and perhaps reduces what it received. Hockney's model prices a message of n
bytes at `alpha + n beta` seconds and Thakur, Rabenseifner and Gropp add the reduction:

    alpha   seconds per message (latency: software overhead plus the wire's delay)
    beta    seconds per byte sent (1 / link bandwidth)
    gamma   seconds per byte reduced (one `np.add` of two n-byte vectors takes n gamma)
    n       bytes of the vector being all-reduced, p the number of ranks

The all-reduce costs below are those of R. Thakur, R. Rabenseifner and W. Gropp,
"Optimization of Collective Communication Operations in MPICH", International Journal of
High Performance Computing Applications 19(1), 2005, Sec. 4 (lg = log2):

    ring                2 (p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma
        reduce-scatter then all-gather, each p-1 steps of n/p bytes (the paper's ring
        all-gather and its reduce-scatter cost; the all-reduce as their sum is Patarasuk and
        Yuan, J. Parallel Distrib. Comput. 69(2), 2009, who prove that no all-reduce
        sends fewer than its 2 (p-1)/p n bytes per rank).
    rabenseifner        2 lg p alpha + 2 (p-1)/p n beta + (p-1)/p n gamma
        reduce-scatter by recursive halving, then all-gather by recursive doubling.
    recursive_doubling  lg p (alpha + n beta + n gamma)
        lg p exchanges of the whole vector: few messages, much data; short messages.
    tree                2 ceil(lg p) alpha + 2 ceil(lg p) n beta + ceil(lg p) n gamma
        binomial-tree reduce to rank 0 (ceil(lg p) (alpha + n beta + n gamma)), then
        binomial-tree broadcast (ceil(lg p) (alpha + n beta)).

When p is not a power of two, rabenseifner and recursive_doubling first fold the r = p - p'
extra ranks into their partners (p' = 2^floor(lg p)): before the algorithm each of them sends
its whole vector to a partner that adds it (alpha + n beta + n gamma), and afterwards it gets
the result back (alpha + n beta); the algorithm itself runs on p' ranks (the paper, Sec. 4,
all-reduce). That extra 2 n beta is why the ring wins long messages at p = 3, 6, 12, ...

`mpi` (MPI's own Allreduce) is priced as MPICH's classic choice, the paper's: recursive
doubling up to 2 KiB, Rabenseifner above. A modern MPI on one machine uses shared memory
instead, so the measured `mpi` times are the baseline, its prediction only a reference.

`fit_alpha_beta` measures alpha and beta with a ping-pong between two ranks, and
`measure_gamma` measures gamma with `np.add` on this machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

MODEL_ALGORITHMS = ("ring", "rabenseifner", "recursive_doubling", "tree")
# the paper's short-message threshold of MPICH's Allreduce (Sec. 4, all-reduce)
MPICH_SHORT_MESSAGE_BYTES = 2048
# ping-pong message sizes: 0 B, then 64 B to 4 MiB in powers of 4
PING_PONG_SIZES = (0,) + tuple(64 * 4 ** k for k in range(9))
# np.add sizes for gamma, 1 MiB to 64 MiB: past the L2 cache, like the chunks that the
# long messages (where the reduction's cost matters) reduce; in-cache additions run 2-3x faster
REDUCTION_SIZES = tuple(1024 ** 2 * 4 ** k for k in range(4))


@dataclass(frozen=True)
class CostTerms:
    """An algorithm's cost as `messages alpha + volume n beta + reduced n gamma`."""

    messages: float
    volume: float
    reduced: float

    def seconds(self, n, alpha: float, beta: float, gamma: float = 0.0):
        """The predicted time in seconds for `n` bytes (a number or an array of sizes)."""
        return self.messages * alpha + (self.volume * beta + self.reduced * gamma) * n


def cost_terms(algorithm: str, p: int) -> CostTerms:
    """The coefficients of `alpha`, `n beta` and `n gamma` of one algorithm on `p` ranks.

    Args:
        algorithm: one of `MODEL_ALGORITHMS`.
        p: number of ranks, at least 1 (p = 1 costs nothing).

    Returns:
        the three coefficients (formulas in the module docstring).
    """
    if p < 1:
        raise ValueError(f"cost_terms: p must be at least 1, got {p}")
    if algorithm not in MODEL_ALGORITHMS:
        raise ValueError(f"cost_terms: unknown algorithm {algorithm!r}; choose one of "
                         f"{MODEL_ALGORITHMS}")
    if algorithm == "ring":
        return CostTerms(2 * (p - 1), 2 * (p - 1) / p, (p - 1) / p)
    if algorithm == "tree":
        steps = math.ceil(math.log2(p))
        return CostTerms(2 * steps, 2 * steps, steps)
    power = 1 << (p.bit_length() - 1)   # p', the largest power of two <= p
    steps = power.bit_length() - 1      # lg p'
    if algorithm == "rabenseifner":
        core = CostTerms(2 * steps, 2 * (power - 1) / power, (power - 1) / power)
    else:
        core = CostTerms(steps, steps, steps)
    if power == p:
        return core
    # fold-in (alpha + n beta + n gamma) before, the result sent back (alpha + n beta) after
    return CostTerms(core.messages + 2, core.volume + 2, core.reduced + 1)


def predict(algorithm: str, n, p: int, alpha: float, beta: float, gamma: float = 0.0):
    """Predicted all-reduce time in seconds.

    Args:
        algorithm: one of `MODEL_ALGORITHMS` or "mpi" (MPICH's classic choice: recursive
            doubling up to `MPICH_SHORT_MESSAGE_BYTES`, Rabenseifner above).
        n: message size in bytes, a number or an array of sizes.
        p: number of ranks.
        alpha: seconds per message; beta: seconds per byte sent; gamma: seconds per byte
            reduced.

    Returns:
        seconds, a float for a number `n`, an array of the shape of `n` otherwise.
    """
    if algorithm not in (*MODEL_ALGORITHMS, "mpi"):
        raise ValueError(f"predict: unknown algorithm {algorithm!r}; choose one of "
                         f"{(*MODEL_ALGORITHMS, 'mpi')}")
    if algorithm == "mpi":
        short = cost_terms("recursive_doubling", p).seconds(n, alpha, beta, gamma)
        long = cost_terms("rabenseifner", p).seconds(n, alpha, beta, gamma)
        result = np.where(np.asarray(n) <= MPICH_SHORT_MESSAGE_BYTES, short, long)
        return float(result) if np.ndim(result) == 0 else result
    return cost_terms(algorithm, p).seconds(n, alpha, beta, gamma)


def best_algorithm(n: float, p: int, alpha: float, beta: float, gamma: float = 0.0,
                   algorithms: tuple[str, ...] = MODEL_ALGORITHMS) -> str:
    """The algorithm the model predicts fastest for `n` bytes on `p` ranks (ties: the first
    in `algorithms`)."""
    times = [predict(name, n, p, alpha, beta, gamma) for name in algorithms]
    return algorithms[int(np.argmin(times))]


def crossover_bytes(first: str, second: str, p: int, alpha: float, beta: float,
                    gamma: float = 0.0) -> float | None:
    """The message size at which two algorithms cost the same, or None if they never do.

    Both costs are linear in n (`a alpha + b n`), so they meet at most once, at
    n = (a1 - a2) alpha / (b2 - b1) with b = volume beta + reduced gamma.

    Returns:
        bytes (positive), or None when the lines are parallel or meet at n <= 0.
    """
    one, two = cost_terms(first, p), cost_terms(second, p)
    slope_gap = (two.volume - one.volume) * beta + (two.reduced - one.reduced) * gamma
    if slope_gap == 0:
        return None
    n = (one.messages - two.messages) * alpha / slope_gap
    return n if n > 0 else None


def winner_map(sizes, procs, alpha: float, beta: float, gamma: float = 0.0,
               algorithms: tuple[str, ...] = MODEL_ALGORITHMS) -> np.ndarray:
    """Which algorithm the model picks for every (p, n) pair.

    Args:
        sizes: message sizes in bytes, length S.
        procs: rank counts, length Q.

    Returns:
        (Q, S) int array of indices into `algorithms`.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    return np.array([np.argmin([predict(name, sizes, p, alpha, beta, gamma)
                                for name in algorithms], axis=0) for p in procs])


@dataclass(frozen=True)
class LinearFit:
    """A least-squares line `seconds = intercept + slope * bytes` and how well it fits.

    `r2` is the ordinary coefficient of determination (1 is a perfect fit; it is dominated
    by the largest sizes), `max_relative_error` the worst |fit - measured| / measured over
    the points (it shows a poor fit at the small sizes, where alpha dominates).
    """

    intercept: float
    slope: float
    r2: float
    max_relative_error: float
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"intercept_s": self.intercept, "slope_s_per_byte": self.slope,
                "r2": self.r2, "max_relative_error": self.max_relative_error,
                "sizes": list(self.sizes), "seconds": list(self.seconds)}


def fit_line(sizes, seconds) -> LinearFit:
    """Fit `seconds = intercept + slope * sizes`, minimising the *relative* residuals.

    Ordinary least squares would fit the largest messages and leave the intercept (alpha,
    microseconds) to the noise of milliseconds-long transfers; weighting every point by
    1 / seconds makes a 10% miss cost the same at 64 B and at 4 MB.

    Args:
        sizes: (K,) message sizes in bytes, K >= 2 distinct values.
        seconds: (K,) measured times, positive.
    """
    x = np.asarray(sizes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if x.shape != t.shape or x.ndim != 1 or len(np.unique(x)) < 2:
        raise ValueError(f"fit_line: need two 1-D arrays of one length with at least two "
                         f"distinct sizes, got shapes {x.shape} and {t.shape}")
    if np.any(t <= 0):
        raise ValueError(f"fit_line: times must be positive, got {t.tolist()}")
    design = np.stack([1.0 / t, x / t], axis=1)   # (intercept + slope x) / t ~ 1
    (intercept, slope), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    fitted = intercept + slope * x
    relative = fitted / t - 1.0
    spread = float(np.sum((t - t.mean()) ** 2))
    r2 = 1.0 - float(np.sum((fitted - t) ** 2)) / spread if spread > 0 else 1.0
    return LinearFit(float(intercept), float(slope), r2, float(np.max(np.abs(relative))),
                     tuple(int(s) for s in x), tuple(float(s) for s in t))


def fit_alpha_beta(comm, sizes: tuple[int, ...] = PING_PONG_SIZES, repeat: int = 20
                   ) -> LinearFit:
    """Measure alpha and beta between ranks 0 and 1 of `comm` with a ping-pong.

    Rank 0 sends n bytes to rank 1, which sends them back; half the best of `repeat` round
    trips (after two untimed ones) is the one-way time of n bytes. `fit_line` then fits
    `t = alpha + n beta` over `sizes`. Collective over `comm`: every rank calls it, ranks
    other than 0 and 1 wait, and every rank gets rank 0's result.

    Args:
        comm: an mpi4py intracommunicator with at least 2 ranks.
        sizes: message sizes in bytes (at least two distinct).
        repeat: timed round trips per size.

    Returns:
        the fit: `intercept` is alpha (s), `slope` is beta (s/byte), `sizes` and `seconds`
        the one-way times it was fitted to.
    """
    if comm.Get_size() < 2:
        raise ValueError(f"fit_alpha_beta: a ping-pong needs at least 2 ranks, the "
                         f"communicator has {comm.Get_size()}")
    rank = comm.Get_rank()
    buffer = np.zeros(max(sizes), dtype=np.uint8)
    one_way = []
    for n in sizes:
        message = buffer[:n]
        best = math.inf
        comm.Barrier()
        for trip in range(repeat + 2):
            start = time.perf_counter()
            if rank == 0:
                comm.Send(message, dest=1, tag=trip)
                comm.Recv(message, source=1, tag=trip)
            elif rank == 1:
                comm.Recv(message, source=0, tag=trip)
                comm.Send(message, dest=0, tag=trip)
            if trip >= 2:
                best = min(best, time.perf_counter() - start)
        one_way.append(best / 2)
    fit = fit_line(sizes, one_way) if rank == 0 else None
    return comm.bcast(fit, root=0)


def measure_gamma(comm=None, sizes: tuple[int, ...] = REDUCTION_SIZES, repeat: int = 5,
                  dtype=np.float32) -> LinearFit:
    """Measure gamma: the seconds per byte of `np.add(a, b, out=a)` on this machine.

    With `comm`, every rank measures at the same time (they share the memory bus, as they
    do inside an all-reduce) and the slowest rank's time of each size is fitted; every
    rank gets the same result.

    Args:
        comm: an mpi4py intracommunicator, or None to measure in this process alone.
        sizes: vector sizes in bytes (multiples of the dtype's itemsize).
        repeat: timed additions per size (the best is kept, after one untimed).
        dtype: element type of the vectors.

    Returns:
        the fit of `t = overhead + n gamma`: `slope` is gamma (s/byte).
    """
    itemsize = np.dtype(dtype).itemsize
    times = []
    for n in sizes:
        if n % itemsize:
            raise ValueError(f"measure_gamma: size {n} is not a multiple of the "
                             f"{np.dtype(dtype).name} itemsize {itemsize}")
        a = np.ones(n // itemsize, dtype=dtype)
        b = np.ones_like(a)
        np.add(a, b, out=a)
        if comm is not None:
            comm.Barrier()
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            np.add(a, b, out=a)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    if comm is not None:
        from mpi4py import MPI
        slowest = np.array(times)
        comm.Allreduce(MPI.IN_PLACE, slowest, op=MPI.MAX)
        times = slowest.tolist()
    return fit_line(sizes, times)
