"""`minigrad bench train`: training steps per second of the mlp, cnn and gpt, next to PyTorch.

Each case is one of `minigrad train`'s recipes at its default batch size: the digits MLP, the
digits MobileNet and the character GPT. For each, both frameworks run exactly the same
training step on the same batches from the same initial weights:

    loss = loss_of(model(batch)); optimizer.zero_grad(); loss.backward(); optimizer.step()

with AdamW at the recipe's learning rate and weight decay. The PyTorch model is the twin in
`torch_twins.py`, loaded with the minigrad model's initial state dict, so the two compute the
same function (the first step's losses are reported side by side as a check).

Threads: every measurement runs in a fresh subprocess whose thread counts (NUMBA_NUM_THREADS,
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) are set before NumPy or torch load,
and PyTorch gets `torch.set_num_threads` to match, so both use the same number of cores.
Timing: `steps` training steps after `warmup` untimed ones, `repeat` times; we report
milliseconds per step, best and median over the repeats (the best is the least disturbed by
other work on the machine).

`MINIGRAD_BENCH_ITERATIONS=N` replaces the step count (tests use it to run quickly).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from minigrad.cli.machine import THREAD_VARIABLES

MODELS = ("mlp", "cnn", "gpt")
STEPS = {"mlp": 50, "cnn": 20, "gpt": 5}
WARMUP = 3
TARGET_RATIO = 1.5  # from the issue: minigrad's step time within 1.5x of PyTorch's


def _batches(recipe, count: int):
    """`count` training batches of the recipe's default size, the same in every process."""
    import minigrad as mg

    mg.manual_seed(1234)
    batches = []
    while len(batches) < count:
        for batch in recipe.train_loader(recipe.defaults):
            batches.append([t.numpy() for t in batch])
            if len(batches) == count:
                break
    return batches


def _minigrad_step_fn(recipe, model, optimizer):
    import minigrad as mg

    def step(arrays):
        loss = recipe.loss(model, [mg.from_numpy(a) for a in arrays])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def _torch_step_fn(recipe, twin, optimizer):
    import torch

    def step(arrays):
        inputs = [torch.from_numpy(a) for a in arrays]
        if recipe.name == "gpt":
            loss = twin(*inputs)[1]
        else:
            loss = torch.nn.functional.cross_entropy(twin(inputs[0]), inputs[1],
                                                     label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def measure(framework: str, model_name: str, steps: int, repeat: int) -> dict:
    """One framework on one recipe, in this process: ms per training step."""
    import minigrad as mg
    from minigrad.cli.recipes import get_recipe
    from minigrad.cli.train import make_optimizer

    recipe = get_recipe(model_name)
    recipe.load_data()
    hyper = recipe.defaults
    mg.manual_seed(0)
    model = recipe.build_model()
    model.train()
    batches = _batches(recipe, steps + WARMUP)
    if framework == "minigrad":
        optimizer = make_optimizer("adamw", model.parameters(), hyper.lr, hyper.weight_decay)
        step = _minigrad_step_fn(recipe, model, optimizer)
        threads = None
    else:
        import torch

        from minigrad.cli.torch_twins import torch_twin
        threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        torch.set_num_threads(threads)
        twin = torch_twin(model)
        twin.train()
        optimizer = torch.optim.AdamW(twin.parameters(), lr=hyper.lr,
                                      weight_decay=hyper.weight_decay)
        step = _torch_step_fn(recipe, twin, optimizer)
    first_loss = step(batches[0])
    for arrays in batches[1:WARMUP]:
        step(arrays)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for arrays in batches[WARMUP:]:
            step(arrays)
        times.append((time.perf_counter() - start) / steps * 1e3)
    return {"framework": framework, "model": model_name, "batch_size": hyper.batch_size,
            "steps": steps, "repeat": repeat, "first_loss": first_loss,
            "ms_per_step_best": min(times), "ms_per_step_median": statistics.median(times),
            "torch_threads": threads}


def _in_subprocess(framework: str, model_name: str, steps: int, repeat: int,
                   threads: int) -> dict:
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    job = json.dumps({"framework": framework, "model": model_name, "steps": steps,
                      "repeat": repeat})
    done = subprocess.run([sys.executable, "-m", "minigrad.cli.bench_train", "--worker", job],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench train: the {framework} {model_name} worker failed "
                           f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(report: dict) -> None:
    print(f"{'model':<5} {'batch':>5} {'threads':>7} {'minigrad ms/step':>17} "
          f"{'PyTorch ms/step':>16} {'ratio':>6}  first-step loss (minigrad / torch)")
    for r in report["results"]:
        torch_ms = r.get("torch_ms_per_step")
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") else "--"
        loss_torch = f"{r['torch_first_loss']:.4f}" if torch_ms else "--"
        torch_text = f"{torch_ms:.2f}" if torch_ms else "--"
        print(f"{r['model']:<5} {r['batch_size']:>5} {r['threads']:>7} "
              f"{r['minigrad_ms_per_step']:>17.2f} {torch_text:>16} {ratio:>6}  "
              f"{r['minigrad_first_loss']:.4f} / {loss_torch}")
    print(f"ms/step: best of {report['meta']['repeat']} repeats; ratio = minigrad / PyTorch "
          f"(target <= {TARGET_RATIO}x)")


def run(args: argparse.Namespace) -> int:
    torch_available = importlib.util.find_spec("torch") is not None
    threads_list = [int(t) for t in str(getattr(args, "threads", None) or "1").split(",")]
    override = os.environ.get("MINIGRAD_BENCH_ITERATIONS")
    models = getattr(args, "models", None) or MODELS
    results = []
    for threads in threads_list:
        for name in models:
            steps = int(override) if override else STEPS[name]
            ours = _in_subprocess("minigrad", name, steps, args.repeat, threads)
            row = {"model": name, "threads": threads, "batch_size": ours["batch_size"],
                   "steps": steps, "minigrad_steps_per_s": 1e3 / ours["ms_per_step_best"],
                   "minigrad_ms_per_step": ours["ms_per_step_best"],
                   "minigrad_ms_per_step_median": ours["ms_per_step_median"],
                   "minigrad_first_loss": ours["first_loss"]}
            if torch_available:
                theirs = _in_subprocess("torch", name, steps, args.repeat, threads)
                row.update({"torch_steps_per_s": 1e3 / theirs["ms_per_step_best"],
                            "torch_ms_per_step": theirs["ms_per_step_best"],
                            "torch_ms_per_step_median": theirs["ms_per_step_median"],
                            "torch_first_loss": theirs["first_loss"],
                            "ratio": ours["ms_per_step_best"] / theirs["ms_per_step_best"]})
            results.append(row)
            print(f"  measured {name} with {threads} thread(s)", flush=True)
    torch_version = None
    if torch_available:
        import torch
        torch_version = torch.__version__
    import numpy as np

    import minigrad
    report = {
        "meta": {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__,
            "minigrad": minigrad.__version__, "torch": torch_version,
            "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "repeat": args.repeat, "warmup_steps": WARMUP, "optimizer": "AdamW",
            "target_ratio": TARGET_RATIO,
        },
        "torch_available": torch_available,
        "results": results,
    }
    _print_table(report)
    path = Path(args.out or "bench-train.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        job = json.loads(sys.argv[2])
        print(json.dumps(measure(job["framework"], job["model"], job["steps"], job["repeat"])))
    else:
        sys.exit("usage: python -m minigrad.cli.bench_train --worker JOB (run by "
                 "`minigrad bench train`)")
