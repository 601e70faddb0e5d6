"""`minigrad demo`: train three models on the embedded data and print what each one cost.

The demo is the first thing a new user runs (`pip install -e . && minigrad demo`). In about
three minutes on a 2-core laptop it trains, with the same loop as `minigrad train`:

- `mlp`: a 64-128-128-10 MLP on the UCI handwritten digits (1,797 8x8 images, shipped inside
  the package);
- `cnn`: a small MobileNet (depthwise-separable convolutions) on the same digits;
- `gpt`: a character-level GPT on the Python standard library's own source files;

then prints one table: the quality (test accuracy, or validation loss next to the best
bigram model's), the parameters, the FLOPs of one training step (forward and backward,
counted op by op by `minigrad.profiler.FlopCounter`), the training throughput, and the
inference latency of one example (p50 over repetitions). It ends with a few lines the GPT
writes, and leaves checkpoints, metrics and loss curves under `--out`.

`MINIGRAD_FAST=1` trains each model for a few steps only (CI, tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import minigrad as mg
from minigrad import nn
from minigrad.cli.recipes import Recipe, fast_mode, get_recipe
from minigrad.cli.sample import generate_text
from minigrad.cli.train import fit
from minigrad.profiler import FlopCounter, measure_latency
from minigrad.utils.data import DataLoader

MODELS = ("mlp", "cnn", "gpt")
SAMPLE_PROMPT = "def "
SAMPLE_CHARS = 240


def step_flops(recipe: Recipe, model: nn.Module, batch_size: int) -> int:
    """FLOPs of one training step's forward and backward on a batch of `batch_size`.

    Counted in training mode (batch norm normalises with the batch's statistics, which costs
    more than with the running ones); the running statistics this step updates are put back.
    """
    loader = DataLoader(recipe.train_set, batch_size=batch_size)
    batch = next(iter(loader))
    saved = {name: buffer.numpy().copy() for name, buffer in model.named_buffers()}
    model.train()
    with FlopCounter() as counter:
        recipe.loss(model, batch).backward()
    model.zero_grad()
    model.eval()
    model.load_state_dict(saved, strict=False)
    return counter.total_flops


def inference_latency(recipe: Recipe, model: nn.Module) -> float:
    """Median seconds of one forward pass on a single example, gradients off."""
    (inputs,) = recipe.example_input(1)
    model.eval()
    with mg.no_grad():
        return measure_latency(lambda: model(inputs), warmup=3, repeat=30).p50


def run_one(name: str, seed: int, out: Path) -> dict:
    recipe = get_recipe(name)
    hyper = recipe.fast if fast_mode() else recipe.defaults
    start = time.perf_counter()
    metrics = fit(recipe, hyper, seed=seed, out_dir=out / name)
    seconds = time.perf_counter() - start
    model = metrics.pop("model")
    final = metrics["final"]
    row = {
        "model": name,
        "description": recipe.description,
        "metric": recipe.metric,
        "value": final[recipe.metric],
        "parameters": metrics["parameters"],
        "flops_per_step": step_flops(recipe, model, hyper.batch_size),
        "batch_size": hyper.batch_size,
        # the median epoch: one epoch slowed by other work on the machine does not count
        "throughput": statistics.median(h[f"{recipe.unit}_per_s"] for h in metrics["history"]),
        "unit": recipe.unit,
        "latency_ms": inference_latency(recipe, model) * 1e3,
        "train_seconds": seconds,
        "epochs": hyper.epochs,
    }
    if name == "gpt":
        row["bigram_val_loss"] = final["bigram_val_loss"]
        mg.manual_seed(seed)
        row["sample"] = generate_text(model, recipe.tokenizer, SAMPLE_PROMPT, SAMPLE_CHARS)
    return row


def si(value: float) -> str:
    """A count in SI units, three significant digits: 8.97M, 1.18G."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def format_table(rows: list[dict]) -> str:
    """One line per model: what it reached and what it cost."""
    header = (f"{'model':<5}  {'result':<29} {'params':>9} {'FLOPs/step':>10}  "
              f"{'training throughput':<19} {'latency':>9} {'train':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        if r["metric"] == "accuracy":
            result = f"test accuracy {100 * r['value']:.1f}%"
        else:
            result = f"val loss {r['value']:.3f} (bigram {r['bigram_val_loss']:.2f})"
        lines.append(
            f"{r['model']:<5}  {result:<29} {r['parameters']:>9,} {si(r['flops_per_step']):>10}  "
            f"{r['throughput']:>9,.0f} {r['unit'] + '/s':<9} {r['latency_ms']:>6.2f} ms "
            f"{r['train_seconds']:>4.0f} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    print(f"minigrad {mg.__version__} demo: training {', '.join(MODELS)} on the embedded data"
          f"{' (MINIGRAD_FAST=1: a few steps each)' if fast_mode() else ''}; "
          f"writing to {out}/")
    start = time.perf_counter()
    rows = [run_one(name, args.seed, out) for name in MODELS]
    print()
    print(format_table(rows))
    print("FLOPs/step: forward + backward of one training batch; latency: one example, p50.")
    gpt = next(r for r in rows if r["model"] == "gpt")
    print(f"\nThe GPT continues {SAMPLE_PROMPT!r}:\n")
    print(gpt["sample"])
    print(f"\ndone in {time.perf_counter() - start:.0f} s; checkpoints, metrics.json and loss "
          f"curves are in {out}/<model>/; results in {out}/demo.json")
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0
