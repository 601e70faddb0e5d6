"""`Work`, the handle of an asynchronous collective, and the worker thread that runs them.

Each process group owns one `GroupWorker`: a daemon thread with a FIFO queue. A collective
called with `async_op=True` is validated on the calling thread, queued, and returned as a
`Work`; the thread runs the queued collectives one after another, in the order they were
issued, on the group's private communicator, so every rank runs them in the same order (MPI
requires collectives on one communicator to be called in the same order everywhere). A
synchronous collective first waits until the queue is empty and then runs on the caller's
thread, so it too keeps the issue order.

The thread is a daemon, and `destroy_process_group` (or the interpreter's exit, through
`atexit`) lets it finish what is queued and joins it, so it never keeps a process alive.
"""

from __future__ import annotations

import datetime
import queue
import threading
from collections.abc import Callable

from minigrad.distributed.watchdog import mark_background_thread

_STOP = object()


class Work:
    """The handle of one asynchronous collective (torch.distributed's `Work`).

    Attributes:
        name: the collective, e.g. "all_reduce".
    """

    def __init__(self, name: str, run: Callable[[], None]) -> None:
        self.name = name
        self._run = run
        self._done = threading.Event()
        self._exception: BaseException | None = None

    def _execute(self) -> None:
        try:
            self._run()
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits; the thread goes on
            self._exception = error
        finally:
            self._run = None
            self._done.set()

    def is_completed(self) -> bool:
        """Whether the collective has finished (successfully or not); never blocks."""
        return self._done.is_set()

    def is_success(self) -> bool:
        """Whether the collective has finished without an error."""
        return self._done.is_set() and self._exception is None

    def exception(self) -> BaseException | None:
        """The error the collective raised, or None (also None while it still runs)."""
        return self._exception

    def wait(self, timeout: float | datetime.timedelta | None = None) -> bool:
        """Block until the collective has finished; return True.

        Args:
            timeout: seconds, or a `datetime.timedelta` as PyTorch takes, to wait at most
                (None: until done; the group's own deadline aborts a stalled collective
                anyway).

        Raises:
            TimeoutError: `timeout` passed first.
            BaseException: whatever the collective raised, re-raised here.
        """
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        if not self._done.wait(timeout):
            raise TimeoutError(f"Work.wait: {self.name} did not finish within {timeout} s")
        if self._exception is not None:
            raise self._exception
        return True


class GroupWorker:
    """One process group's queue of asynchronous collectives and the thread that runs them."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._last: Work | None = None

    def submit(self, work: Work) -> Work:
        """Queue `work` behind everything issued before it; start the thread on first use."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()
        self._last = work
        self._queue.put(work)
        return work

    def drain(self) -> None:
        """Wait until every queued collective has run (their errors stay with their `Work`)."""
        last = self._last
        if last is not None:
            last._done.wait()
            self._last = None

    def _loop(self) -> None:
        mark_background_thread()
        while (work := self._queue.get()) is not _STOP:
            work._execute()

    def stop(self) -> None:
        """Run what is queued, then end the thread and join it."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._last = None
