"""A GPT language model (Radford et al. 2019, GPT-2), written after Karpathy's nanoGPT.

    config = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    model = GPT(config)
    logits, loss = model(idx, targets)          # idx, targets: (B, T) int64
    out = model.generate(idx, max_new_tokens=100, temperature=0.8, top_k=10)

A decoder-only transformer. Token and position embeddings are added, then `n_layer` blocks:

    x = x + attn(ln_1(x))      causal multi-head self-attention
    x = x + mlp(ln_2(x))       Linear(C, 4C) -> GELU -> Linear(4C, C)

then a final LayerNorm and `lm_head`, a Linear from C to the vocabulary whose weight *is* the
token embedding table (weight tying, Press & Wolf 2017): one (vocab_size, n_embd) Parameter
serves both as the input lookup and as the output projection.

The LayerNorm comes *before* each sub-layer (pre-norm, GPT-2 Sec. 2.3), so the residual
stream x is a plain sum that gradients reach unchanged from the loss.

Module and parameter names are nanoGPT's (`transformer.wte`, `transformer.h.0.attn.c_attn`,
`lm_head`, ...), so a state dict loads into nanoGPT's `model.py` (PyTorch >= 2, whose
attention has no `attn.bias` mask buffer) key for key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.random import Generator, _numpy_generator
from minigrad.tensor import Tensor


@dataclass
class GPTConfig:
    """The hyper-parameters of a GPT.

    Args:
        vocab_size: number of token ids (rows of the embedding table).
        block_size: longest sequence the model reads (rows of the position table).
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide n_embd.
        n_embd: width C of the residual stream.
        dropout: dropout probability on the embeddings, attention weights and residual
            branches (training mode only).
        bias: give the Linears and LayerNorms biases (GPT-2 does; False is a little
            faster and, at scale, no worse).
        gelu_approximate: the MLP's GELU, "tanh" (GPT-2's approximation, the default:
            tanh is a native NumPy ufunc, while the exact form needs an erf evaluated in
            Python, which made it 40% of a training step) or "none" (exact, as nanoGPT).
            The two differ by less than 1e-3 at any input.
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True
    gelu_approximate: str = "tanh"

    def __post_init__(self) -> None:
        sizes = {name: getattr(self, name)
                 for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")}
        for name, value in sizes.items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPTConfig: {name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head})")
        if self.gelu_approximate not in ("none", "tanh"):
            raise ValueError(f"GPTConfig: gelu_approximate must be 'none' or 'tanh', got "
                             f"{self.gelu_approximate!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions 0..t only.

    One Linear `c_attn` makes queries, keys and values for all heads at once (C -> 3C); they
    are split, reshaped to (B, n_head, T, C / n_head) so that every head is one batch entry
    of a single `F.scaled_dot_product_attention(..., is_causal=True)` call (no loop over
    heads), merged back to (B, T, C) and projected by `c_proj`.

    Shape:
        (B, T, C) -> (B, T, C).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        head_size = width // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(batch, length, self.n_head, head_size).transpose(1, 2)
        k = k.view(batch, length, self.n_head, head_size).transpose(1, 2)
        v = v.view(batch, length, self.n_head, head_size).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training
                                           else 0.0, is_causal=True)
        y = y.transpose(1, 2).reshape(batch, length, width)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The block's feed-forward part: Linear(C, 4C) -> GELU -> Linear(4C, C) -> Dropout.

    Shape:
        (B, T, C) -> (B, T, C).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu_approximate)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Parameters (bias=True): 12 C^2 + 13 C (c_attn 3C^2 + 3C, attn.c_proj C^2 + C, c_fc 4C^2
    + 4C, mlp.c_proj 4C^2 + C, two LayerNorms 2C each).

    Shape:
        (B, T, C) -> (B, T, C).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2-style language model with tied input/output embeddings.

    Initialisation (nanoGPT, following GPT-2): every Linear and Embedding weight ~ N(0, 0.02),
    biases 0, LayerNorms 1 and 0, and the two residual projections of each block
    (`attn.c_proj.weight`, `mlp.c_proj.weight`) ~ N(0, 0.02 / sqrt(2 n_layer)) so that the
    residual stream's variance does not grow with depth (GPT-2 Sec. 2.3). Draws from
    minigrad's global generator: `minigrad.manual_seed(s)` fixes the model.

    Deviation from nanoGPT: `forward` always returns the logits of *every* position, also
    without targets (nanoGPT returns only the last position's at inference, to save the
    (B, T, vocab) projection). Every position is what the causal tests and teacher-forced
    evaluation need; `generate` keeps the last row itself.

    Args:
        config: the GPTConfig.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config.vocab_size, config.n_embd),
            "wpe": nn.Embedding(config.block_size, config.n_embd),
            "drop": nn.Dropout(config.dropout),
            "h": nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            "ln_f": nn.LayerNorm(config.n_embd, bias=config.bias),
        })
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: one Parameter, so parameters() yields it once and both uses add
        # their gradients into the same .grad
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=residual_std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Number of parameters, the tied embedding counted once.

        Args:
            non_embedding: leave out the position embeddings (block_size * n_embd), as
                nanoGPT's `get_num_params` does. The token embeddings stay in: they are
                also the weight of `lm_head`.

        Returns:
            The count.
        """
        count = sum(p.numel() for p in self.parameters())
        if non_embedding:
            count -= self.transformer.wpe.weight.numel()
        return count

    def forward(self, idx: Tensor, targets: Tensor | None = None
                ) -> tuple[Tensor, Tensor | None]:
        """Next-token logits for every position, and the loss when targets are given.

        Args:
            idx: (B, T) int64 token ids, T <= block_size.
            targets: (B, T) int64 ids of the next tokens, or None; -1 marks positions to leave
                out of the loss (nanoGPT's ignore_index).

        Returns:
            logits: (B, T, vocab_size) float tensor (every position; see the class docstring).
            loss: mean cross-entropy over all positions (a 0-d tensor), or None without
                targets.

        Raises:
            TypeError: idx or targets is not a Tensor.
            ValueError: idx is not 2-D int64, T exceeds block_size, or targets' shape or
                dtype differ from idx's.
        """
        _check_ids(idx, "idx")
        batch, length = idx.shape
        if length > self.config.block_size:
            raise ValueError(f"GPT: cannot forward a sequence of length {length}: block_size is "
                             f"only {self.config.block_size}")
        positions = minigrad.arange(0, length, dtype=minigrad.int64)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        _check_ids(targets, "targets")
        if targets.shape != idx.shape:
            raise ValueError(f"GPT: targets must have idx's shape {idx.shape}, got "
                             f"{targets.shape}")
        loss = F.cross_entropy(logits.reshape(batch * length, -1), targets.reshape(-1),
                               ignore_index=-1)
        return logits, loss

    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: Generator | None = None) -> Tensor:
        """Extend each sequence by sampling `max_new_tokens` tokens, one at a time.

        Each step feeds the last block_size tokens, divides the last position's logits by
        `temperature`, keeps only the `top_k` largest (the others become -inf, ties with the
        k-th kept), and samples from the softmax. Runs under `minigrad.no_grad()`; call
        `model.eval()` first when the model has dropout.

        Args:
            idx: (B, T) int64 prompt token ids (T >= 1; longer than block_size is fine).
            max_new_tokens: number of tokens to append (>= 0).
            temperature: > 0; below 1 sharpens the distribution, above 1 flattens it. For
                greedy decoding use top_k=1.
            top_k: sample among the k most likely tokens only (None: all). Values above
                vocab_size mean all.
            generator: a minigrad Generator; None uses the global one, so
                `minigrad.manual_seed(s)` makes the output reproducible.

        Returns:
            (B, T + max_new_tokens) int64 tensor: the prompt followed by the sampled tokens.

        Raises:
            ValueError: bad idx, temperature <= 0, top_k < 1 or max_new_tokens < 0.
        """
        _check_ids(idx, "idx")
        if idx.shape[1] == 0:
            raise ValueError(f"GPT.generate: idx needs at least one token per sequence, got "
                             f"shape {idx.shape}")
        if max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be >= 0, got {max_new_tokens}")
        if not temperature > 0:
            raise ValueError(f"GPT.generate: temperature must be > 0, got {temperature} (for "
                             f"greedy decoding use top_k=1)")
        if top_k is not None and top_k < 1:
            raise ValueError(f"GPT.generate: top_k must be >= 1 or None, got {top_k}")
        rng = _numpy_generator(generator)
        tokens = idx.numpy().copy()
        with minigrad.no_grad():
            for _ in range(max_new_tokens):
                context = minigrad.from_numpy(tokens[:, -self.config.block_size:])
                logits, _ = self(context)
                scores = logits.numpy()[:, -1, :].astype(np.float64) / temperature
                next_token = _sample(scores, top_k, rng)
                tokens = np.concatenate([tokens, next_token[:, None]], axis=1)
        return minigrad.from_numpy(tokens)


def _check_ids(ids: Tensor, name: str) -> None:
    if not isinstance(ids, Tensor):
        raise TypeError(f"GPT: {name} must be a minigrad Tensor of token ids, got "
                        f"{type(ids).__name__}")
    if ids.ndim != 2 or ids.dtype != minigrad.int64:
        raise ValueError(f"GPT: expected {name} to be a 2-D int64 tensor (B, T), got shape "
                         f"{ids.shape} and dtype {ids.dtype.name}")


def _sample(scores: np.ndarray, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    """One token per row of `scores` (B, V), drawn from softmax(scores) after top-k masking.

    Inverse-CDF sampling: with u uniform in [0, 1), the token is the first index whose
    cumulative probability exceeds u; masked tokens have probability 0 and are never drawn.
    """
    if top_k is not None and top_k < scores.shape[-1]:
        kth_largest = np.partition(scores, -top_k, axis=-1)[:, -top_k, None]
        scores = np.where(scores < kth_largest, -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(weights, axis=-1)
    threshold = rng.random(len(scores))[:, None] * cumulative[:, -1:]
    chosen = (cumulative <= threshold).sum(axis=-1)
    return np.minimum(chosen, scores.shape[-1] - 1).astype(np.int64)
