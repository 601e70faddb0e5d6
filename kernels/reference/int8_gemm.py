"""int8 GEMM: the integer matrix product of quantized inference, computed exactly in int64.

Quantization follows PyTorch's affine scheme (`torch.quantize_per_tensor`,
`torch.quantize_per_channel`): a real matrix is stored as 8-bit integers q (int8 or uint8)
with a `scale` and a `zero_point`,

    real = scale (q - zero_point),      q = clamp(round(real / scale) + zero_point, qmin, qmax)

where round is round-half-to-even (`np.rint`, `std::nearbyint`) and [qmin, qmax] is the
range of the 8-bit dtype. The zero point is the integer that stands for real 0, so that
zero padding and ReLU's 0 are exact. A linear layer out = x W^T + bias with a quantized
activation a (M, K) (scale a_scale, zero point za) and a quantized weight b = W^T (K, N)
(scale b_scale, per tensor or per output channel n; zero point zb) is

    out[m, n] = a_scale b_scale[n] acc[m, n] + bias[n],
    acc[m, n] = sum_k (a[m, k] - za) (b[k, n] - zb),

so its whole O(M N K) cost is the integer product acc. These references compute acc with
int64 arithmetic, which cannot overflow for any K up to 2^47 (each term is at most
255 * 255 in magnitude), and are the oracle the fast kernels are tested against bit for bit.

The gemmlowp identity (Jacob et al. 2018, "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference", Sec. 2.3, eq. 7-8; gemmlowp's
doc/low-precision.md) takes the zero points out of the inner loop:

    sum_k (a - za)(b - zb) = sum_k a b - zb rowsum(a)[m] - za colsum(b)[n] + K za zb,

with rowsum(a)[m] = sum_k a[m, k] and colsum(b)[n] = sum_k b[k, n]. The fast kernels
multiply the raw 8-bit values (what int8 dot-product instructions do) and add the three
correction terms afterwards, O(M N + M K + K N) work instead of O(M N K).

Operands may be int8 or uint8 independently (uint8 activations times int8 weights, as in
gemmlowp and FBGEMM, is the common case). Zero points must lie in their operand's range,
as PyTorch requires. The int32 output of `int8_gemm` is checked: a result that does not fit
raises OverflowError (uint8 x uint8 can reach 255 * 255 K, beyond int32 from K = 33,026);
the dequantize and requantize epilogues start from the exact value and have no such limit.

FLOPs: 2 M N K integer operations (a multiply-add counts as 2) for every function here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["int8_gemm", "int8_gemm_dequantize", "int8_gemm_requantize"]

INT8_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8))
INT32_RANGE = (-2**31, 2**31 - 1)


def _dtype_range(dtype: np.dtype) -> tuple:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _check_zero_point(op: str, name: str, zero_point, dtype: np.dtype) -> int:
    """zero_point as a Python int, checked to lie in dtype's range."""
    if isinstance(zero_point, (bool, np.bool_)) or not isinstance(zero_point,
                                                                   (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an integer, got {zero_point!r}")
    low, high = _dtype_range(dtype)
    if not low <= int(zero_point) <= high:
        raise ValueError(f"{op}: {name} {int(zero_point)} is outside the {dtype} range "
                         f"[{low}, {high}]")
    return int(zero_point)


def _check_operands(op: str, a: np.ndarray, b: np.ndarray, a_zero_point,
                    b_zero_point) -> tuple:
    """Validate a (M, K) and b (K, N) 8-bit matrices and their zero points.

    Returns:
        (za, zb) as Python ints.
    """
    for name, x, dims in (("a", a, "(M, K)"), ("b", b, "(K, N)")):
        if not isinstance(x, np.ndarray) or x.dtype not in INT8_DTYPES:
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"{op}: expected {name} of dtype int8 or uint8, got {got}")
        if x.ndim != 2:
            raise ValueError(f"{op}: expected a 2-D {name} {dims}, got shape {x.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align: "
                         f"{a.shape[1]} != {b.shape[0]}")
    return (_check_zero_point(op, "a_zero_point", a_zero_point, a.dtype),
            _check_zero_point(op, "b_zero_point", b_zero_point, b.dtype))


def _positive_finite(op: str, name: str, value: np.ndarray) -> None:
    if not (np.all(np.isfinite(value)) and np.all(value > 0)):
        raise ValueError(f"{op}: {name} must be positive and finite, got {value}")


def _check_scales(op: str, a_scale, b_scale, bias, n: int) -> tuple:
    """The per-column factors of the dequantization, out = acc scale + bias.

    Args:
        a_scale: positive scalar. b_scale: positive scalar (per tensor) or (N,) array (per
            output channel). bias: None or (N,) array. n: N, the number of output columns.

    Returns:
        (scale, bias), both (N,) float64: scale[n] = a_scale b_scale[n] (one float64
        product, done here once so that every kernel multiplies by the same numbers), and
        bias (zeros for None).
    """
    a_scale = np.asarray(a_scale, dtype=np.float64)
    b_scale = np.asarray(b_scale, dtype=np.float64)
    if a_scale.ndim != 0:
        raise ValueError(f"{op}: expected a scalar a_scale, got shape {a_scale.shape}")
    if b_scale.ndim not in (0, 1) or b_scale.ndim == 1 and b_scale.shape != (n,):
        raise ValueError(f"{op}: expected a scalar b_scale or one per output column, shape "
                         f"({n},), got shape {b_scale.shape}")
    _positive_finite(op, "a_scale", a_scale)
    _positive_finite(op, "b_scale", b_scale)
    scale = np.broadcast_to(a_scale * b_scale, (n,)).copy()
    if bias is None:
        return scale, np.zeros(n)
    bias = np.asarray(bias)
    if bias.shape != (n,) or bias.dtype.kind != "f":
        raise ValueError(f"{op}: expected a float bias of shape ({n},), got {bias.dtype} of "
                         f"shape {bias.shape}")
    return scale, bias.astype(np.float64)


def _check_output(op: str, out_scale, out_zero_point, out_dtype) -> tuple:
    """(out_scale as float, out_zero_point as int, out_dtype, qmin, qmax), validated."""
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in INT8_DTYPES:
        raise ValueError(f"{op}: out_dtype must be int8 or uint8, got {out_dtype}")
    _positive_finite(op, "out_scale", np.asarray(out_scale, dtype=np.float64))
    zero_point = _check_zero_point(op, "out_zero_point", out_zero_point, out_dtype)
    return (float(out_scale), zero_point, out_dtype, *_dtype_range(out_dtype))


def _exact_product(a: np.ndarray, b: np.ndarray, za: int, zb: int) -> np.ndarray:
    """acc = (a - za) @ (b - zb) in int64: (M, N) exact integers."""
    return (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)


def int8_gemm(a: np.ndarray, b: np.ndarray, a_zero_point: int = 0,
              b_zero_point: int = 0) -> np.ndarray:
    """The integer product of two quantized matrices, without scales.

    out[m, n] = sum_k (a[m, k] - a_zero_point) (b[k, n] - b_zero_point), exactly.

    Args:
        a: (M, K) int8 or uint8.
        b: (K, N) int8 or uint8 (independently of a).
        a_zero_point, b_zero_point: ints in the range of a's and b's dtype.

    Returns:
        (M, N) int32. FLOPs: 2 M N K integer operations.

    Raises:
        OverflowError: if an exact result lies outside int32 (possible from K = 33,026 on,
            e.g. uint8 x uint8 at 255 with zero points 0).
    """
    op = "int8_gemm"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    acc = _exact_product(a, b, za, zb)
    if acc.size and (acc.min() < INT32_RANGE[0] or acc.max() > INT32_RANGE[1]):
        index = np.unravel_index(np.argmax(np.abs(acc)), acc.shape)
        raise OverflowError(f"{op}: the exact result {acc[index]} at (row, column) "
                            f"{tuple(map(int, index))} is outside the int32 range "
                            f"[{INT32_RANGE[0]}, {INT32_RANGE[1]}]; int8_gemm_dequantize and "
                            f"int8_gemm_requantize start from the exact value")
    return acc.astype(np.int32)


def int8_gemm_dequantize(a: np.ndarray, b: np.ndarray, a_zero_point: int, b_zero_point: int,
                         a_scale: float, b_scale, bias: np.ndarray | None = None) -> np.ndarray:
    """The real-valued product of two quantized matrices: a quantized linear layer's output.

    out[m, n] = float32(acc[m, n] a_scale b_scale[n] + bias[n]), acc as in `int8_gemm`,
    computed in float64 and rounded to float32 once: the exact acc (below 2^53) times the
    float64 product a_scale b_scale[n], plus bias[n].

    Args:
        a: (M, K) int8 or uint8; b: (K, N) int8 or uint8.
        a_zero_point, b_zero_point: ints in the range of a's and b's dtype.
        a_scale: positive float. b_scale: positive float (per tensor) or (N,) array (per
            output channel, PyTorch's `per_channel_affine` weights along their output axis).
        bias: (N,) float array or None.

    Returns:
        (M, N) float32. FLOPs: 2 M N K integer operations plus 2 M N float ones.
    """
    op = "int8_gemm_dequantize"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    scale, bias64 = _check_scales(op, a_scale, b_scale, bias, b.shape[1])
    acc = _exact_product(a, b, za, zb)
    return (acc.astype(np.float64) * scale + bias64).astype(np.float32)


def int8_gemm_requantize(a: np.ndarray, b: np.ndarray, a_zero_point: int, b_zero_point: int,
                         a_scale: float, b_scale, out_scale: float, out_zero_point: int,
                         bias: np.ndarray | None = None, out_dtype=np.int8) -> np.ndarray:
    """The product quantized again: the 8-bit output of a quantized linear layer.

    real = acc a_scale b_scale[n] + bias[n] in float64 (as in `int8_gemm_dequantize`, not
    rounded to float32), then q = clamp(rint(real / out_scale) + out_zero_point, qmin, qmax)
    with round-half-to-even, as `torch.quantize_per_tensor` rounds. PyTorch's fbgemm
    `quantized.linear` computes its multiplier in float32, so a value within float32 rounding
    of a half-integer may round the other way there; this rounds once, from float64. (On
    random uint8 x int8 data the two gave identical outputs.)

    Args:
        a, b, a_zero_point, b_zero_point, a_scale, b_scale, bias: as in
            `int8_gemm_dequantize` (bias comes after the output parameters here, as the
            optional argument it is).
        out_scale: positive float. out_zero_point: int in out_dtype's range.
        out_dtype: np.int8 or np.uint8.

    Returns:
        (M, N) array of out_dtype. FLOPs: 2 M N K integer operations plus 4 M N float ones.
    """
    op = "int8_gemm_requantize"
    za, zb = _check_operands(op, a, b, a_zero_point, b_zero_point)
    scale, bias64 = _check_scales(op, a_scale, b_scale, bias, b.shape[1])
    out_scale, out_zero_point, out_dtype, qmin, qmax = _check_output(op, out_scale,
                                                                     out_zero_point, out_dtype)
    real = _exact_product(a, b, za, zb).astype(np.float64) * scale + bias64
    return np.clip(np.rint(real / out_scale) + out_zero_point, qmin, qmax).astype(out_dtype)
