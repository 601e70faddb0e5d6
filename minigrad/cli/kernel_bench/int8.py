"""Benchmark rows of the int8 GEMM: the int32 product, and the dequantize and requantize
epilogues of a quantized linear layer.

Shapes are M x N x K (rows of A, columns of B, depth): 1024 x 1024 x 1024 and 4096 x 4096 x
1024 (the issue's) for the int32 product, 1024^3 for the epilogues. A is uint8 activations
(zero point 128), B int8 weights (zero point 0), the common pairing (gemmlowp, FBGEMM).

Unit: GOP/s = 2 M N K / time (a multiply-add counts as 2 integer operations, as a fused
multiply-add counts as 2 FLOPs in GFLOP/s). Columns:
- "ours": `kernels.cpu.int8_gemm` (packing both operands on every call included);
- "numpy": NumPy's exact integer product `a.astype(int32) @ b.astype(int32)` (what the int64
  reference does, with no BLAS behind it: about 8 s at 1024^3 here, so it is measured with
  one repetition, and not at 4096 x 4096 x 1024, where a call takes minutes);
- "blas": NumPy's float32 matmul of the same shape (OpenBLAS sgemm), the issue's target:
  int8 at or above fp32 throughput;
- "torch": PyTorch's int8 path on CPU: `torch._int_mm` (int8 x int8 -> int32) for the
  product, the x86/fbgemm `torch.ops.quantized.linear` (uint8 x int8 -> uint8, weights
  prepacked once, outside the timing) for the requantize row; PyTorch has no float-output
  int8 linear on CPU to compare the dequantize row with.
"""

from __future__ import annotations

import warnings

import numpy as np

from kernels.cpu import int8_gemm as cpu
from minigrad.cli.kernel_bench.timing import best_ms, row

try:
    import torch
except ImportError:
    torch = None

FULL_PRODUCTS, QUICK_PRODUCTS = ((1024, 1024, 1024), (4096, 4096, 1024)), ((64, 48, 32),)
FULL_EPILOGUE, QUICK_EPILOGUE = (1024, 1024, 1024), (64, 48, 32)
NUMPY_UP_TO = 2**31  # multiply-adds: NumPy's integer matmul is timed up to 1024^3 only
A_ZERO_POINT, B_ZERO_POINT, A_SCALE, OUT_SCALE, OUT_ZERO_POINT = 128, 0, 0.02, 0.5, 128


def _operands(shape: tuple, rng: np.random.Generator) -> tuple:
    m, n, k = shape
    return (rng.integers(0, 256, (m, k), dtype=np.uint8),
            rng.integers(-128, 128, (k, n), dtype=np.int8))


def _sgemm_ms(shape: tuple, rng: np.random.Generator, repeat: int) -> float:
    m, n, k = shape
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    return best_ms(lambda: a @ b, repeat)


def _product_row(shape: tuple, rng: np.random.Generator, repeat: int) -> dict:
    m, n, k = shape
    a, b = _operands(shape, rng)
    ms = {"ours": best_ms(lambda: cpu.int8_gemm(a, b, A_ZERO_POINT, B_ZERO_POINT), repeat),
          "numpy": None, "blas": _sgemm_ms(shape, rng, repeat), "torch": None}
    if m * n * k <= NUMPY_UP_TO:
        a32, b32 = a.astype(np.int32), b.astype(np.int32)
        ms["numpy"] = best_ms(lambda: a32 @ b32, 1)
    if torch is not None:
        ta, tb = torch.from_numpy((a ^ 0x80).view(np.int8)), torch.from_numpy(b)
        ms["torch"] = best_ms(lambda: torch._int_mm(ta, tb), repeat)
    return row("int8", "int8_gemm", f"{m}x{n}x{k}", "uint8 x int8 -> int32", "forward",
               "GOP/s", 2.0 * m * n * k, ms, vnni=cpu.USE_VNNI)


def _epilogue_rows(shape: tuple, rng: np.random.Generator, repeat: int) -> list:
    m, n, k = shape
    a, b = _operands(shape, rng)
    b_scale = rng.uniform(0.01, 0.02, n)  # per output channel
    bias = rng.standard_normal(n).astype(np.float32)
    blas = _sgemm_ms(shape, rng, repeat)
    dequantize = {"ours": best_ms(lambda: cpu.int8_gemm_dequantize(
        a, b, A_ZERO_POINT, B_ZERO_POINT, A_SCALE, b_scale, bias), repeat), "blas": blas}
    requantize = {"ours": best_ms(lambda: cpu.int8_gemm_requantize(
        a, b, A_ZERO_POINT, B_ZERO_POINT, A_SCALE, 0.015, OUT_SCALE, OUT_ZERO_POINT, bias,
        np.uint8), repeat), "blas": blas, "torch": None}
    if torch is not None:
        with warnings.catch_warnings():  # quantized tensors are deprecated in PyTorch 2.13
            warnings.simplefilter("ignore", UserWarning)
            qa = torch._make_per_tensor_quantized_tensor(torch.from_numpy(a), A_SCALE,
                                                         A_ZERO_POINT)
            qw = torch._make_per_tensor_quantized_tensor(
                torch.from_numpy(np.ascontiguousarray(b.T)), 0.015, B_ZERO_POINT)
        packed = torch.ops.quantized.linear_prepack(qw, torch.from_numpy(bias))
        requantize["torch"] = best_ms(
            lambda: torch.ops.quantized.linear(qa, packed, OUT_SCALE, OUT_ZERO_POINT), repeat)
    text, work = f"{m}x{n}x{k}", 2.0 * m * n * k
    return [row("int8", "dequantize", text, "uint8 x int8 -> float32", "forward", "GOP/s",
                work, dequantize, vnni=cpu.USE_VNNI, b_scale="per channel"),
            row("int8", "requantize", text, "uint8 x int8 -> uint8", "forward", "GOP/s",
                work, requantize, vnni=cpu.USE_VNNI, b_scale="per tensor")]


def rows(quick: bool, repeat: int) -> list[dict]:
    """The int8 rows: the int32 product at each shape, then dequantize and requantize.

    Args:
        quick: tiny shapes (64 x 48 x 32): a smoke test, not a measurement.
        repeat: measurements per implementation (the best is kept); NumPy's integer matmul
            gets one.
    """
    rng = np.random.default_rng(0)
    products, epilogue = (QUICK_PRODUCTS, QUICK_EPILOGUE) if quick else (FULL_PRODUCTS,
                                                                         FULL_EPILOGUE)
    return [_product_row(shape, rng, repeat) for shape in products] + _epilogue_rows(
        epilogue, rng, repeat)
