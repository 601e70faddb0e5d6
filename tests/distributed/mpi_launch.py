"""`run_mpi`: launch a worker script under mpiexec from a test, never hanging the test run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WORKERS = Path(__file__).parent / "workers"

# one thread per rank: the ranks share the machine's cores
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1"}


def mpiexec() -> str:
    """The mpiexec next to this Python (the `mpich` wheel's), else the first on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec: `pip install mpich` provides one")
    return found


def run_mpi(nprocs: int, script: str | Path, *args: str, timeout: float = 60,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `mpiexec -n nprocs python script *args` and return it (stdout, stderr as text).

    Args:
        nprocs: the number of ranks.
        script: a path, or a file name under tests/distributed/workers/.
        args: command-line arguments for the script.
        timeout: seconds; past them the job is killed and the test fails with both outputs.
        env: extra environment variables (on top of os.environ and one thread per rank).

    Returns:
        The finished process; the caller checks `returncode`, `stdout`, `stderr`.
    """
    path = Path(script)
    if not path.is_absolute() and not path.exists():
        path = WORKERS / path
    full_env = {**os.environ, **_ONE_THREAD, **(env or {})}
    command = [mpiexec(), "-n", str(nprocs), sys.executable, str(path), *map(str, args)]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=full_env, check=False)
    except subprocess.TimeoutExpired as error:
        def text(data) -> str:
            return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")

        pytest.fail(f"{' '.join(command)} did not finish within {timeout} s\n"
                    f"--- stdout ---\n{text(error.stdout)}\n--- stderr ---\n{text(error.stderr)}")


def run_python(script: str | Path, *args: str, timeout: float = 60,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a worker script as one plain process, without mpiexec (a world of one)."""
    path = Path(script)
    if not path.is_absolute() and not path.exists():
        path = WORKERS / path
    full_env = {**os.environ, **_ONE_THREAD, **(env or {})}
    command = [sys.executable, str(path), *map(str, args)]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=full_env, check=False)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} did not finish within {timeout} s\n"
                    f"--- stdout ---\n{error.stdout}\n--- stderr ---\n{error.stderr}")


@contextmanager
def world_of_one() -> Iterator[None]:
    """A default process group of this process alone (no mpiexec), unless one exists; it is
    destroyed afterwards only if it was created here."""
    import minigrad.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group()
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()

