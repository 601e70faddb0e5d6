"""`minigrad profile {mlp,cnn,gpt}`: where a model's parameters, FLOPs and time go.

Builds the model `minigrad train` would train (freshly initialised: cost does not depend on
the weights' values), takes one batch of its data, and prints two `minigrad.profiler.profile`
tables: inference (forward under `no_grad`) and one training step (forward, loss, backward).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import minigrad as mg
from minigrad.cli.recipes import get_recipe
from minigrad.profiler import profile
from minigrad.utils.data import DataLoader


def run(args: argparse.Namespace) -> int:
    recipe = get_recipe(args.model)
    recipe.load_data()
    batch_size = args.batch_size or recipe.defaults.batch_size
    mg.manual_seed(0)
    model = recipe.build_model()
    batch = next(iter(DataLoader(recipe.train_set, batch_size=batch_size)))
    inputs = tuple(batch[:1]) if recipe.name != "gpt" else tuple(batch)
    labels = batch[1]

    def training_loss(output):
        # the recipe's loss, given the output the profiler already computed
        if recipe.name == "gpt":
            return output[1]
        return mg.nn.functional.cross_entropy(output, labels)

    model.eval()
    inference = profile(model, inputs[:1], repeat=args.repeat)
    model.train()
    training = profile(model, inputs, backward=True, loss_fn=training_loss, repeat=args.repeat)
    print(f"minigrad profile {recipe.name}: {recipe.description}, batch {batch_size}\n")
    print("Inference (forward, no_grad)")
    print(inference)
    print("\nTraining step (forward, loss, backward)")
    print(training)
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model": recipe.name, "batch_size": batch_size,
                                    "inference": inference.to_dict(),
                                    "training": training.to_dict()}, indent=2) + "\n")
        print(f"\nwrote {path}")
    return 0
