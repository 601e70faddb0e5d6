"""End the whole MPI job when any rank raises: the excepthook `init_process_group` installs.

Without it, an exception on one rank ends that process, while its peers wait in their next
collective for a message that never comes. With it, an uncaught exception on rank R (in the
main thread or any other thread) prints

    minigrad.distributed: rank R of P failed:
    Traceback (most recent call last): ...

to stderr, flushes stdout and stderr, waits 0.3 s for mpiexec to forward the message, and
calls `MPI.COMM_WORLD.Abort(1)`: mpiexec then ends every rank and exits non-zero, within a
second or so.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

# mpiexec forwards each rank's output through a pipe; when one rank aborts it kills the
# others and stops reading, so give it this long to forward the last message first
_FORWARD_S = 0.3

_saved: tuple | None = None


def abort_job(message: str) -> None:
    """Write `message` to stderr in one piece, let mpiexec forward it, abort every rank."""
    from mpi4py import MPI

    sys.stdout.flush()
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()
    time.sleep(_FORWARD_S)
    MPI.COMM_WORLD.Abort(1)


def report_and_abort(rank: int, size: int, exc_type, exc, tb) -> None:
    """Print `rank R of P failed:` and the traceback to stderr, then abort the MPI job."""
    abort_job(f"minigrad.distributed: rank {rank} of {size} failed:\n"
              + "".join(traceback.format_exception(exc_type, exc, tb)))


def install_excepthook(rank: int, size: int) -> None:
    """Route uncaught exceptions of every thread to `report_and_abort` (idempotent)."""
    global _saved
    if _saved is None:
        _saved = (sys.excepthook, threading.excepthook)
    sys.excepthook = lambda exc_type, exc, tb: report_and_abort(rank, size, exc_type, exc, tb)
    threading.excepthook = lambda args: report_and_abort(
        rank, size, args.exc_type, args.exc_value, args.exc_traceback)


def uninstall_excepthook() -> None:
    """Restore the hooks that were in place before `install_excepthook`."""
    global _saved
    if _saved is not None:
        sys.excepthook, threading.excepthook = _saved
        _saved = None
