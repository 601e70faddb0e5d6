# %% [markdown]
# # 06 - Data parallelism: one model, many processes, averaged gradients
#
# Data parallel training runs the same model in P processes (ranks). Each rank computes the
# gradient of its own slice of the batch; the ranks average their gradients with an
# all-reduce, and every rank takes the same optimizer step. P ranks with B/P samples each
# train exactly like one process with B samples, about P times faster when the all-reduce
# is cheap next to the backward pass.
#
# 1. the process group: ranks, and printing from one of them;
# 2. averaged gradients equal the big-batch gradient, by hand with `all_reduce`;
# 3. `DistributedDataParallel`: the same, with hooks and buckets;
# 4. training the digits MLP with a `DistributedSampler`;
# 5. `no_sync()`: accumulating micro-batches before one all-reduce;
# 6. overlapping the all-reduce with the backward pass, timed.
#
# Run it under MPI (`mpirun -n 2 python tutorials/06_data_parallel.py`; the pip package
# `mpich` brings `mpirun`), or as a plain script, which is a world of one rank.
# `MINIGRAD_FAST=1` shortens the training (CI runs it both ways). The concepts page is
# docs/concepts/distributed/ddp.md.

# %%
import hashlib
import os
import time

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad import optim
from minigrad.datasets import Digits
from minigrad.models import MLP
from minigrad.nn import functional as F
from minigrad.nn.parallel import DistributedDataParallel
from minigrad.utils.data import DataLoader, DistributedSampler

FAST = os.environ.get("MINIGRAD_FAST", "0") not in ("", "0")

# %% [markdown]
# ## 1. The process group
#
# `mpirun -n P` starts P copies of this script. `init_process_group()` connects them: each
# learns its rank (0 .. P-1) and the world size P. Every rank runs every line below; only
# what they print is limited to rank 0, so the output reads as one program's.

# %%
dist.init_process_group()
rank, world = dist.get_rank(), dist.get_world_size()


def say(*args):
    """print, on rank 0 only."""
    if rank == 0:
        print(*args, flush=True)


say(f"world size {world}; this is rank {rank}")

# %% [markdown]
# ## 2. Averaged gradients are the big-batch gradient
#
# The loss of a batch is a mean: L = (1/B) sum_i l_i. Split the B samples into P shards of
# B/P, one per rank. Rank r's loss is L_r = (P/B) sum over its shard of l_i, and
#
#     (1/P) sum_r grad L_r = (1/P) sum_r (P/B) sum_{i in shard r} grad l_i
#                          = (1/B) sum_i grad l_i = grad L.
#
# So the average over ranks of the shard gradients is the gradient of the whole batch, as
# long as the shards have equal size. Below, every rank computes the big-batch gradient
# alone (for the comparison), then its shard's gradient, and averages those with
# `all_reduce(op=AVG)`, one parameter at a time.

# %%
train_set = Digits(train=True, flatten=True)
test_set = Digits(train=False, flatten=True)
batch = 60 * world  # divisible by the world size: equal shards
images, labels = next(iter(DataLoader(train_set, batch_size=batch)))


def fresh_model():
    mg.manual_seed(0)  # the same initial weights on every rank
    return MLP(64, [64], 10)


def shard(tensor):
    """This rank's contiguous B/P rows of a batch."""
    size = tensor.shape[0] // world
    return tensor[rank * size:(rank + 1) * size]


big = fresh_model()
F.cross_entropy(big(images), labels).backward()

local = fresh_model()
F.cross_entropy(local(shard(images)), shard(labels)).backward()
before = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
             for p, q in zip(local.parameters(), big.parameters()))
for p in local.parameters():
    dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)
after = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
            for p, q in zip(local.parameters(), big.parameters()))
say(f"batch {batch}, {batch // world} samples per rank")
say(f"max |shard gradient - big-batch gradient|    = {before:.2e}  (rank 0's shard alone)")
say(f"max |averaged gradient - big-batch gradient| = {after:.2e}  (float32 rounding)")

# %% [markdown]
# ## 3. DistributedDataParallel
#
# `DistributedDataParallel(model)` does the averaging for you, during `backward`:
#
# - at construction it checks that every rank has the same parameters (names, shapes,
#   dtypes) and copies rank 0's values to every rank;
# - it packs the parameters, last layer first, into buckets of about `bucket_cap_mb`;
# - a hook on each parameter copies its gradient into its bucket as backward produces it;
#   a full bucket starts its all-reduce at once, while backward goes on with earlier layers;
# - when backward ends, it waits for the buckets and writes the averages into `.grad`.
#
# A tiny `bucket_cap_mb` shows the order: reverse registration order, the order in which
# backward produces the gradients.

# %%
ddp = DistributedDataParallel(fresh_model(), bucket_cap_mb=0.001)  # about 1 KB
for i, names in enumerate(ddp.reducer.bucket_members()):
    say(f"bucket {i}: {names}")
F.cross_entropy(ddp(shard(images)), shard(labels)).backward()
diff = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
           for p, q in zip(ddp.module.parameters(), big.parameters()))
say(f"max |DDP gradient - big-batch gradient| = {diff:.2e}")

# %% [markdown]
# ## 4. Training with a DistributedSampler
#
# The training loop is the single-process loop with three changes: the model is wrapped,
# a `DistributedSampler` gives each rank its own shard of every epoch's permutation
# (`set_epoch` changes the permutation each epoch, the same on every rank), and only rank 0
# prints. The effective batch is the per-rank batch times the world size. At the end every
# rank holds the same weights, which we check by comparing a hash of them across ranks.

# %%
epochs = 2 if FAST else 10
per_rank_batch = 32
model = DistributedDataParallel(fresh_model())
optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=0)
loader = DataLoader(train_set, batch_size=per_rank_batch, sampler=sampler)
say(f"{len(loader)} steps per epoch; effective batch {per_rank_batch} x {world} = "
    f"{per_rank_batch * world}")
start = time.perf_counter()
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    losses = []
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    mean_loss = np.array([np.mean(losses)])
    dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)  # the loss over all ranks' shards
    say(f"epoch {epoch + 1}: train loss {mean_loss[0]:.4f}")
seconds = time.perf_counter() - start

test_images, test_labels = next(iter(DataLoader(test_set, batch_size=len(test_set))))
with mg.no_grad():
    accuracy = (model.module.eval()(test_images).argmax(dim=1) == test_labels).float().mean()
say(f"{seconds:.1f} s; test accuracy {100 * accuracy.item():.1f}%")

digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in model.module.state_dict().values()))
mine = np.frombuffer(digest.digest(), dtype=np.uint8).copy()
everyone = [np.empty_like(mine) for _ in range(world)]
dist.all_gather(everyone, mine)
say("identical weights on every rank:", all(np.array_equal(d, mine) for d in everyone))

# %% [markdown]
# ## 5. no_sync: accumulate, then reduce once
#
# With a batch too large for memory, a rank splits its shard into micro-batches and
# accumulates their gradients (each loss divided by the number of micro-batches) before
# one optimizer step. Reducing after every micro-batch would waste all-reduces: inside
# `with model.no_sync():` forward and backward only accumulate locally, and the first
# backward outside the block reduces the accumulated sum.

# %%
accumulating = DistributedDataParallel(fresh_model())
micro_images = np.split(shard(images).numpy(), 2)
micro_labels = np.split(shard(labels).numpy(), 2)
with accumulating.no_sync():
    (F.cross_entropy(accumulating(mg.tensor(micro_images[0])), mg.tensor(micro_labels[0]))
     / 2).backward()
(F.cross_entropy(accumulating(mg.tensor(micro_images[1])), mg.tensor(micro_labels[1]))
 / 2).backward()
diff = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
           for p, q in zip(accumulating.module.parameters(), big.parameters()))
say(f"2 micro-batches per rank, one all-reduce: max |gradient - big-batch gradient| = "
    f"{diff:.2e}")

# %% [markdown]
# ## 6. Does overlapping communication with backward pay?
#
# `overlap=False` (minigrad's option) starts every bucket's all-reduce only after backward
# has finished; the difference is what overlap buys. Overlap needs more than one bucket
# (a bucket can only start once all its gradients exist, and with one bucket that is the
# end of backward), spare hardware to move and add the numbers while the cores compute, and
# an all-reduce long enough to matter. The MLP below has 8.7 MB of float32 gradients: one
# bucket at the default `bucket_cap_mb=25`, three at 1. "no DDP" runs the same steps on the
# bare model, without communication. The three settings take turns, block after block, so
# that each sees the same machine; "ratio" is overlap / no overlap per block (median and
# quartiles): below 1 means overlap helps. With one rank there is nothing to communicate.
# docs/concepts/distributed/ddp.md reports the numbers of a full run on 2 cores.

# %%
wide = MLP(64, [1024, 1024, 1024], 10)
optimizer = optim.SGD(wide.parameters(), lr=1e-3)
x, y = shard(images), shard(labels)
steps, rounds = (2, 2) if FAST else (10, 20)


def ms_per_step(model):
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


say("ms per step (median of the blocks); ratio = overlap / no overlap, median (quartiles)")
say(f"{'bucket_cap_mb':>13} {'buckets':>7} {'overlap':>8} {'no overlap':>10} {'no DDP':>7}  "
    "ratio")
for cap in (25, 1):
    wrapped = {overlap: DistributedDataParallel(wide, overlap=overlap, bucket_cap_mb=cap)
               for overlap in (True, False)}
    timings = {True: [], False: [], "bare": []}
    for _ in range(rounds):  # alternating, so that all three see the same machine
        for setting in (True, False, "bare"):
            timings[setting].append(ms_per_step(wide if setting == "bare" else
                                                wrapped[setting]))
    medians = {k: np.median(v) for k, v in timings.items()}
    ratios = np.percentile(np.divide(timings[True], timings[False]), [25, 50, 75])
    say(f"{cap:>13} {len(wrapped[True].reducer.buckets):>7} {medians[True]:>8.1f} "
        f"{medians[False]:>10.1f} {medians['bare']:>7.1f}  {ratios[1]:.3f} "
        f"({ratios[0]:.3f}-{ratios[2]:.3f})")

# %%
dist.destroy_process_group()
