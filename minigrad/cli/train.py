"""`minigrad train {mlp,cnn,gpt}`: the training loop, its checkpoints and its metrics.

One loop serves every recipe (see `recipes.py`):

    for epoch in range(start_epoch, epochs):
        for batch in loader:                      # shuffled from minigrad's global generator
            loss = recipe.loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()                      # linear warm-up, then cosine decay, per step
        metrics = recipe.evaluate(model)
        save(checkpoint)                          # atomic: a crash keeps the previous one

What makes `--resume` continue bit-identically to an uninterrupted run: the checkpoint holds
the model's and the optimizer's state, the scheduler's position, the epoch, and minigrad's
global random state as it was at the end of the epoch. Every random draw of training (the
epoch's shuffle, dropout) comes from that generator, so restoring it replays the same draws.

`--ddp` (data parallel, under `mpirun -n P`): the model is wrapped in
`DistributedDataParallel`, each rank reads its own shard of every epoch's permutation
(`DistributedSampler`, `set_epoch` each epoch) in batches of `--batch-size`, so one step
sees P x batch-size samples (the effective batch size, printed and written to metrics.json).
Every rank draws dropout from its own stream, reseeded from (seed, epoch, rank) at each epoch
start, which keeps resume deterministic. Rank 0 alone prints, evaluates (while the other
ranks wait at the next all-reduce) and writes files; the epoch's train loss and throughput
are summed over the ranks, `step_losses` are rank 0's.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

import minigrad as mg
from minigrad import optim
from minigrad.cli.errors import CommandError
from minigrad.cli.recipes import Hyper, Recipe, fast_mode, get_recipe
from minigrad.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from minigrad.utils.data import DataLoader, DistributedSampler

CHECKPOINT_NAME = "last.ckpt"
CHECKPOINT_FORMAT = "minigrad-train-v1"
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")


def make_optimizer(name: str, params, lr: float, weight_decay: float) -> optim.Optimizer:
    """The optimizer `--optimizer` names, with the recipe's learning rate and weight decay."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}")


def make_scheduler(optimizer: optim.Optimizer, total_steps: int, warmup_fraction: float):
    """Linear warm-up over the first `warmup_fraction` of the steps, then cosine to zero."""
    warmup = max(1, round(warmup_fraction * total_steps))
    return SequentialLR(optimizer, [
        LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=warmup),
        CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup)),
    ], milestones=[warmup])


def _steps_per_epoch(recipe: Recipe, hyper: Hyper, world_size: int = 1) -> int:
    if hyper.steps_per_epoch is not None:
        return hyper.steps_per_epoch
    return math.ceil(math.ceil(len(recipe.train_set) / world_size) / hyper.batch_size)


class _DataParallel:
    """What `fit(ddp=True)` adds: the process group, the sharded loader, the reductions."""

    def __init__(self, seed: int) -> None:
        import minigrad.distributed as dist  # here: mpi4py is loaded only for --ddp

        if not dist.is_initialized():
            dist.init_process_group()
        self.dist = dist
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.seed = seed
        self.sampler = None

    def wrap(self, model):
        from minigrad.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model)

    def loader(self, recipe: Recipe, hyper: Hyper) -> DataLoader:
        """This rank's shard of each epoch's permutation, in batches of `batch_size`."""
        self.sampler = DistributedSampler(recipe.train_set, num_replicas=self.world_size,
                                          rank=self.rank, shuffle=True, seed=self.seed)
        return DataLoader(recipe.train_set, batch_size=hyper.batch_size, sampler=self.sampler)

    def start_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        stream = np.random.SeedSequence((self.seed, epoch, self.rank)).generate_state(1)[0]
        mg.manual_seed(int(stream))

    def describe(self, hyper: Hyper) -> dict:
        """What metrics.json records under "distributed"."""
        return {"world_size": self.world_size, "rank_batch_size": hyper.batch_size,
                "effective_batch_size": self.world_size * hyper.batch_size,
                "evaluation": "rank 0 only", "step_losses": "rank 0's"}

    def sum_over_ranks(self, *values: float) -> list[float]:
        totals = np.array(values, dtype=np.float64)
        self.dist.all_reduce(totals, op=self.dist.ReduceOp.SUM)
        return totals.tolist()


def fit(recipe: Recipe, hyper: Hyper | None = None, *, seed: int = 0,
        out_dir: str | Path | None = None, resume: str | Path | None = None,
        progress: bool = True, ddp: bool = False) -> dict:
    """Train `recipe`'s model with `hyper`; return (and write to `out_dir`) the metrics.

    Args:
        recipe: what to train (its data is loaded here if it is not yet).
        hyper: epochs, batch size, optimizer, learning rate, ...; None: the recipe's defaults,
            or with `resume` the checkpoint's.
        seed: seeds minigrad's global generator before the model is built.
        out_dir: folder for `last.ckpt`, `metrics.json` and `loss_curve.png`; None writes
            nothing.
        resume: a checkpoint written by this function: training continues after its epoch,
            with its hyper-parameters and seed (a `hyper` that differs is an error: the
            learning-rate schedule depends on them).
        progress: show a tqdm bar per epoch and a line after each.
        ddp: data parallel over the ranks of the `minigrad.distributed` process group (it is
            initialised here if it is not yet; without mpirun: one rank). `hyper.batch_size`
            is per rank. Only rank 0 shows progress, evaluates and writes `out_dir`.

    Returns:
        The metrics dict: `history` (one entry per epoch), `step_losses`, `final` (the last
        epoch's entry), `parameters`, `distributed` (with `ddp`: world size, per-rank and
        effective batch size), and `model` (the trained Module, unwrapped).
    """
    if recipe.train_set is None:
        recipe.load_data()
    start_epoch, history, step_losses, checkpoint = 0, [], [], None
    if resume is not None:
        checkpoint = read_checkpoint(resume, recipe.name)
        saved = Hyper(**checkpoint["hyper"])
        if hyper is not None and hyper != saved:
            changed = [f"{k} {v!r} (checkpoint: {saved.to_dict()[k]!r})"
                       for k, v in hyper.to_dict().items() if saved.to_dict()[k] != v]
            raise CommandError(f"--resume {resume}: resuming continues the run as it was "
                               f"configured; these settings differ: {', '.join(changed)}")
        hyper, seed = saved, checkpoint["seed"]
        start_epoch = checkpoint["epoch"]
        history, step_losses = checkpoint["history"], checkpoint["step_losses"]
    hyper = hyper if hyper is not None else recipe.defaults
    parallel = _DataParallel(seed) if ddp else None
    rank, world_size = (parallel.rank, parallel.world_size) if ddp else (0, 1)
    progress = progress and rank == 0

    mg.manual_seed(seed)
    model = recipe.build_model()
    optimizer = make_optimizer(hyper.optimizer, model.parameters(), hyper.lr, hyper.weight_decay)
    steps_per_epoch = _steps_per_epoch(recipe, hyper, world_size)
    scheduler = make_scheduler(optimizer, hyper.epochs * steps_per_epoch, hyper.warmup_fraction)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        mg.set_rng_state(checkpoint["rng_state"])

    trained = parallel.wrap(model) if ddp else model
    loader = parallel.loader(recipe, hyper) if ddp else recipe.train_loader(hyper)
    if ddp and progress:
        tqdm.write(f"{recipe.name}: data parallel over {world_size} rank(s), "
                   f"{hyper.batch_size} samples per rank per step: effective batch size "
                   f"{world_size * hyper.batch_size}")
    out = Path(out_dir) if out_dir is not None and rank == 0 else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for epoch in range(start_epoch, hyper.epochs):
        if ddp:
            parallel.start_epoch(epoch)
        model.train()
        items, losses = 0, []
        start = time.perf_counter()
        # disable=None: a bar on a terminal, none in a log file (CI)
        bar = tqdm(islice(loader, steps_per_epoch), total=steps_per_epoch,
                   desc=f"{recipe.name} epoch {epoch + 1}/{hyper.epochs}",
                   disable=None if progress else True, leave=False, dynamic_ncols=True)
        for batch in bar:
            loss = recipe.loss(trained, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            items += recipe.items_in(batch)
            bar.set_postfix(loss=f"{losses[-1]:.4f}",
                            rate=f"{items / (time.perf_counter() - start):.0f} {recipe.unit}/s")
        seconds = time.perf_counter() - start
        loss_sum, steps = sum(losses), len(losses)
        if ddp:
            loss_sum, steps, items = parallel.sum_over_ranks(loss_sum, steps, items)
        model.eval()
        evaluation = recipe.evaluate(model) if rank == 0 else {}
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / steps,
                        "seconds": seconds, f"{recipe.unit}_per_s": items / seconds,
                        "lr": scheduler.get_last_lr()[0], **evaluation})
        step_losses.extend(losses)
        if progress:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in history[-1].items() if k != "epoch")
            tqdm.write(f"{recipe.name} epoch {epoch + 1}/{hyper.epochs}: {shown}")
        if out is not None:
            mg.save({
                "format": CHECKPOINT_FORMAT, "recipe": recipe.name, "hyper": hyper.to_dict(),
                "seed": seed, "epoch": epoch + 1, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng_state": mg.get_rng_state(), "history": history,
                "step_losses": step_losses, "extra": recipe.checkpoint_extra(),
            }, out / CHECKPOINT_NAME)

    metrics = {
        "recipe": recipe.name, "description": recipe.description, "hyper": hyper.to_dict(),
        "seed": seed, "parameters": sum(p.numel() for p in model.parameters()),
        "history": history, "step_losses": step_losses,
        "final": history[-1] if history else {},
        **({"distributed": parallel.describe(hyper)} if ddp else {}),
    }
    if out is not None:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        metrics["plot"] = plot_loss_curve(step_losses, out / "loss_curve.png", recipe.name)
    metrics["model"] = model
    return metrics


def read_checkpoint(path: str | Path, recipe_name: str | None = None) -> dict:
    """A checkpoint written by `fit`, checked to be one (and, if given, of `recipe_name`)."""
    checkpoint = mg.load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CommandError(f"{path}: not a `minigrad train` checkpoint (expected format "
                         f"{CHECKPOINT_FORMAT!r})")
    if recipe_name is not None and checkpoint["recipe"] != recipe_name:
        raise CommandError(f"{path} is a checkpoint of `minigrad train {checkpoint['recipe']}`, "
                         f"not of `minigrad train {recipe_name}`")
    return checkpoint


def load_model(path: str | Path):
    """The trained model and its recipe from a checkpoint, without loading the data."""
    checkpoint = read_checkpoint(path)
    recipe = get_recipe(checkpoint["recipe"])
    recipe.restore_extra(checkpoint["extra"])
    model = recipe.build_model()
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, recipe


def plot_loss_curve(losses: list, path: Path, title: str) -> str:
    """Write the per-step training loss as a PNG; matplotlib is optional (`.[plot]`)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped: matplotlib is not installed (pip install -e '.[plot]')"
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(f"minigrad train {title}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def hyper_from_args(recipe: Recipe, args: argparse.Namespace) -> Hyper | None:
    """The recipe's defaults (its fast settings under MINIGRAD_FAST=1) overridden by the
    flags given; with --resume, the checkpoint's settings overridden by them (None if none)."""
    changes = {name: getattr(args, name) for name in ("epochs", "batch_size", "lr", "optimizer",
                                                      "weight_decay", "steps_per_epoch")
               if getattr(args, name, None) is not None}
    for name in ("epochs", "batch_size", "steps_per_epoch"):
        if name in changes and changes[name] < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1, got "
                               f"{changes[name]}")
    for name in ("lr", "weight_decay"):
        if name in changes and not changes[name] >= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be >= 0, got {changes[name]}")
    if args.resume is not None:
        checkpoint = read_checkpoint(args.resume, recipe.name)
        if args.seed != checkpoint["seed"] and args.seed != 0:
            raise CommandError(f"--resume {args.resume}: the run was seeded with "
                               f"{checkpoint['seed']}; resuming continues it, so --seed "
                               f"{args.seed} cannot apply")
        if not changes:
            return None
        base = Hyper(**checkpoint["hyper"])
    else:
        base = recipe.fast if fast_mode() else recipe.defaults
    return Hyper(**{**base.to_dict(), **changes})


def run(args: argparse.Namespace) -> int:
    recipe = get_recipe(args.model)
    out = args.out or f"runs/{args.model}"
    ddp = args.ddp
    metrics = fit(recipe, hyper_from_args(recipe, args), seed=args.seed, out_dir=out,
                  resume=args.resume, ddp=ddp)
    if ddp:
        import minigrad.distributed as dist

        if dist.get_rank() != 0:
            return 0  # rank 0 alone reports
    final = metrics["final"]
    print(f"{recipe.description}: {metrics['parameters']:,} parameters")
    for key in ("accuracy", "val_loss", "bigram_val_loss", "train_loss",
                f"{recipe.unit}_per_s"):
        if key in final:
            print(f"  {key:>16}: {final[key]:.4f}")
    if ddp:
        shape = metrics["distributed"]
        print(f"  {'effective batch':>16}: {shape['effective_batch_size']} = "
              f"{shape['rank_batch_size']} per rank x {shape['world_size']} rank(s)")
    print(f"wrote {out}/{CHECKPOINT_NAME} and {out}/metrics.json; loss curve: "
          f"{metrics['plot']}")
    return 0
