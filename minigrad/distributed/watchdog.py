"""Deadlines and the stall watchdog: every wait polls, and a stall names who did not join.

Every collective of a process group gets the next sequence number of that group (1, 2, ...)
and a deadline (now + the group's timeout). All waits inside a collective go through
`Watchdog.wait`, which polls MPI requests: back to back for the first 50 us (a short message
arrives within microseconds), then with `os.sched_yield()` between tests until 2 ms, then
with sleeps of at most 5% of the time already waited and at most 1 ms. When this node runs
more ranks than it has cores (`configure_polling`), the back-to-back phase is skipped: a
waiting rank then hands its core to the peer it waits for at once. Measured for a 4 KB all-reduce: at P = 2 on 2 cores,
7 us with the spin and 25 us without (a yield lets another process in); at P = 4 on 2 cores,
190 us without the spin, 280 us with 10 us of it, 860 us with 100 us, and 1.1 ms when
sleeping at once.

A group's worker thread (asynchronous collectives) instead sleeps 50 us between polls from
the start: it exists to let the main thread compute meanwhile, so it leaves that thread the
core and the GIL. (A 4 MB all-reduce at P = 2 overlapped with 5 ms of NumPy work took
6.1-6.2 ms with the sleeps and 6.2-6.6 ms with the spin-and-yield polling; done one after
the other, 5.7 ms: on 2 cores busy with 2 ranks there is no idle core to overlap with.)

When the deadline passes, the rank asks every other member of the group which collective it
is in (a tiny query on a communicator private to the watchdog) and collects the answers for
up to a second. Every rank that has been waiting inside some collective for more than 2 ms
answers queries from its polling loop, with its sequence number in the group that asked. A
rank that answers with a smaller number, or does not answer at all (it is computing, sleeping
or hung outside minigrad's collectives), did not join; the rank prints one line such as

    minigrad.distributed: all_reduce #12 on group of 4 timed out after 2 s;
    ranks [3] did not join (3: not in any collective)

to stderr and aborts the whole job (`launch.abort_job`).

Cost: nothing on the way into a collective but a counter and a clock read; no messages until
something has already stalled. (Announcing each arrival to every peer, as the first version
did, costs P - 1 messages per collective, and in a loop of rooted collectives, where the
leaves run ahead of the root, the root drowned in notices: 20,000 reduces at P = 4 took
3.7-7.6 s instead of 1.2 s, and one such run stalled outright.) The price:
a rank that finished collective n without waiting (a leaf of a reduce, say) and then computes
for longer than the timeout is reported as not having joined n.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

_QUERY_TAG, _ANSWER_TAG = 12, 13
_SPIN_S = 50e-6        # poll back to back this long, unless ranks outnumber cores
_YIELD_S = 2e-3        # then yield the core between polls until this long
_MAX_SLEEP_S = 1e-3    # then sleep, at most 5% of the time waited so far and at most this
_BACKGROUND_SLEEP_S = 50e-6  # a worker thread sleeps between polls: see the module docstring
_GRACE_S = 1.0         # how long a stalled rank waits for the answers

NAMES = ("all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
         "reduce_scatter", "reduce_scatter_tensor", "barrier", "new_group")

_live: list[Watchdog] = []
_answering = threading.Lock()
_thread = threading.local()  # .background: this thread runs asynchronous collectives


_spin_s = _SPIN_S


def configure_polling(ranks_on_node: int, cores: int) -> None:
    """Skip the back-to-back polling when this node runs more ranks than it has cores."""
    global _spin_s
    _spin_s = 0.0 if ranks_on_node > cores else _SPIN_S


def mark_background_thread() -> None:
    """Make this thread's waits sleep between polls from the start (the worker threads)."""
    _thread.background = True


def answer_queries() -> None:
    """Answer every pending "which collective are you in?" query, for every live group."""
    if not _answering.acquire(blocking=False):
        return  # another thread of this process is answering right now
    try:
        for watchdog in _live:
            watchdog._answer()
    finally:
        _answering.release()


def stall_message(name: str, seq: int, size: int, timeout: float,
                  answers: dict[int, tuple[int, str] | None],
                  world_ranks: list[int] | None = None) -> str:
    """The watchdog's one-line report of a collective that passed its deadline.

    Args:
        name: the collective, e.g. "all_reduce".
        seq: its sequence number in the group (1 for the group's first collective).
        size: the group size.
        timeout: the group's timeout in seconds.
        answers: for each other group rank, (its sequence number, its collective) or None
            if it did not answer.
        world_ranks: the group's members as world ranks, when the group is a sub-group.
    """
    head = f"minigrad.distributed: {name} #{seq} on group of {size} timed out after {timeout:g} s; "
    missing = sorted(r for r, a in answers.items() if a is None or a[0] < seq)
    if not missing:
        return head + ("every rank joined it, so the collective itself stalled (did the ranks "
                       "pass buffers of different sizes or dtypes, or different algorithms?)")
    where = []
    for r in missing:
        answer = answers[r]
        if answer is None:
            where.append(f"{r}: not in any collective")
        elif answer[0] == 0:
            where.append(f"{r}: no collective yet")
        else:
            where.append(f"{r}: in {answer[1]} #{answer[0]}")
    text = head + f"ranks {missing} did not join ({'; '.join(where)})"
    if world_ranks is not None and world_ranks != list(range(len(world_ranks))):
        text += f"; world ranks {[world_ranks[r] for r in missing]}"
    return text


class Watchdog:
    """A process group's sequence numbers, deadlines, polled waits and stall reports.

    Args:
        comm: a communicator private to the watchdog (a `Dup` of the group's).
        timeout: seconds a collective may take before the job is aborted.
        world_ranks: the group's members as world ranks (for the report).
    """

    def __init__(self, comm, timeout: float, world_ranks: list[int]) -> None:
        from mpi4py import MPI

        self._mpi = MPI
        self._testall = MPI.Request.Testall
        self.comm = comm
        self.timeout = timeout
        self.world_ranks = world_ranks
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.seq = 0
        self.name = ""
        self.deadline = float("inf")
        self._replies: list = []  # answers in flight: (buffer, request)
        _live.append(self)

    def enter(self, name: str) -> int:
        """Start the group's next collective: number it and set its deadline."""
        self.seq += 1
        self.name = name
        self.deadline = time.monotonic() + self.timeout
        return self.seq

    def wait(self, requests: list) -> None:
        """Poll `requests` until all complete; past the deadline, report the stall and abort."""
        testall = self._testall
        if testall(requests):
            return
        start = time.monotonic()
        background = getattr(_thread, "background", False)
        while not testall(requests):
            now = time.monotonic()
            if now > self.deadline:
                self.stalled()
            waited = now - start
            if waited > _YIELD_S:
                answer_queries()
            if background:
                time.sleep(_BACKGROUND_SLEEP_S)
            elif waited < _spin_s:
                continue
            elif waited < _YIELD_S:
                os.sched_yield()
            else:
                time.sleep(min(_MAX_SLEEP_S, 0.05 * waited))

    def _answer(self) -> None:
        """Answer queries that arrived on this group: (sequence number, collective)."""
        self._replies = [(b, r) for b, r in self._replies if not r.Test()]
        status = self._mpi.Status()
        while (message := self.comm.Improbe(tag=_QUERY_TAG, status=status)) is not None:
            message.Recv(np.empty(1, np.int64))
            name = NAMES.index(self.name) if self.name in NAMES else -1
            reply = np.array([self.seq, name], np.int64)
            self._replies.append((reply, self.comm.Isend(reply, dest=status.Get_source(),
                                                         tag=_ANSWER_TAG)))

    def ask_peers(self) -> dict[int, tuple[int, str] | None]:
        """Ask every other rank which collective it is in; None for ranks that do not answer."""
        peers = [p for p in range(self.size) if p != self.rank]
        query = np.array([self.seq], np.int64)
        replies = {p: np.empty(2, np.int64) for p in peers}
        sends = [self.comm.Isend(query, dest=p, tag=_QUERY_TAG) for p in peers]
        receives = {p: self.comm.Irecv(replies[p], source=p, tag=_ANSWER_TAG) for p in peers}
        answered = set()
        until = time.monotonic() + _GRACE_S
        while len(answered) < len(peers) and time.monotonic() < until:
            answer_queries()  # the others may be asking us at the same time
            answered |= {p for p, request in receives.items()
                         if p not in answered and request.Test()}
            time.sleep(1e-3)
        del sends  # we abort next; nothing waits for them
        return {p: (int(replies[p][0]), NAMES[replies[p][1]] if replies[p][1] >= 0 else "?")
                if p in answered else None for p in peers}

    def stalled(self) -> None:
        """Print which ranks did not join the current collective, then abort the job."""
        from minigrad.distributed.launch import abort_job

        abort_job(stall_message(self.name, self.seq, self.size, self.timeout, self.ask_peers(),
                                self.world_ranks))

    def close(self) -> None:
        """Stop answering for this group and release its communicator."""
        with _answering:
            _live.remove(self)
        for _, request in self._replies:
            request.Free()
        self._replies = []
        self.comm.Free()
