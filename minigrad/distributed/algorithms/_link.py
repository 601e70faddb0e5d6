"""`Link`: the point-to-point messages of one collective, every wait against its deadline.

The algorithms see the network only through this class: `sendrecv`, `send` and `recv` on
contiguous NumPy buffers, with MPI's buffer interface (`Isend`/`Irecv`, no pickling). Each
call posts non-blocking requests and hands them to `wait`, which polls them against the
collective's deadline (see `minigrad.distributed.watchdog`), so no rank ever blocks forever
inside MPI.

Zero-length buffers are neither sent nor received: both ends compute the same chunk
boundaries, so they skip the same messages and still pair up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# All our messages on a group's private communicator use one tag: MPI keeps messages between
# two ranks on one communicator in order, and a group runs one collective at a time.
TAG = 11


class Link:
    """A rank's view of one collective: its rank, the group size, and polled messages.

    Args:
        comm: the group's private mpi4py intracommunicator.
        wait: polls a list of MPI requests until all complete (or the deadline passes).
    """

    def __init__(self, comm, wait: Callable[[list], None]) -> None:
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.wait = wait

    def sendrecv(self, send: np.ndarray, dest: int, recv: np.ndarray, source: int) -> None:
        """Send `send` to `dest` while receiving `recv` from `source`; return when both are done."""
        requests = []
        if recv.size:
            requests.append(self.comm.Irecv(recv, source=source, tag=TAG))
        if send.size:
            requests.append(self.comm.Isend(send, dest=dest, tag=TAG))
        if requests:
            self.wait(requests)

    def send(self, send: np.ndarray, dest: int) -> None:
        """Send `send` to `dest` and wait until its buffer may be reused."""
        if send.size:
            self.wait([self.comm.Isend(send, dest=dest, tag=TAG)])

    def recv(self, recv: np.ndarray, source: int) -> None:
        """Receive from `source` into `recv` (its size must match the message)."""
        if recv.size:
            self.wait([self.comm.Irecv(recv, source=source, tag=TAG)])
