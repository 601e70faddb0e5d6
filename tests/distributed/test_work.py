"""`Work` and the per-group worker thread, without MPI."""

import threading
import time

import pytest

from minigrad.distributed.work import GroupWorker, Work


def test_worker_runs_work_in_issue_order_and_drain_waits_for_all():
    order = []
    worker = GroupWorker("test")
    works = [worker.submit(Work("job", lambda i=i: (time.sleep(0.002 * (3 - i)),
                                                    order.append(i)))) for i in range(4)]
    worker.drain()
    assert order == [0, 1, 2, 3]
    assert all(w.is_completed() and w.is_success() and w.wait() for w in works)
    worker.stop()


def test_wait_reraises_the_error_and_the_worker_goes_on():
    worker = GroupWorker("test")

    def fail():
        raise KeyError("bucket 3")

    bad = worker.submit(Work("all_reduce", fail))
    good = worker.submit(Work("all_reduce", lambda: None))
    with pytest.raises(KeyError, match="bucket 3"):
        bad.wait()
    assert isinstance(bad.exception(), KeyError) and not bad.is_success()
    assert good.wait()
    worker.stop()


def test_wait_with_a_timeout_raises_timeout_error_naming_the_collective():
    release = threading.Event()
    worker = GroupWorker("test")
    work = worker.submit(Work("broadcast", release.wait))
    with pytest.raises(TimeoutError, match="broadcast did not finish within 0.01 s"):
        work.wait(timeout=0.01)
    assert not work.is_completed()
    release.set()
    assert work.wait()
    worker.stop()


def test_stop_runs_what_is_queued_and_ends_the_daemon_thread():
    done = []
    worker = GroupWorker("test")
    worker.submit(Work("job", lambda: (time.sleep(0.01), done.append(1))))
    thread = worker._thread
    assert thread.daemon
    worker.stop()
    assert done == [1] and not thread.is_alive()


def test_wait_takes_a_timedelta_as_pytorch_does():
    import datetime

    release = threading.Event()
    worker = GroupWorker("test")
    work = worker.submit(Work("all_reduce", release.wait))
    with pytest.raises(TimeoutError, match="all_reduce did not finish within 0.01 s"):
        work.wait(timeout=datetime.timedelta(milliseconds=10))
    release.set()
    assert work.wait(timeout=datetime.timedelta(seconds=5))
    worker.stop()
