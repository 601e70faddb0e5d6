"""Process groups over MPI: `init_process_group`, `new_group`, ranks, `barrier`, teardown.

A `ProcessGroup` wraps an MPI intracommunicator that belongs to minigrad alone (a `Dup` of
`COMM_WORLD`, or a `Split` of it for a sub-group), so the user's own MPI messages on
`COMM_WORLD` can never match ours. Each group has its own watchdog (sequence numbers,
deadlines, stall queries on a second private communicator) and its own worker thread for
asynchronous collectives.

`init_process_group()` works under `mpiexec -n P` / `mpirun -n P` (the group is
`COMM_WORLD`) and in a plain `python` process, which MPI starts as a world of one.
"""

from __future__ import annotations

import atexit
import datetime
import importlib.util
import os
import time
import warnings
from collections.abc import Callable, Iterable

from minigrad.distributed import launch
from minigrad.distributed.algorithms._link import Link
from minigrad.distributed.watchdog import Watchdog, configure_polling
from minigrad.distributed.work import GroupWorker, Work

DEFAULT_TIMEOUT_S = 300.0


class ProcessGroup:
    """A set of ranks that run collectives together, over a private MPI communicator.

    Attributes:
        comm: the mpi4py intracommunicator the collectives use (private to minigrad).
        ranks: the members' world ranks, in group-rank order (sorted).
        timeout: seconds a collective may take before the watchdog aborts the job.
    """

    def __init__(self, comm, ranks: list[int], timeout: float) -> None:
        self.comm = comm
        self.ranks = list(ranks)
        self.timeout = timeout
        self._watchdog = Watchdog(comm.Dup(), timeout, self.ranks)
        self._link = Link(comm, self._watchdog.wait)
        self._worker = GroupWorker(f"minigrad.distributed worker, group {self.ranks}")

    def rank(self) -> int:
        """This process's rank in the group (0 .. size - 1)."""
        return self._link.rank

    def size(self) -> int:
        """The number of processes in the group."""
        return self._link.size

    def __repr__(self) -> str:
        return f"ProcessGroup(rank={self.rank()}, size={self.size()}, ranks={self.ranks})"

    def submit(self, name: str, run: Callable[[Link], None], async_op: bool) -> Work | None:
        """Run collective `name` (`run(link)` does the messages) in issue order.

        Asynchronous: queue it on the group's worker thread and return its `Work`.
        Synchronous: wait for the queue to drain, run it on this thread, return None.
        """
        if async_op:
            return self._worker.submit(Work(name, lambda: self._execute(name, run)))
        self._worker.drain()
        self._execute(name, run)
        return None

    def _execute(self, name: str, run: Callable[[Link], None]) -> None:
        self._watchdog.enter(name)
        run(self._link)

    def _close(self) -> None:
        self._worker.stop()
        self._watchdog.close()
        self.comm.Free()


class _NonGroupMember:
    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """`NON_GROUP_MEMBER`: what `new_group` returns on ranks outside the new group (PyTorch's)."""

    NON_GROUP_MEMBER = _NonGroupMember()


_world: ProcessGroup | None = None
_groups: list[ProcessGroup] = []
_atexit_registered = False


def is_available() -> bool:
    """Whether minigrad.distributed can run: mpi4py is installed (checked without starting MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Whether the MPI backend is available (the only backend; same as `is_available`)."""
    return is_available()


def is_initialized() -> bool:
    """Whether `init_process_group` has been called (and not undone by `destroy_process_group`)."""
    return _world is not None


def _timeout_seconds(timeout: float | datetime.timedelta | None, where: str) -> float:
    if timeout is None:
        text = os.environ.get("MINIGRAD_DIST_TIMEOUT")
        if text is None:
            return DEFAULT_TIMEOUT_S
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(f"{where}: MINIGRAD_DIST_TIMEOUT must be a number of seconds, "
                             f"got {text!r}") from None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"{where}: timeout must be a positive number of seconds or a "
                         f"datetime.timedelta, got {timeout!r}")
    return float(timeout)


def _wait_for_everyone(comm, seconds: float, where: str) -> None:
    """A barrier polled against a deadline: the blocking collective calls after it cannot hang."""
    request = comm.Ibarrier()
    deadline = time.monotonic() + seconds
    while not request.Test():
        if time.monotonic() > deadline:
            launch.abort_job(f"minigrad.distributed: {where} timed out after {seconds:g} s: "
                             f"not every rank of {comm.Get_size()} called it")
        time.sleep(1e-4)


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: float | datetime.timedelta | None = None,
                       world_size: int = -1, rank: int = -1, store=None,
                       group_name: str = "") -> None:
    """Create the default process group: every process that `mpiexec` started.

    Collective over all processes (each must call it). Installs the excepthook of
    `minigrad.distributed.launch` when there is more than one process, so an exception on
    any rank ends the whole job.

    Args:
        backend: "mpi" (the only backend; None means "mpi").
        init_method: PyTorch's rendezvous address; accepted so that PyTorch code runs, and
            ignored: MPI's launcher has already connected the ranks.
        world_size: -1, or MPI's own world size (checked: mpiexec, not the caller, decides
            it).
        rank: -1, or MPI's own rank for this process (checked likewise).
        store: PyTorch's key-value store; accepted and ignored, like `init_method`.
        group_name: accepted and ignored (PyTorch deprecated it).
        timeout: seconds (or a `datetime.timedelta`) a collective may take before the
            watchdog reports which ranks did not join and aborts the job. None:
            `MINIGRAD_DIST_TIMEOUT`, else 300 s.

    Raises:
        RuntimeError: called twice, or mpi4py is not installed.
        ValueError: an unknown backend or a non-positive timeout.
    """
    global _world, _atexit_registered
    if _world is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialized; call destroy_process_group() before initializing again")
    if backend not in (None, "mpi"):
        raise ValueError(f"init_process_group: backend {backend!r} is not available; "
                         "minigrad.distributed has one backend, 'mpi'")
    seconds = _timeout_seconds(timeout, "init_process_group")
    if not is_available():
        raise RuntimeError("init_process_group: mpi4py is not installed; "
                           "`pip install mpi4py mpich` brings MPI and mpiexec")
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, world.Get_size()),
                                ("rank", rank, world.Get_rank())):
        if given != -1 and given != actual:
            raise ValueError(f"init_process_group: {name}={given} but the MPI launcher "
                             f"started this process with {name} {actual}; leave it out "
                             f"(mpiexec -n decides it)")
    if world.Get_size() > 1 and MPI.Query_thread() < MPI.THREAD_MULTIPLE:
        # asynchronous collectives run on a worker thread while the main thread may call MPI
        raise RuntimeError("init_process_group: this MPI library was initialised without "
                           "MPI_THREAD_MULTIPLE (thread level "
                           f"{MPI.Query_thread()}); minigrad.distributed runs collectives on "
                           "worker threads. With Cray MPICH set MPICH_MAX_THREAD_SAFETY="
                           "multiple; do not lower mpi4py.rc.thread_level")
    _wait_for_everyone(world, seconds, "init_process_group")
    node = world.Split_type(MPI.COMM_TYPE_SHARED)
    configure_polling(node.Get_size(), len(os.sched_getaffinity(0)))
    node.Free()
    _world = ProcessGroup(world.Dup(), list(range(world.Get_size())), seconds)
    _groups.append(_world)
    if world.Get_size() > 1:
        launch.install_excepthook(world.Get_rank(), world.Get_size())
    if not _atexit_registered:
        # registered after mpi4py's own atexit hook, so it runs first, before MPI_Finalize
        atexit.register(destroy_process_group)
        _atexit_registered = True


def _default_group(where: str) -> ProcessGroup:
    if _world is None:
        raise RuntimeError(f"{where}: the default process group has not been initialized; "
                           "call minigrad.distributed.init_process_group() first")
    return _world


def resolve_group(group, where: str) -> ProcessGroup | None:
    """The `ProcessGroup` a call means (None: the default group); None for a non-member.

    On a rank outside `group` PyTorch's collectives warn and do nothing; so do ours.
    """
    if group is None:
        return _default_group(where)
    if group is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"{where}: this rank is not a member of the group; nothing to do",
                      stacklevel=3)
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{where}: group must be a ProcessGroup or None, "
                        f"got {type(group).__name__}")
    _default_group(where)
    if group not in _groups:
        raise RuntimeError(f"{where}: {group!r} has been destroyed")
    return group


def new_group(ranks: Iterable[int] | None = None,
              timeout: float | datetime.timedelta | None = None,
              backend: str | None = None) -> ProcessGroup | _NonGroupMember:
    """Create a process group of the world ranks `ranks` (None: all of them).

    Collective over the whole world, like PyTorch's: every rank calls it with the same
    `ranks`, members and non-members alike. Members get a `ProcessGroup` whose group ranks
    follow the sorted world ranks; other ranks get `GroupMember.NON_GROUP_MEMBER`. It runs
    as a collective of the default group (a polled barrier, then `MPI_Comm_split`).

    Args:
        ranks: world ranks of the members, each once.
        timeout: the new group's collective timeout (None: the default group's).
        backend: "mpi" or None.

    Raises:
        ValueError: a rank out of range or repeated, or an unknown backend.
    """
    world = _default_group("new_group")
    if backend not in (None, "mpi"):
        raise ValueError(f"new_group: backend {backend!r} is not available; only 'mpi'")
    size = world.size()
    members = list(range(size)) if ranks is None else [int(r) for r in ranks]
    bad = [r for r in members if not 0 <= r < size]
    if bad:
        raise ValueError(f"new_group: ranks {bad} are out of range for a world of {size}")
    if len(set(members)) != len(members):
        raise ValueError(f"new_group: ranks {members} name a rank more than once")
    members = sorted(members)
    seconds = world.timeout if timeout is None else _timeout_seconds(timeout, "new_group")
    me = world.rank()
    made = {}

    def split(link: Link) -> None:
        from mpi4py import MPI

        link.wait([link.comm.Ibarrier()])
        made["comm"] = link.comm.Split(0 if me in members else MPI.UNDEFINED, key=me)

    world.submit("new_group", split, async_op=False)
    if me not in members:
        return GroupMember.NON_GROUP_MEMBER
    group = ProcessGroup(made["comm"], members, seconds)
    _groups.append(group)
    return group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in `group` (None: the world); -1 if it is not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve_group(group, "get_rank").rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in `group` (None: the world); -1 if this rank is not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return resolve_group(group, "get_world_size").size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend of `group`: always "mpi"."""
    if group is not GroupMember.NON_GROUP_MEMBER:
        resolve_group(group, "get_backend")
    return "mpi"


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: list[int] | None = None) -> Work | None:
    """Wait until every rank of `group` has reached the barrier (`MPI_Ibarrier`, polled).

    Cost: MPI's dissemination barrier, ceil(log2 P) rounds of empty messages.

    Args:
        group: the group (None: the world).
        async_op: return a `Work` instead of waiting.
        device_ids: accepted for PyTorch compatibility; ignored (no devices here).
    """
    pg = resolve_group(group, "barrier")
    if pg is None:
        return None
    return pg.submit("barrier", lambda link: link.wait([link.comm.Ibarrier()]), async_op)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Tear down `group`, or with None every group and the default one.

    Queued asynchronous collectives run first; then the worker thread ends and the
    communicators are freed. With None the excepthook is removed and `init_process_group`
    may be called again. Does nothing if nothing is initialized.
    """
    global _world
    if group is None:
        for pg in reversed(_groups):
            pg._close()
        _groups.clear()
        _world = None
        launch.uninstall_excepthook()
        return
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    if group not in _groups:
        raise RuntimeError(f"destroy_process_group: {group!r} is not a live process group")
    if group is _world:
        destroy_process_group()
        return
    group._close()
    _groups.remove(group)
