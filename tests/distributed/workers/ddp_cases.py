"""Run under `mpiexec -n N`: DistributedDataParallel against one process with the whole batch.

Every rank builds the same data set. A DDP run trains for STEPS steps with each rank on its
1/N of every batch; a reference run, in each rank alone, trains a plain copy of the model on
the whole batch. Rank 0 prints one JSON line per case with the largest difference between
the two runs' parameters and whether every rank ended with the same bytes; the pytest side
(tests/distributed/test_ddp.py) judges them. Cases that must fail (unused parameters) catch
the error on every rank and print its message.
"""

import hashlib
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad import nn, optim
from minigrad.nn import functional as F
from minigrad.nn.parallel import DistributedDataParallel

STEPS = 20
BATCH = 24  # divisible by 2, 3 and 4 ranks, and by 2 micro-batches on each
FEATURES, CLASSES = 8, 4


def make_model(seed, dtype=mg.float64):
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, CLASSES))
    return model.to(dtype)


def make_optimizer(name, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=1e-2)


def data(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, FEATURES)).astype(dtype)
    y = rng.integers(0, CLASSES, size=(STEPS, BATCH))
    return x, y


def train_reference(case):
    """One process, the whole batch, no DDP (each micro-batch loss scaled by 1/micro)."""
    dtype = np.dtype(case["dtype"])
    model = make_model(0, mg.float64 if dtype == np.float64 else mg.float32)
    opt = make_optimizer(case["optimizer"], model.parameters())
    xs, ys = data(dtype)
    micro = case["micro_batches"]
    for x, y in zip(xs, ys):
        opt.zero_grad()
        for xm, ym in zip(np.split(x, micro), np.split(y, micro)):
            loss = F.cross_entropy(model(mg.tensor(xm)), mg.tensor(ym)) / micro
            loss.backward()
        opt.step()
    return model


def train_ddp(case, rank, world, group=None):
    """Each rank its shard of every batch; micro-batches but the last under no_sync.
    `rank` and `world` are in `group` (None: the world)."""
    dtype = np.dtype(case["dtype"])
    # a different seed per rank: DDP's broadcast from rank 0 must make them equal
    model = make_model(rank + 100 * (rank > 0), mg.float64 if dtype == np.float64
                       else mg.float32)
    ddp = DistributedDataParallel(model, process_group=group, **case["options"])
    opt = make_optimizer(case["optimizer"], ddp.parameters())
    xs, ys = data(dtype)
    micro = case["micro_batches"]
    for x, y in zip(xs, ys):
        shard_x, shard_y = np.split(x, world)[rank], np.split(y, world)[rank]
        opt.zero_grad()
        pieces = list(zip(np.split(shard_x, micro), np.split(shard_y, micro)))
        for i, (xm, ym) in enumerate(pieces):
            if i < len(pieces) - 1:
                with ddp.no_sync():
                    micro_step(ddp, xm, ym, micro)
            else:
                micro_step(ddp, xm, ym, micro)
        opt.step()
    return model


def micro_step(ddp, x, y, micro):
    (F.cross_entropy(ddp(mg.tensor(x)), mg.tensor(y)) / micro).backward()


def state_digest(model):
    h = hashlib.sha256()
    for t in model.state_dict().values():
        h.update(t.numpy().tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def same_on_every_rank(model, world, group=None):
    digest = state_digest(model)
    gathered = [np.empty_like(digest) for _ in range(world)]
    dist.all_gather(gathered, digest, group=group)
    return all(np.array_equal(g, digest) for g in gathered)


def max_diff(a, b):
    return max(float(np.max(np.abs(p.data.astype(np.float64) - q.data)))
               for p, q in zip(a.parameters(), b.parameters()))


def equivalence_cases():
    base = {"dtype": "float64", "optimizer": "sgd", "micro_batches": 1, "options": {}}
    cases = []
    for optimizer in ("sgd", "adam"):
        for micro in (1, 2):
            cases.append({**base, "optimizer": optimizer, "micro_batches": micro})
    cases.append({**base, "options": {"overlap": False}})
    cases.append({**base, "optimizer": "adam", "micro_batches": 2,
                  "options": {"bucket_cap_mb": 1e-6}})  # one parameter per bucket
    cases.append({**base, "options": {"gradient_as_bucket_view": True}, "micro_batches": 2})
    for algorithm in dist.ALGORITHMS:
        cases.append({**base, "options": {"algorithm": algorithm, "bucket_cap_mb": 1e-3}})
    cases.append({**base, "dtype": "float32", "optimizer": "adam"})
    return cases


class TwoBranch(nn.Module):
    """`extra` is used only when the input says so; `never` is used by no rank."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(FEATURES, CLASSES)
        self.extra = nn.Linear(FEATURES, CLASSES)
        self.never = nn.Linear(FEATURES, CLASSES)

    def forward(self, x, use_extra):
        out = self.body(x)
        return out + self.extra(x) if use_extra else out


def unused_cases(rank, world):
    """Without find_unused_parameters: every rank raises, naming `never`. With it: gradients
    equal those of one process that sums the per-rank losses (extra used on rank 0 only)."""
    results = []
    mg.manual_seed(0)
    model = TwoBranch().double()
    ddp = DistributedDataParallel(model)
    x, y = data(np.float64)
    shard_x, shard_y = np.split(x[0], world)[rank], np.split(y[0], world)[rank]
    try:
        F.cross_entropy(ddp(mg.tensor(shard_x), True), mg.tensor(shard_y)).backward()
        results.append({"case": "unused without find_unused_parameters", "error": None})
    except RuntimeError as e:
        results.append({"case": "unused without find_unused_parameters", "error": str(e)})

    mg.manual_seed(0)
    model = TwoBranch().double()
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    F.cross_entropy(ddp(mg.tensor(shard_x), rank == 0), mg.tensor(shard_y)).backward()
    mg.manual_seed(0)
    reference = TwoBranch().double()
    total = 0
    for r in range(world):
        xr, yr = np.split(x[0], world)[r], np.split(y[0], world)[r]
        total = total + F.cross_entropy(reference(mg.tensor(xr), r == 0), mg.tensor(yr))
    (total / world).backward()
    diffs = {name: float(np.max(np.abs(p.grad.numpy() - q.grad.numpy())))
             for (name, p), q in zip(model.named_parameters(), reference.parameters())
             if p.grad is not None and q.grad is not None}
    results.append({"case": "find_unused_parameters", "max_diff": max(diffs.values()),
                    "grads_of": sorted(diffs), "never_grad_is_none":
                    model.never.weight.grad is None and model.never.bias.grad is None,
                    "same_on_every_rank": same_on_every_rank(model, world)})
    return results


def buffers_case(rank, world):
    """BatchNorm statistics differ per shard; broadcast_buffers makes rank 0's win."""
    mg.manual_seed(rank)
    model = nn.Sequential(nn.Linear(FEATURES, 6), nn.BatchNorm1d(6), nn.Linear(6, CLASSES))
    ddp = DistributedDataParallel(model)
    x, y = data(np.float32)
    for step in range(3):
        shard_x, shard_y = np.split(x[step], world)[rank], np.split(y[step], world)[rank]
        F.cross_entropy(ddp(mg.tensor(shard_x)), mg.tensor(shard_y)).backward()
    ddp(mg.tensor(x[3][:2]))  # a forward broadcasts rank 0's running statistics
    return {"case": "broadcast_buffers", "same_on_every_rank": same_on_every_rank(model, world),
            "num_batches_tracked": int(model[1].num_batches_tracked.item())}


def subgroup_case(rank, world):
    """DDP over world ranks 1 .. N-1 (rank 0 stays out): broadcast from the group's first
    member, world rank 1, and the result of one process with the whole batch."""
    group = dist.new_group(list(range(1, world)))
    mine = np.array([np.nan, np.nan])  # (max_diff, same on every member); rank 0: none
    if rank > 0:
        case = {"dtype": "float64", "optimizer": "adam", "micro_batches": 1, "options": {}}
        model = train_ddp(case, dist.get_rank(group), world - 1, group)
        mine[:] = max_diff(model, train_reference(case)), same_on_every_rank(model, world - 1,
                                                                              group)
    everyone = [np.empty(2) for _ in range(world)]
    dist.all_gather(everyone, mine)  # over the world, so that rank 0 can report
    return {"case": "subgroup", "members": world - 1,
            "max_diff": max(float(e[0]) for e in everyone[1:]),
            "same_on_every_rank": all(e[1] == 1 for e in everyone[1:])}


def main():
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    results = []
    for case in equivalence_cases():
        ddp_model = train_ddp(case, rank, world)
        results.append({**case, "max_diff": max_diff(ddp_model, train_reference(case)),
                        "same_on_every_rank": same_on_every_rank(ddp_model, world)})
    results.extend(unused_cases(rank, world))
    results.append(buffers_case(rank, world))
    results.append(subgroup_case(rank, world))
    errors = [r.get("error") for r in results if "error" in r]
    gathered = [np.empty(1, dtype=np.int64) for _ in range(world)]
    dist.all_gather(gathered, np.array([sum(e is not None for e in errors)], dtype=np.int64))
    if rank == 0:
        for r in results:
            print(json.dumps({**r, "world_size": world,
                              "errors_on_ranks": [int(g[0]) for g in gathered]}))
        sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
