# %% [markdown]
# # 03 - A character-level GPT on the Python standard library, and what it costs
#
# A GPT predicts the next token from the ones before it. Here the tokens are characters and
# the text is the Python standard library's own source (docstrings, comments and code from
# a fixed list of modules, read from your Python install: nothing is downloaded).
#
# 1. the corpus, a character tokenizer, and next-character windows;
# 2. the number to beat: the best *bigram* model (next character from the current one);
# 3. the model: token and position embeddings, pre-norm transformer blocks with causal
#    self-attention, weight tying; its parameters and FLOPs, layer by layer;
# 4. training with AdamW, warm-up then cosine decay, gradient clipping; tokens per second;
# 5. the cost: counted FLOPs against the 6 N rule of thumb, and peak memory of a step;
# 6. sampling text.
#
# `MINIGRAD_FAST=1` trains for a few steps only (CI); comments quote a full run.

# %%
import math
import os
import time

import numpy as np

import minigrad as mg
from minigrad import optim
from minigrad.datasets import StdlibText
from minigrad.models import GPT, GPTConfig
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from minigrad.profiler import FlopCounter, MemoryTracker, profile
from minigrad.utils.data import DataLoader, RandomSampler, Subset

FAST = os.environ.get("MINIGRAD_FAST", "0") not in ("", "0")
STEPS = 6 if FAST else 300
BATCH_SIZE, BLOCK_SIZE = (8, 64) if FAST else (32, 64)
mg.manual_seed(0)

# %% [markdown]
# ## 1. The corpus and the tokenizer
#
# `StdlibText` reads the corpus, builds a `CharTokenizer` over its characters (id k is the
# k-th character in sorted order), keeps the first 90% for training and the last 10% for
# validation. Item i is a window of `BLOCK_SIZE` characters and the same window shifted by
# one: position t of the target is the character that follows positions 0..t of the input.

# %%
train_set = StdlibText("train", block_size=BLOCK_SIZE)
val_set = StdlibText("val", block_size=BLOCK_SIZE)
tokenizer = train_set.tokenizer
print(f"{len(train_set.text):,} training and {len(val_set.text):,} validation characters; "
      f"vocabulary of {tokenizer.vocab_size}; corpus fingerprint {train_set.fingerprint}")
print("encode('def f(x):') =", tokenizer.encode("def f(x):"))
x, y = train_set[1000]
print(f"input : {tokenizer.decode(x[:40])!r}")
print(f"target: {tokenizer.decode(y[:40])!r}")

# %% [markdown]
# ## 2. The number to beat: a bigram model
#
# Count how often each character follows each other character in the training text; the
# best prediction of the next character from the current one alone is those counts,
# normalised (with add-one smoothing so that no probability is 0). Its cross-entropy on the
# validation text, in nats per character, is what a model with context must beat.

# %%
vocab = tokenizer.vocab_size
counts = np.ones((vocab, vocab))
np.add.at(counts, (train_set.tokens[:-1], train_set.tokens[1:]), 1)
log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))
bigram_loss = -log_probs[val_set.tokens[:-1], val_set.tokens[1:]].mean()
print(f"uniform guess: {math.log(vocab):.3f} nats/char; bigram model: {bigram_loss:.3f}")

# %% [markdown]
# ## 3. The model
#
# nanoGPT's layout (Radford et al. 2019): `wte` embeds tokens, `wpe` positions; each block
# is `x + attn(ln_1(x))` then `x + mlp(ln_2(x))` (pre-norm); the causal mask lets position t
# attend to positions <= t only; `lm_head` shares its weight with `wte` (weight tying).
# `minigrad.profiler.profile` runs one forward and tabulates every layer.

# %%
config = GPTConfig(vocab_size=vocab, block_size=BLOCK_SIZE, n_layer=3, n_head=4, n_embd=96)
model = GPT(config)
example = next(iter(DataLoader(train_set, batch_size=BATCH_SIZE)))
model.eval()
print(profile(model, example[0], repeat=3))
model.train()

# %% [markdown]
# ## 4. Training
#
# AdamW with decoupled weight decay; the learning rate rises linearly for the first 5% of
# the steps (warm-up: Adam's second-moment estimates are poor at first), then follows a
# cosine down to 0. Gradients are clipped to norm 1. Batches are random windows of the
# training text (`RandomSampler` with replacement).


# %%
def validation_loss(model, windows=256):
    """Mean loss over fixed, evenly spaced validation windows."""
    starts = np.linspace(0, len(val_set) - 1, num=windows).astype(int).tolist()
    total = 0.0
    model.eval()
    with mg.no_grad():
        for tokens, targets in DataLoader(Subset(val_set, starts), batch_size=64):
            total += model(tokens, targets)[1].item() * tokens.shape[0]
    model.train()
    return total / windows


optimizer = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
warmup = max(1, STEPS // 20)
schedule = SequentialLR(optimizer, [
    LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
    CosineAnnealingLR(optimizer, T_max=STEPS - warmup),
], milestones=[warmup])
sampler = RandomSampler(train_set, replacement=True, num_samples=STEPS * BATCH_SIZE)
loader = DataLoader(train_set, batch_size=BATCH_SIZE, sampler=sampler)

start = time.perf_counter()
for step, (tokens, targets) in enumerate(loader, start=1):
    _, loss = model(tokens, targets)
    optimizer.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    if step % max(1, STEPS // 6) == 0 or step == STEPS:
        rate = step * BATCH_SIZE * BLOCK_SIZE / (time.perf_counter() - start)
        print(f"step {step:4d}  loss {loss.item():.3f}  lr {schedule.get_last_lr()[0]:.2e}  "
              f"{rate:,.0f} tokens/s")
val = validation_loss(model)
print(f"validation loss {val:.3f} nats/char (bigram {bigram_loss:.3f}, uniform "
      f"{math.log(vocab):.3f})")

# %% [markdown]
# ## 5. What a training step costs
#
# For a transformer with N non-embedding parameters, a forward pass costs about 2 N FLOPs
# per token (each weight is one multiply-add) and the backward about 4 N (a gradient for
# the activations and one for the weights), hence the rule of thumb of 6 N FLOPs per
# training token (Kaplan et al. 2020). Attention adds 2 n_layer T d per token (forward) that
# the rule leaves out, and so does the output layer (2 d V per token). Below: the counter's
# exact count next to the rule, and the peak memory of live arrays during one step.

# %%
tokens, targets = example
with MemoryTracker() as memory, FlopCounter() as counter:
    _, loss = model(tokens, targets)
    loss.backward()
optimizer.zero_grad()
n_tokens = tokens.numel()
n_params = model.num_parameters(non_embedding=True)
print(f"non-embedding parameters N = {n_params:,}")
print(f"counted: {counter.total_flops / n_tokens:,.0f} FLOPs per token "
      f"(forward {counter.forward_flops / n_tokens:,.0f}, backward "
      f"{counter.backward_flops / n_tokens:,.0f})")
print(f"6 N rule of thumb: {6 * n_params:,} FLOPs per token")
print(f"peak memory of live arrays in the step: {memory.peak_bytes / 1e6:.1f} MB "
      f"(parameters: {sum(p.numel() for p in model.parameters()) * 4 / 1e6:.1f} MB)")

# %% [markdown]
# ## 6. Sampling
#
# `generate` feeds the prompt, samples the next character from the softmax of the last
# position's logits (divided by a temperature: lower is more conservative), appends it, and
# repeats. `top_k` keeps only the k most likely characters.

# %%
model.eval()
prompt = mg.tensor([tokenizer.encode("def ")], dtype=mg.int64)
for temperature in (0.5, 1.0):
    mg.manual_seed(0)
    out = model.generate(prompt, 120, temperature=temperature, top_k=20)
    print(f"--- temperature {temperature}\n{tokenizer.decode(out[0])}\n")
