"""FLOP formulas, one per op (`Function` class), for the forward and for the backward.

Conventions (see docs/concepts/cost.md for the derivations):

- A multiply-add counts as 2 FLOPs. Some tools (ptflops, fvcore, torchinfo's "Mult-Adds")
  count multiply-accumulates (MACs) instead; divide our matmul-like counts by 2 to compare.
- Matrix products: C = A B with A (..., M, K), B (..., K, N) costs 2 M N K per product, times
  the broadcast batch size. Its backward computes dA = G B^T and dB = A^T G, each as costly
  as the forward: 2x forward when both gradients are needed, 1x when only one is.
- Convolution (im2col + one matrix product): 2 N Cout OH OW (C / groups) kh kw, plus
  N Cout OH OW for the bias; backward 2 N Cout OH OW (C / groups) kh kw for each of dx and
  dweight, and N Cout OH OW (a sum) for dbias.
- Elementwise ops: 1 FLOP per output element, whatever the function (exp, tanh, gelu and
  sigmoid count 1 too, although each takes 10-30 machine instructions). Their backward: 1 FLOP
  per output element per input that gets a gradient (the multiplication by the local
  derivative; evaluating the derivative itself is not counted).
- Reductions (sum, mean, max, ...): 1 FLOP per input element; multi-pass ones count each pass
  (var: mean, subtract, square, sum = 4). Backward: 1 per input element (spreading the
  gradient back), again per pass where it recomputes.
- Data movement (reshape, transpose, cat, indexing, casts, copies): 0 FLOPs; a backward that
  sums copies (expand, tile) or scatter-adds (advanced indexing, gather, embedding) costs
  1 FLOP per gradient element it adds.
- Fused ops (softmax, layer/batch norm, attention, losses) count the elementwise operations
  of their NumPy reference in `kernels/reference/`, per element; per-row work (a square
  root per row, say) is left out. Softmax = 5 per element (max, subtract, exp, sum, divide).

A formula receives the op's arguments with every array replaced by its shape (options such
as `dim` or `stride` as given) and the output's shape; a backward formula also receives
`needs`, one bool per argument: did backward return a gradient for it?
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minigrad.autograd.function import Function
from minigrad.nn.functional.affine import Linear
from minigrad.nn.functional.attention import FlashAttention, ScaledDotProductAttention
from minigrad.nn.functional.conv import Conv2d
from minigrad.nn.functional.loss import BinaryCrossEntropyWithLogits, CrossEntropy, NLLLoss
from minigrad.nn.functional.normalization import BatchNorm, LayerNorm
from minigrad.nn.functional.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minigrad.nn.functional.sparse import Embedding
from minigrad.ops import arithmetic, copying, indexing, pointwise, reduce, shape
from minigrad.ops.linalg import MatMul
from minigrad.ops.softmax_ops import LogSoftmax, Softmax

ForwardFormula = Callable[[tuple, tuple], int]
BackwardFormula = Callable[[tuple, tuple, tuple], int]


@dataclass(frozen=True)
class FlopFormula:
    """How many FLOPs an op's forward and backward cost, from shapes.

    Attributes:
        forward: `forward(inputs, output_shape) -> int`.
        backward: `backward(inputs, output_shape, needs) -> int`.
    """

    forward: ForwardFormula
    backward: BackwardFormula


FORMULAS: dict[type, FlopFormula] = {}


def register_flop_formula(op: type, forward: ForwardFormula,
                          backward: BackwardFormula | None = None) -> None:
    """Teach the profiler the cost of `op` (a `Function` subclass), e.g. a custom op.

    Args:
        op: the Function subclass.
        forward: `forward(inputs, output_shape) -> int`, with arrays given as shapes.
        backward: `backward(inputs, output_shape, needs) -> int`; None means 0 (an op
            without a gradient).

    Raises:
        TypeError: `op` is not a Function subclass.
    """
    if not (isinstance(op, type) and issubclass(op, Function)):
        raise TypeError(f"register_flop_formula: expected a Function subclass, got {op!r}")
    FORMULAS[op] = FlopFormula(forward, backward or _zero_backward)


def find_formula(op: type) -> FlopFormula | None:
    """The formula of `op` or of its nearest registered base class; None if unknown."""
    for klass in op.__mro__:
        if klass is Function:
            return None
        formula = FORMULAS.get(klass)
        if formula is not None:
            return formula
    return None


def shapes_of(inputs) -> tuple:
    """The op's arguments with arrays replaced by their shapes (also inside tuples/lists), so
    that a record of them keeps no array alive."""
    return tuple(_shape_or_value(a) for a in inputs)


def _shape_or_value(a):
    if isinstance(a, (np.ndarray, np.generic)):
        return a.shape
    if isinstance(a, (tuple, list)) and any(isinstance(x, np.ndarray) for x in a):
        return tuple(_shape_or_value(x) for x in a)
    return a


def numel(shape: tuple) -> int:
    return math.prod(shape)


# -- generic families ---------------------------------------------------------------------------

def _zero(inputs: tuple, out: tuple) -> int:
    return 0


def _zero_backward(inputs: tuple, out: tuple, needs: tuple) -> int:
    return 0


def _elementwise(inputs: tuple, out: tuple) -> int:
    return numel(out)


def _elementwise_backward(inputs: tuple, out: tuple, needs: tuple) -> int:
    return numel(out) * sum(needs)


def _scatter_backward(inputs: tuple, out: tuple, needs: tuple) -> int:
    """Summing or scatter-adding the output gradient into the input's: 1 per gradient element."""
    return numel(out) if any(needs) else 0


def _reduction(forward_passes: int, backward_passes: int) -> FlopFormula:
    """A reduction over inputs[0] reading each element `forward_passes` times."""
    def forward(inputs: tuple, out: tuple) -> int:
        return forward_passes * numel(inputs[0])

    def backward(inputs: tuple, out: tuple, needs: tuple) -> int:
        return backward_passes * numel(inputs[0]) if needs[0] else 0

    return FlopFormula(forward, backward)


# -- matrix products ----------------------------------------------------------------------------

def matmul_flops(inputs: tuple, out: tuple) -> int:
    """2 M N K per product times the batch: the output has batch M N elements, each a K-long
    dot product (K multiplies and K adds; counting K - 1 adds would be exact, 2K is the
    convention). 1-D operands are vectors (M = 1 or N = 1), as in `matmul`."""
    a = inputs[0]
    return 2 * numel(out) * a[-1]


def matmul_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """dA = G B^T and dB = A^T G: each is a product of the forward's size."""
    return matmul_flops(inputs, out) * (needs[0] + needs[1])


def linear_flops(inputs: tuple, out: tuple) -> int:
    """y = x W^T + b: 2 in FLOPs per output element (out has M out_features of them), plus one
    add per output for the bias."""
    x, bias = inputs[0], inputs[2]
    return 2 * numel(out) * x[-1] + (numel(out) if bias is not None else 0)


def linear_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """dX = G W and dW = G^T X are the forward product each; db sums G's M rows."""
    product = 2 * numel(out) * inputs[0][-1]
    return product * (needs[0] + needs[1]) + numel(out) * needs[2]


def conv2d_flops(inputs: tuple, out: tuple) -> int:
    """Each output element (N Cout OH OW of them) is a dot product over (C / groups) kh kw
    inputs: weight[1:] is (C / groups, kh, kw). Plus one add per output for the bias."""
    weight, bias = inputs[1], inputs[2]
    return 2 * numel(out) * numel(weight[1:]) + (numel(out) if bias is not None else 0)


def conv2d_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """dx = col2im(W^T G) and dW = G cols^T are the forward product each; db sums G."""
    product = 2 * numel(out) * numel(inputs[1][1:])
    return product * (needs[0] + needs[1]) + numel(out) * needs[2]


# -- attention, softmax, normalisation ----------------------------------------------------------

def _attention_scores(inputs: tuple, out: tuple) -> int:
    """B L S: batch times queries (all of out but its last dim) times keys."""
    return numel(out[:-1]) * inputs[1][-2]


def attention_flops(inputs: tuple, out: tuple) -> int:
    """2 B L S E (Q K^T) + 2 B L S Ev (P V) + per score: scale 1, softmax 5, mask 1 if any,
    dropout 1 if any (`kernels.reference.attention_forward`)."""
    q, _, v, bias, _, dropout = inputs
    scores = _attention_scores(inputs, out)
    per_score = 1 + 5 + (bias is not None) + (dropout is not None)
    return 2 * scores * (q[-1] + v[-1]) + per_score * scores


def attention_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """Four products (dV = P^T G, dP = G V^T, dQ = dS K, dK = dS^T Q): 4 B L S (E + Ev); per
    score: softmax backward 4, scale 1, dropout 2 if any. The reference computes all four
    gradients whatever `needs` says, so all are counted."""
    q, _, v, _, _, dropout = inputs
    scores = _attention_scores(inputs, out)
    return 4 * scores * (q[-1] + v[-1]) + (5 + 2 * (dropout is not None)) * scores


def flash_attention_flops(inputs: tuple, out: tuple) -> int:
    """As `attention_flops` with no dropout (inputs: q, k, v, bias, scale, is_causal); the
    causal blocks the kernel skips are counted, as in the reference, so both backends agree
    (is_causal counts as a mask, 1 per score, as the reference's -inf bias does)."""
    q, k, v, bias, scale, is_causal = inputs
    masked = bias if bias is not None else (() if is_causal else None)
    return attention_flops((q, k, v, masked, scale, None), out)


def flash_attention_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """As `attention_backward_flops` with no dropout; the recomputation of P is not counted."""
    return attention_backward_flops(inputs[:5] + (None,), out, needs)


def cross_entropy_flops(inputs: tuple, out: tuple) -> int:
    """The fused kernel does what log_softmax then nll_loss do: 5 per logit, 2 per row."""
    rows = numel(inputs[1])
    return 5 * numel(inputs[0]) + rows * (1 if inputs[3] == "none" else 2)


def cross_entropy_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """softmax - target per logit, counted as log_softmax's 4 plus nll's 1 per row."""
    return 4 * numel(inputs[0]) + numel(inputs[1]) if needs[0] else 0


def _softmax_backward(inputs: tuple, out: tuple, needs: tuple) -> int:
    """softmax: y (g - sum(g y)); log_softmax: g - exp(z) sum(g): 4 per element either way."""
    return 4 * numel(out) if needs[0] else 0


def layer_norm_flops(inputs: tuple, out: tuple) -> int:
    """mean, subtract, square, mean, scale by rstd: 5 per element; +1 weight, +1 bias."""
    x, weight, bias = inputs[:3]
    return numel(x) * (5 + (weight is not None) + (bias is not None))


def batch_norm_flops(inputs: tuple, out: tuple) -> int:
    """Training: mean, subtract, square, mean, subtract again, scale = 6 per element;
    evaluation (running statistics): subtract, scale = 2. +1 weight, +1 bias."""
    x, weight, bias, training = inputs[0], inputs[1], inputs[2], inputs[5]
    return numel(x) * ((6 if training else 2) + (weight is not None) + (bias is not None))


def _norm_backward(inputs: tuple, out: tuple, needs: tuple, training: bool) -> int:
    """x_hat again 2, g_hat 1 (with weight), dx 7 (1 with fixed statistics), dweight 2,
    dbias 1 (`kernels.reference.layer_norm_backward`; all computed whatever `needs` says)."""
    x, weight = inputs[0], inputs[1]
    return numel(x) * (2 + (weight is not None) + (7 if training else 1) + 2 + 1)


def layer_norm_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    return _norm_backward(inputs, out, needs, training=True)


def batch_norm_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    return _norm_backward(inputs, out, needs, training=bool(inputs[5]))


# -- pooling, embedding, losses -----------------------------------------------------------------

def max_pool2d_flops(inputs: tuple, out: tuple) -> int:
    """One comparison per window element per output: N C OH OW kh kw (the forward's
    arguments are x, values, indices, kernel_size). When the windows tile the input this is
    one per input element."""
    kh, kw = inputs[3]
    return numel(out) * kh * kw


def avg_pool2d_flops(inputs: tuple, out: tuple) -> int:
    """kh kw adds and 1 divide per output (also for the backward, which spreads it back)."""
    kh, kw = inputs[1]
    return numel(out) * (kh * kw + 1)


def adaptive_avg_pool2d_flops(inputs: tuple, out: tuple) -> int:
    """Each input element is added once (bins tile the input when sizes divide) and each
    output divided once."""
    return numel(inputs[0]) + numel(out)


def nll_loss_flops(inputs: tuple, out: tuple) -> int:
    """-weight[t] log p[t] per target: 1; the sum or mean of the targets: 1 more."""
    n = numel(inputs[1])
    return n * (1 if inputs[4] == "none" else 2)


def nll_loss_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    return numel(inputs[1]) if needs[0] else 0


def bce_with_logits_flops(inputs: tuple, out: tuple) -> int:
    """(1 - y) x + w softplus(-x), softplus(z) = max(z, 0) + log1p(exp(-|z|)): 11 per element;
    +3 with pos_weight (1 + (p - 1) y), +1 with weight."""
    weight, pos_weight = inputs[2], inputs[3]
    return numel(out) * (11 + 3 * (pos_weight is not None) + (weight is not None))


def bce_with_logits_backward_flops(inputs: tuple, out: tuple, needs: tuple) -> int:
    """dx = g ((1 - y) - w sigmoid(-x)): 9 per element (+3 pos_weight); dy = -g x: 2 (+8
    pos_weight, for its softplus); +1 with weight."""
    weight, pos_weight = inputs[2], inputs[3]
    pw = pos_weight is not None
    per = (weight is not None) + needs[0] * (9 + 3 * pw) + needs[1] * (2 + 8 * pw)
    return numel(out) * per


# -- the table ----------------------------------------------------------------------------------

_ELEMENTWISE = (
    arithmetic.Add, arithmetic.Sub, arithmetic.Mul, arithmetic.Div, arithmetic.Pow,
    arithmetic.Neg, arithmetic.Remainder, arithmetic.Maximum, arithmetic.Minimum,
    pointwise.Exp, pointwise.Log, pointwise.Log1p, pointwise.Sqrt, pointwise.Rsqrt,
    pointwise.Reciprocal, pointwise.Abs, pointwise.Sin, pointwise.Cos, pointwise.Tanh,
    pointwise.Sigmoid, pointwise.Relu, pointwise.LeakyRelu, pointwise.Gelu, pointwise.Silu,
    pointwise.Clamp,
)
_DATA_MOVEMENT = (
    shape.Reshape, shape.Permute, shape.Contiguous, shape.Cat, shape.Stack, shape.Narrow,
    shape.Pad, indexing.BasicIndex, indexing.IndexPut, indexing.Where, copying.Clone,
    copying.Cast, copying.Fill, copying.CopyFrom, copying.CopySlices,
)
_SCATTERING = (shape.Expand, shape.Tile, indexing.AdvancedIndex, indexing.IndexSelect,
               indexing.Gather)



def _when_needed(formula: ForwardFormula) -> BackwardFormula:
    """A backward that costs what the forward did, when the input needs a gradient."""
    def backward(inputs: tuple, out: tuple, needs: tuple) -> int:
        return formula(inputs, out) if needs[0] else 0

    return backward


def _softmax_flops(inputs: tuple, out: tuple) -> int:
    """max, subtract, exp, sum, divide (log_softmax: max, subtract, exp, sum, subtract)."""
    return 5 * numel(out)


def _build_table() -> None:
    for op in _ELEMENTWISE:
        register_flop_formula(op, _elementwise, _elementwise_backward)
    register_flop_formula(pointwise.ZeroGradient, _elementwise)  # floor, round...: gradient 0
    for op in _DATA_MOVEMENT:
        register_flop_formula(op, _zero)
    for op in _SCATTERING:
        register_flop_formula(op, _zero, _scatter_backward)
    passes = {reduce.Sum: (1, 1), reduce.Mean: (1, 1), reduce.Extremum: (1, 1),
              reduce.Prod: (1, 3), reduce.Var: (4, 3), reduce.Std: (4, 3),
              reduce.LogSumExp: (4, 3), reduce.Norm: (2, 2)}
    for op, (forward, backward) in passes.items():
        FORMULAS[op] = _reduction(forward, backward)
    register_flop_formula(MatMul, matmul_flops, matmul_backward_flops)
    register_flop_formula(Linear, linear_flops, linear_backward_flops)
    register_flop_formula(Conv2d, conv2d_flops, conv2d_backward_flops)
    register_flop_formula(ScaledDotProductAttention, attention_flops, attention_backward_flops)
    register_flop_formula(FlashAttention, flash_attention_flops, flash_attention_backward_flops)
    register_flop_formula(CrossEntropy, cross_entropy_flops, cross_entropy_backward_flops)
    register_flop_formula(Softmax, _softmax_flops, _softmax_backward)
    register_flop_formula(LogSoftmax, _softmax_flops, _softmax_backward)
    register_flop_formula(LayerNorm, layer_norm_flops, layer_norm_backward_flops)
    register_flop_formula(BatchNorm, batch_norm_flops, batch_norm_backward_flops)
    register_flop_formula(MaxPool2d, max_pool2d_flops, _scatter_backward)
    register_flop_formula(AvgPool2d, avg_pool2d_flops, _when_needed(avg_pool2d_flops))
    register_flop_formula(AdaptiveAvgPool2d, adaptive_avg_pool2d_flops,
                          _when_needed(adaptive_avg_pool2d_flops))
    register_flop_formula(Embedding, _zero, _scatter_backward)
    register_flop_formula(NLLLoss, nll_loss_flops, nll_loss_backward_flops)
    register_flop_formula(BinaryCrossEntropyWithLogits, bce_with_logits_flops,
                          bce_with_logits_backward_flops)


_build_table()
