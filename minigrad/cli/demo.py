"""`minigrad demo`: train a small MLP on 3-class spirals with nothing but the autograd engine.

Everything a framework usually hides is written out here, so a reader sees what autograd does
and what it leaves to the user:

- the data: the 3-class two-dimensional spiral of Stanford's CS231n notes ("Putting it
  together: minimal neural network case study"), generated at run time, so nothing is
  downloaded; no straight line separates the classes (a linear classifier gets 49% of the
  training points right in those notes), while a network with hidden layers gets nearly all;
- the model: 2 -> 64 -> 64 -> 3 with ReLU, its weights plain tensors with `requires_grad=True`
  (He/Kaiming initialisation, He et al. 2015, section 2.2: std = sqrt(2 / fan_in));
- the loss: `minigrad.nn.functional.cross_entropy` (log-softmax, then the mean of minus the
  log-probability of each example's true class);
- the update: SGD with momentum (PyTorch's form: v = mu v + g; w -= lr v), written inline
  under `minigrad.no_grad()` so that the update itself is not recorded in the graph.

`MINIGRAD_FAST=1` trains for a few steps only (CI, tests); `--steps` overrides both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.nn import functional as F

POINTS_PER_CLASS = 400   # 1,200 points in all
NUM_CLASSES = 3
NOISE = 0.2              # std of the angle noise, as in the CS231n notes
TEST_FRACTION = 0.25
HIDDEN = 64
DEFAULT_STEPS = 2000
FAST_STEPS = 150
BATCH_SIZE = 128
LEARNING_RATE = 0.03
MOMENTUM = 0.9
LOG_LINES = 10           # how many progress lines a run prints


def make_spirals(points_per_class: int, num_classes: int, noise: float):
    """The CS231n spiral: class k is an arm of radius 0..1 turning through 4 radians.

    Draws the angle noise from minigrad's global generator, so `manual_seed` fixes the data.

    Returns:
        x: (points_per_class * num_classes, 2) float32 points, classes in blocks.
        y: (points_per_class * num_classes,) int64 class labels.
    """
    radius = np.linspace(0.0, 1.0, points_per_class)
    xs, ys = [], []
    for k in range(num_classes):
        jitter = mg.randn(points_per_class).numpy().astype(np.float64) * noise
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), points_per_class) + jitter
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(points_per_class, k, dtype=np.int64))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def train_test_split(x: np.ndarray, y: np.ndarray, test_fraction: float):
    """Shuffle with minigrad's generator, then cut off the last `test_fraction` as test set."""
    order = mg.randperm(len(x)).numpy()
    n_test = int(round(len(x) * test_fraction))
    train, test = order[n_test:], order[:n_test]
    return (mg.tensor(x[train]), mg.tensor(y[train])), (mg.tensor(x[test]), mg.tensor(y[test]))


def init_mlp(sizes: list[int]) -> list[mg.Tensor]:
    """Weights (fan_in, fan_out) with He init and zero biases, as one flat list [W1, b1, ...]."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weight = (mg.randn(fan_in, fan_out) * math.sqrt(2.0 / fan_in)).requires_grad_()
        bias = mg.zeros(fan_out, requires_grad=True)
        params += [weight, bias]
    return params


def mlp(params: list[mg.Tensor], x: mg.Tensor) -> mg.Tensor:
    """x: (N, 2) -> logits (N, 3); ReLU between the layers, none after the last."""
    layers = list(zip(params[0::2], params[1::2]))
    for weight, bias in layers[:-1]:
        x = (x @ weight + bias).relu()
    weight, bias = layers[-1]
    return x @ weight + bias


def describe_graph(loss: mg.Tensor) -> str:
    """The graph autograd recorded for `loss`: its ops by name, and the leaves it reaches."""
    ops: dict[str, int] = {}
    leaves = 0
    stack, seen = [loss.grad_fn], {id(loss.grad_fn)}
    while stack:
        node = stack.pop()
        ops[node.name()] = ops.get(node.name(), 0) + 1
        for parent in node.next_functions:
            if parent is None or id(parent) in seen:
                continue
            seen.add(id(parent))
            if isinstance(parent, mg.Tensor):
                leaves += 1
            else:
                stack.append(parent)
    listed = ", ".join(name if n == 1 else f"{name} x{n}"
                       for name, n in sorted(ops.items(), key=lambda kv: -kv[1]))
    return (f"autograd: each step's loss is a graph of {sum(ops.values())} ops that backward() "
            f"walks back to {leaves} leaves:\n  {listed}")


def accuracy(logits: mg.Tensor, targets: mg.Tensor) -> float:
    return float((logits.argmax(dim=1) == targets).float().mean())


def sgd_momentum_step(params, velocities, lr: float, momentum: float) -> None:
    """v = momentum v + grad; p -= lr v (PyTorch's SGD with momentum, dampening 0)."""
    with mg.no_grad():
        for p, v in zip(params, velocities):
            v.mul_(momentum).add_(p.grad)
            p.sub_(lr * v)
            p.grad = None


def default_steps() -> int:
    fast = os.environ.get("MINIGRAD_FAST", "0") not in ("", "0")
    return FAST_STEPS if fast else DEFAULT_STEPS


def run(args: argparse.Namespace) -> int:
    steps = args.steps if args.steps is not None else default_steps()
    if steps < 1:
        raise SystemExit(f"minigrad demo: --steps must be at least 1, got {steps}")
    mg.manual_seed(args.seed)
    start = time.perf_counter()

    x, y = make_spirals(POINTS_PER_CLASS, NUM_CLASSES, NOISE)
    (x_train, y_train), (x_test, y_test) = train_test_split(x, y, TEST_FRACTION)
    sizes = [2, HIDDEN, HIDDEN, NUM_CLASSES]
    params = init_mlp(sizes)
    velocities = [mg.zeros_like(p) for p in params]
    n_params = sum(p.numel() for p in params)
    print(f"minigrad demo: 3-class spirals, {len(x_train)} train / {len(x_test)} test points")
    print(f"model: MLP {' -> '.join(map(str, sizes))}, ReLU, {n_params:,} parameters; "
          f"SGD lr={LEARNING_RATE} momentum={MOMENTUM}, batch {BATCH_SIZE}, {steps} steps, "
          f"seed {args.seed}")

    log_every = max(1, steps // LOG_LINES)
    history = []
    n_train = len(x_train)
    order = mg.randperm(n_train)
    cursor = 0
    for step in range(1, steps + 1):
        if cursor + BATCH_SIZE > n_train:  # a new epoch: reshuffle
            order, cursor = mg.randperm(n_train), 0
        batch = order[cursor:cursor + BATCH_SIZE]
        cursor += BATCH_SIZE

        loss = F.cross_entropy(mlp(params, x_train[batch]), y_train[batch])
        if step == 1:
            print(describe_graph(loss))
        loss.backward()
        sgd_momentum_step(params, velocities, LEARNING_RATE, MOMENTUM)

        if step == 1 or step % log_every == 0 or step == steps:
            with mg.no_grad():
                logits = mlp(params, x_train)
                train_loss = F.cross_entropy(logits, y_train).item()
                train_acc = accuracy(logits, y_train)
            history.append({"step": step, "loss": train_loss, "train_accuracy": train_acc})
            print(f"step {step:5d}  train loss {train_loss:.4f}  train accuracy {train_acc:6.1%}")

    with mg.no_grad():
        test_acc = accuracy(mlp(params, x_test), y_test)
    seconds = time.perf_counter() - start
    print(f"test accuracy {test_acc:.1%} on {len(x_test)} held-out points")
    print(f"time {seconds:.1f} s ({steps / seconds:.0f} steps/s)")

    if args.out is not None:
        path = _json_path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "task": "spirals-3class",
            "model": {"sizes": sizes, "activation": "relu", "parameters": n_params},
            "settings": {"steps": steps, "seed": args.seed, "batch_size": BATCH_SIZE,
                         "lr": LEARNING_RATE, "momentum": MOMENTUM,
                         "points_per_class": POINTS_PER_CLASS, "noise": NOISE,
                         "train_points": len(x_train), "test_points": len(x_test)},
            "history": history,
            "final_loss": history[-1]["loss"],
            "train_accuracy": history[-1]["train_accuracy"],
            "test_accuracy": test_acc,
            "seconds": seconds,
        }
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _json_path(out: str) -> Path:
    """`--out` names a .json file, or a directory that gets `demo.json`."""
    path = Path(out)
    return path if path.suffix == ".json" else path / "demo.json"
