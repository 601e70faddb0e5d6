"""The measurement of `minigrad bench ddp` inside one MPI world (every rank runs it).

For each model (a `minigrad train` recipe) and mode, every rank builds the same model from
seed 0, takes AdamW at the recipe's settings and runs the same training step as
`bench train`:

    loss = recipe.loss(model, my_shard); optimizer.zero_grad(); loss.backward(); optimizer.step()

on its shard of a global batch of `batch_size` samples: rank r takes samples
[r B/P, (r+1) B/P) of each batch, so the step's global batch, and the work of the whole
world per step, do not depend on P. Modes:

- `single`: the plain model, no DDP, the whole global batch, on rank 0 alone (the other
  ranks, if any, wait): throughput(1), the baseline of the scaling efficiency;
- `ddp`: `DistributedDataParallel(model)`, each bucket's all-reduce overlapping backward;
- `ddp_no_overlap`: the same with `overlap=False`: every all-reduce after backward.

Timing: `warmup` untimed steps, then `repeat` times `steps` steps between barriers; a run's
time is the slowest rank's; we keep the best run. Next to the wall-clock time, the CPU time
of each rank's process (all its threads, `time.process_time`; the slowest rank's, best run):
on a machine where other work takes cores, the wall-clock time of P ranks grows but their
CPU time does not, so the CPU times show what the ranks would take on cores of their own.
Throughput = global samples (mlp, cnn) or tokens (gpt) per step x steps / time. After a DDP run every rank checks that its parameters
equal rank 0's bit for bit: replicas that drifted apart would make the number meaningless.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from minigrad.cli.bench_allreduce_jobs import mpi_info

MODES_SINGLE, MODES_DDP = ("single",), ("ddp", "ddp_no_overlap")


def global_batches(recipe, batch_size: int, count: int) -> list[list[np.ndarray]]:
    """`count` training batches of `batch_size` samples, the same on every rank (seed 1234)."""
    import minigrad as mg
    from minigrad.cli.recipes import Hyper

    hyper = Hyper(**{**recipe.defaults.to_dict(), "batch_size": batch_size})
    mg.manual_seed(1234)
    batches = []
    while len(batches) < count:
        for batch in recipe.train_loader(hyper):
            if batch[0].shape[0] == batch_size:   # a short last batch would unbalance ranks
                batches.append([t.numpy() for t in batch])
            if len(batches) == count:
                break
    return batches


def _check_replicas(model, comm) -> None:
    """Raise unless every rank's parameters are bit-identical to rank 0's."""
    from mpi4py import MPI

    mine = np.concatenate([p.data.ravel().view(np.uint8) for p in model.parameters()])
    theirs = mine.copy()
    comm.Bcast(theirs, root=0)
    differs = np.array([0 if np.array_equal(mine, theirs) else 1], dtype=np.int64)
    comm.Allreduce(MPI.IN_PLACE, differs)
    if differs[0]:
        raise RuntimeError(f"bench ddp: after training, the parameters of {differs[0]} "
                           f"rank(s) differ from rank 0's; DDP did not keep replicas equal")


def _run_mode(recipe, mode: str, batches, steps: int, repeat: int, warmup: int, comm) -> dict:
    """Time one (model, mode) in this world; returns the slowest rank's best run."""
    from mpi4py import MPI

    import minigrad as mg
    from minigrad.cli.train import make_optimizer

    rank, procs = comm.Get_rank(), comm.Get_size()
    active = mode != "single" or rank == 0
    shard = slice(None) if mode == "single" else None
    times, cpu_times = np.zeros(repeat), np.zeros(repeat)
    if active:
        mg.manual_seed(0)
        model = recipe.build_model()
        model.train()
        if mode != "single":
            from minigrad.nn.parallel import DistributedDataParallel
            model = DistributedDataParallel(model, overlap=(mode == "ddp"))
            per_rank = batches[0][0].shape[0] // procs
            shard = slice(rank * per_rank, (rank + 1) * per_rank)
        hyper = recipe.defaults
        optimizer = make_optimizer("adamw", model.parameters(), hyper.lr, hyper.weight_decay)

        def step(arrays):
            loss = recipe.loss(model, [mg.from_numpy(np.ascontiguousarray(a[shard]))
                                       for a in arrays])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        for arrays in batches[:warmup]:
            step(arrays)
    for i in range(repeat):
        comm.Barrier()
        if active:
            start, cpu_start = time.perf_counter(), time.process_time()
            for arrays in batches[warmup:warmup + steps]:
                step(arrays)
            times[i] = time.perf_counter() - start
            cpu_times[i] = time.process_time() - cpu_start
    comm.Allreduce(MPI.IN_PLACE, times, op=MPI.MAX)
    comm.Allreduce(MPI.IN_PLACE, cpu_times, op=MPI.MAX)
    if mode != "single":
        _check_replicas(model, comm)
    best, median = float(times.min()), float(statistics.median(times))
    items = recipe.items_in([mg.from_numpy(a) for a in batches[0]])
    return {"procs": procs, "model": recipe.name, "mode": mode,
            "global_batch": int(batches[0][0].shape[0]),
            "per_rank_batch": int(batches[0][0].shape[0]) // (1 if mode == "single" else procs),
            "unit": recipe.unit, "items_per_step": items, "steps": steps, "repeat": repeat,
            "ms_per_step": best / steps * 1e3, "ms_per_step_median": median / steps * 1e3,
            "cpu_ms_per_step": float(cpu_times.min()) / steps * 1e3,
            "throughput": items * steps / best}


def measure_world(models: list[str], steps: dict[str, int], repeat: int, warmup: int,
                  batch_size: int | None, baseline: bool) -> dict:
    """Time every (model, mode) in this MPI world.

    Collective: every rank of COMM_WORLD calls it; all get the same result.

    Args:
        models: recipe names ("mlp", "cnn", "gpt").
        steps: timed steps per run, by model.
        repeat: timed runs per (model, mode); the best is kept.
        warmup: untimed steps before them.
        batch_size: the global batch (None: the recipe's); must divide by the world size.
        baseline: also measure `single` in a world of several ranks (rank 0 alone); a world
            of one rank measures only `single`.

    Returns:
        {"procs", "rows": [{"procs", "model", "mode", "global_batch", "per_rank_batch",
        "unit", "items_per_step", "steps", "repeat", "ms_per_step", "ms_per_step_median",
        "cpu_ms_per_step", "throughput"}], "mpi": `mpi_info()`}
    """
    from mpi4py import MPI

    import minigrad.distributed as dist
    from minigrad.cli.recipes import get_recipe

    if not dist.is_initialized():
        dist.init_process_group()
    comm = MPI.COMM_WORLD.Dup()
    procs = comm.Get_size()
    modes = MODES_SINGLE if procs == 1 else (MODES_SINGLE if baseline else ()) + MODES_DDP
    rows = []
    for name in models:
        recipe = get_recipe(name)
        recipe.load_data()
        global_batch = batch_size or recipe.defaults.batch_size
        if global_batch % procs:
            raise ValueError(f"bench ddp: the global batch {global_batch} of {name} does not "
                             f"split evenly over {procs} ranks; pass --batch-size a multiple "
                             f"of {procs}")
        batches = global_batches(recipe, global_batch, warmup + steps[name])
        for mode in modes:
            row = _run_mode(recipe, mode, batches, steps[name], repeat, warmup, comm)
            rows.append(row)
            if comm.Get_rank() == 0:
                print(f"  P={procs} {name} {mode:<15} {row['ms_per_step']:8.2f} ms/step  "
                      f"{row['throughput']:10.1f} {row['unit']}/s", file=sys.stderr,
                      flush=True)
    comm.Free()
    return {"procs": procs, "rows": rows, "mpi": mpi_info()}
