"""How the distributed benchmarks (`bench allreduce`, `bench ddp`) get their MPI worlds.

Two ways to run them, and each command decides which by looking at its environment:

- under a launcher, `mpirun -n 4 minigrad bench allreduce`: every rank runs the command, the
  world is the one the launcher made, and rank 0 prints and writes the results. A launcher
  announces itself with environment variables (`MPI_LAUNCH_VARIABLES`) before MPI starts,
  so the check needs no MPI call.
- on its own, `minigrad bench allreduce --procs 2,4`: the command starts one
  `mpiexec -n P python -m minigrad.cli.<bench> --worker JOB` per world size, the way
  `bench kernels` starts one process per configuration, with one thread per rank (every
  library's thread variable set to 1 before anything loads), reads the JSON line that rank
  0 prints last, and merges the worlds' results. This process never initialises MPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from minigrad.cli.errors import CommandError
from minigrad.cli.machine import THREAD_VARIABLES

# set by MPICH's and Intel MPI's hydra and srun --mpi=pmi2 (PMI_SIZE), by PMIx launchers
# (srun --mpi=pmix, Open MPI 5) and by Open MPI's mpirun
MPI_LAUNCH_VARIABLES = ("PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")


def launched_by_mpi() -> bool:
    """Whether this process is one rank of a job started by mpirun, mpiexec or srun."""
    return any(name in os.environ for name in MPI_LAUNCH_VARIABLES)


def check_world_size(size: int) -> None:
    """Raise a CommandError when the launcher started more processes than MPI's world holds.

    The sign of a launcher from one MPI library (say the pip wheel's mpiexec) starting
    programs linked to another (a site's MPI): each process then sees a world of 1 and
    would write the same results.
    """
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        launched = os.environ.get(name)
        if launched and launched.isdigit() and int(launched) != size:
            raise CommandError(f"the launcher started {launched} processes ({name}) but MPI's "
                               f"world has {size}: mpi4py uses another MPI library than the "
                               "launcher's; see docs/guides/cluster.md")


def mpiexec_path() -> str:
    """The `mpiexec` next to this Python (the pip `mpich` wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise CommandError("no mpiexec found next to the Python interpreter or on PATH; "
                           "install MPI with `pip install mpi4py mpich`")
    return found


def thread_warning() -> str | None:
    """Under a launcher: a warning naming the thread variables that are not 1, or None.

    Each rank should use one core; the launcher's environment decides, because NumPy's BLAS
    reads its variable when it loads, before any command runs.
    """
    loose = [name for name in THREAD_VARIABLES if os.environ.get(name) != "1"]
    if not loose:
        return None
    return ("warning: " + ", ".join(loose) + " not set to 1: ranks may compete for cores; "
            "run e.g. `mpiexec -n 2 env " + " ".join(f"{n}=1" for n in THREAD_VARIABLES)
            + " minigrad bench ...`")


def measure_launched_world(procs_arg: str | None, measure: Callable[[], dict]
                           ) -> list[dict] | None:
    """Under a launcher: measure this world with `measure()` on every rank.

    Returns `[world]` on rank 0 (which reports), None on the other ranks (which stop).

    Raises:
        CommandError: `--procs` was given (the launcher decides the world), or mpi4py
            uses another MPI library than the launcher's.
    """
    if procs_arg is not None:
        raise CommandError("--procs starts mpiexec itself; under mpirun/mpiexec the world "
                           "is the launcher's: leave --procs out")
    from mpi4py import MPI

    check_world_size(MPI.COMM_WORLD.Get_size())
    warning = thread_warning()
    world = measure()
    if MPI.COMM_WORLD.Get_rank() != 0:
        return None
    if warning:
        print(warning, file=sys.stderr)
    return [world]


def print_world_on_rank_0(world: dict) -> None:
    """A `--worker`'s output: rank 0 prints its world's results as one JSON line, last."""
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() == 0:
        print(json.dumps(world), flush=True)


def run_worlds(module: str, job: dict, procs: list[int], timeout: float | None = None
               ) -> list[dict]:
    """Run `python -m <module> --worker JOB` under `mpiexec -n P` for each P in `procs`.

    Args:
        module: the benchmark module, e.g. "minigrad.cli.bench_allreduce"; its worker
            prints one JSON line from rank 0, last.
        job: the settings, passed to every world as JSON.
        procs: world sizes, each at least 1.
        timeout: seconds per world (None: no limit).

    Returns:
        the worlds' JSON results, in the order of `procs`. Their stderr (progress lines)
        goes straight to this process's stderr.
    """
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    results = []
    for p in procs:
        if p < 1:
            raise CommandError(f"--procs: world sizes must be at least 1, got {p}")
        command = [mpiexec_path(), "-n", str(p), sys.executable, "-m", module, "--worker",
                   json.dumps(job)]
        try:
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise CommandError(f"{module}: the world of {p} ranks did not finish within "
                               f"{timeout} s") from error
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise CommandError(f"{module}: the world of {p} ranks failed (exit "
                               f"{done.returncode}; its error is printed above); stdout "
                               f"ended with: {done.stdout[-2000:]!r}")
        results.append(json.loads(lines[-1]))
    return results


def source_commit() -> dict:
    """The git commit minigrad was loaded from, and whether its tree had local changes.

    Returns:
        {"commit": sha or None, "dirty": bool or None}; None where minigrad is not a git
        checkout (an installed wheel) or git is missing.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True,
                                timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def mpi_info() -> dict:
    """The MPI library (first line of its version string), mpi4py's version, thread level."""
    import mpi4py
    from mpi4py import MPI

    levels = {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
              MPI.THREAD_SERIALIZED: "serialized", MPI.THREAD_MULTIPLE: "multiple"}
    return {"library": MPI.Get_library_version().strip().splitlines()[0],
            "mpi4py": mpi4py.__version__, "thread_level": levels.get(MPI.Query_thread())}
