"""One thread for small calls: starting a parallel region costs more than it saves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba


@contextlib.contextmanager
def serial_below(work: int, threshold: int) -> Iterator[None]:
    """Run the block on one Numba thread when `work` is below `threshold`.

    Each kernel family passes its own measure of work (multiply-adds, elements) and its own
    threshold, chosen where its parallel version starts to win next to OpenBLAS's threads.
    """
    if work >= threshold:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
