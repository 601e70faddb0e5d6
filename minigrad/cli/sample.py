"""`minigrad sample --checkpoint CKPT`: continue a prompt with a trained character GPT.

The checkpoint carries the model's configuration and its vocabulary (the characters of the
corpus it was trained on), so sampling needs neither the corpus nor the training code.
"""

from __future__ import annotations

import argparse

import minigrad as mg
from minigrad.cli.errors import CommandError
from minigrad.cli.train import load_model


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int, temperature: float = 0.8,
                  top_k: int | None = None) -> str:
    """`prompt` followed by `max_new_tokens` sampled characters (global generator)."""
    if not prompt:
        raise CommandError("the prompt must hold at least one character")
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as exc:  # a character the corpus never had: the model has no id for it
        raise CommandError(f"--prompt: {exc}") from None
    idx = mg.tensor([ids], dtype=mg.int64)
    out = model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k)
    return tokenizer.decode(out[0])


def run(args: argparse.Namespace) -> int:
    model, recipe = load_model(args.checkpoint)
    if recipe.name != "gpt":
        raise CommandError(f"{args.checkpoint} holds a `{recipe.name}` model; only "
                           "`minigrad train gpt` checkpoints generate text")
    if args.max_new_tokens < 0 or not args.temperature > 0 or (args.top_k is not None
                                                              and args.top_k < 1):
        raise CommandError(f"need --max-new-tokens >= 0, --temperature > 0 and --top-k >= 1; "
                           f"got {args.max_new_tokens}, {args.temperature} and {args.top_k}")
    mg.manual_seed(args.seed)
    print(generate_text(model, recipe.tokenizer, args.prompt, args.max_new_tokens,
                        args.temperature, args.top_k))
    return 0
