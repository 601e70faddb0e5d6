"""Tests of `kernels/cpu/int8_gemm.py`: the Numba int8 GEMM against its specification,
`kernels.reference.int8_gemm`, on generated shapes, signedness, zero points and memory
layouts, at the int32 limits (K = 65,536), for both micro-kernels (`vpdpbusd` where the CPU
has AVX512-VNNI, the portable one everywhere).

Tolerance: none. int32 and int8 results are integers and must be equal; the float32 results
of `int8_gemm_dequantize` must be equal bit for bit too, because the kernel does the
reference's float64 operations in the reference's order (no fastmath, no fused multiply-add)
and rounds to float32 once, as the reference does. The same holds for requantization: the
kernel and the reference round the same float64 value, so not even the 1 LSB that separate
float rounding steps could cause is allowed.

Debug the portable path as plain Python (the VNNI one is LLVM IR and cannot run that way):
`NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels/test_int8_gemm.py -m "not slow" -k
portable`.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import reference
from kernels.cpu import int8_gemm
from tests.strategies import LAYOUTS, make_layout

DTYPES = (np.int8, np.uint8)
# 1, primes, and sizes on either side of every tile (4, 8 and 48) and task (96, 384) edge
SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 13, 31, 47, 48, 49, 95, 97, 101)
DEPTHS = (1, 2, 3, 4, 5, 7, 17, 63, 64, 65, 131)
PATHS = ["vnni", "portable"] if int8_gemm.USE_VNNI else ["portable"]



@contextlib.contextmanager
def micro_kernel(path: str):
    """Run the kernels with the VNNI micro-kernel ("vnni") or with the portable one."""
    saved = int8_gemm.USE_VNNI
    int8_gemm.USE_VNNI = path == "vnni"
    try:
        yield
    finally:
        int8_gemm.USE_VNNI = saved


@pytest.fixture(params=PATHS)
def path(request):
    with micro_kernel(request.param):
        yield request.param


def full_range(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


@st.composite
def gemm_cases(draw):
    """(a, b, za, zb): operands of any signedness, shape and layout, and zero points."""
    m, n, k = draw(st.sampled_from(SIZES)), draw(st.sampled_from(SIZES)), draw(
        st.sampled_from(DEPTHS))
    a_dtype, b_dtype = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = make_layout(full_range(rng, a_dtype, (m, k)), draw(st.sampled_from(LAYOUTS)))
    b = make_layout(full_range(rng, b_dtype, (k, n)), draw(st.sampled_from(LAYOUTS)))
    za = draw(st.integers(*map(int, (np.iinfo(a_dtype).min, np.iinfo(a_dtype).max))))
    zb = draw(st.integers(*map(int, (np.iinfo(b_dtype).min, np.iinfo(b_dtype).max))))
    return a, b, za, zb


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=60, deadline=None)
@given(case=gemm_cases())
def test_int8_gemm_equals_reference(path, case):
    a, b, za, zb = case
    with micro_kernel(path):
        out = int8_gemm.int8_gemm(a, b, za, zb)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, reference.int8_gemm(a, b, za, zb))


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=30, deadline=None)
@given(case=gemm_cases(), per_channel=st.booleans(), with_bias=st.booleans())
def test_dequantize_equals_reference_bit_for_bit(path, case, per_channel, with_bias):
    a, b, za, zb = case
    rng = np.random.default_rng(a.size + 7 * b.size)
    b_scale = rng.uniform(1e-3, 0.1, b.shape[1]) if per_channel else 0.03
    bias = rng.standard_normal(b.shape[1]).astype(np.float32) if with_bias else None
    with micro_kernel(path):
        out = int8_gemm.int8_gemm_dequantize(a, b, za, zb, 0.02, b_scale, bias)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(
        out, reference.int8_gemm_dequantize(a, b, za, zb, 0.02, b_scale, bias))


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=30, deadline=None)
@given(case=gemm_cases(), out_dtype=st.sampled_from(DTYPES), data=st.data())
def test_requantize_equals_reference(path, case, out_dtype, data):
    a, b, za, zb = case
    out_zero_point = data.draw(st.integers(*map(int, (np.iinfo(out_dtype).min,
                                                     np.iinfo(out_dtype).max))))
    out_scale = data.draw(st.sampled_from([0.05, 1.0, 30.0]))  # mostly clamped .. none
    b_scale = np.linspace(0.01, 0.05, b.shape[1])
    bias = np.linspace(-3, 3, b.shape[1]).astype(np.float32)
    args = (a, b, za, zb, 0.1, b_scale, out_scale, out_zero_point, bias, out_dtype)
    with micro_kernel(path):
        out = int8_gemm.int8_gemm_requantize(*args)
    assert out.dtype == out_dtype
    np.testing.assert_array_equal(out, reference.int8_gemm_requantize(*args))


def test_requantize_rounds_half_to_even_and_clamps(path):
    # acc = a - 0 for a 1 x 1 weight of 1: acc / 2 lands on every half-integer
    a = np.array([[1], [3], [5], [-1], [-3], [100], [-100]], dtype=np.int8)
    b = np.ones((1, 1), dtype=np.int8)
    out = int8_gemm.int8_gemm_requantize(a, b, 0, 0, 1.0, 1.0, 2.0, 0)
    np.testing.assert_array_equal(out[:, 0], [0, 2, 2, 0, -2, 50, -50])
    clamped = int8_gemm.int8_gemm_requantize(a, b, 0, 0, 1.0, 1.0, 0.5, 10, out_dtype=np.uint8)
    np.testing.assert_array_equal(clamped[:, 0], [12, 16, 20, 8, 4, 210, 0])


def test_blocks_across_tasks_and_threads(path):
    """Larger than a task (96 x 384) in both directions and above the serial threshold, so the
    parallel path runs; float64 BLAS is an exact oracle here (every sum is below 2^53)."""
    rng = np.random.default_rng(3)
    a, b = full_range(rng, np.uint8, (197, 431)), full_range(rng, np.int8, (431, 401))
    assert a.shape[0] * b.shape[1] * a.shape[1] >= int8_gemm.SERIAL_BELOW
    expected = (a.astype(np.float64) - 130) @ (b.astype(np.float64) + 5)
    np.testing.assert_array_equal(int8_gemm.int8_gemm(a, b, 130, -5), expected)


# -- the int32 limits: K = 65,536 ------------------------------------------------------------

K_MAX = 2**16
EXTREMES = [  # (a dtype, a value, za, b dtype, b value, zb)
    (np.int8, -128, 0, np.int8, -128, 0),      # 2^30
    (np.int8, 127, 0, np.int8, 127, 0),
    (np.int8, -128, 0, np.uint8, 255, 0),      # -128 * 255 K: the accumulators' lowest value
    (np.int8, 127, 0, np.uint8, 255, 0),       # 127 * 255 K: their highest
    (np.uint8, 255, 0, np.int8, -128, 0),
    (np.uint8, 0, 255, np.int8, 127, -128),    # -255 * 255 K: beyond int32
    (np.uint8, 255, 0, np.uint8, 255, 0),      # 255^2 K: beyond int32
    (np.int8, -128, 127, np.int8, 127, -128),  # -255 * 255 K: beyond int32
    (np.uint8, 255, 128, np.uint8, 0, 255),
]


@pytest.mark.parametrize("a_dtype, a_value, za, b_dtype, b_value, zb", EXTREMES)
def test_extremes_at_k_65536_are_exact(path, a_dtype, a_value, za, b_dtype, b_value, zb):
    a = np.full((3, K_MAX), a_value, dtype=a_dtype)
    b = np.full((K_MAX, 5), b_value, dtype=b_dtype)
    exact = (a_value - za) * (b_value - zb) * K_MAX
    if -2**31 <= exact < 2**31:
        np.testing.assert_array_equal(int8_gemm.int8_gemm(a, b, za, zb), np.full((3, 5), exact))
    else:
        for kernels in (int8_gemm, reference):
            with pytest.raises(OverflowError, match="outside the int32 range"):
                kernels.int8_gemm(a, b, za, zb)
    scale = 2.0**-20  # a power of 2: exact, so the expected value is float32(exact / 2^20)
    dequantized = int8_gemm.int8_gemm_dequantize(a, b, za, zb, scale, 1.0)
    np.testing.assert_array_equal(dequantized, np.float32(exact * scale))


def test_an_overflow_in_a_later_column_block_is_reported(path):
    """Only column 390 (in the second 384-column task, run in parallel) overflows."""
    a, b = np.full((3, K_MAX), 255, np.uint8), np.zeros((K_MAX, 400), np.uint8)
    b[:, 390] = 255
    with pytest.raises(OverflowError, match="row 0 of the result holds an exact value outside"):
        int8_gemm.int8_gemm(a, b)
    b[:, 390] = 1
    np.testing.assert_array_equal(int8_gemm.int8_gemm(a, b)[:, 389:391], [[0, 255 * K_MAX]] * 3)


def test_mixed_values_at_k_65536_equal_reference(path):
    rng = np.random.default_rng(4)
    a, b = full_range(rng, np.uint8, (2, K_MAX)), full_range(rng, np.int8, (K_MAX, 3))
    a[0], b[:, 0] = 0, 127  # one element at the extremes of the shifted operands
    np.testing.assert_array_equal(int8_gemm.int8_gemm(a, b, 7, -3),
                                  reference.int8_gemm(a, b, 7, -3))


def test_depth_beyond_65536_is_refused_where_int32_could_overflow():
    a, b = np.zeros((1, K_MAX + 1), np.int8), np.zeros((K_MAX + 1, 1), np.int8)
    with pytest.raises(ValueError, match="K = 65537 is more than 65536"):
        int8_gemm.int8_gemm(a, b)
    assert reference.int8_gemm(a, b).shape == (1, 1)


# -- edges, errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("m, k, n", [(0, 3, 2), (2, 3, 0), (2, 0, 3), (0, 0, 0)])
def test_empty_shapes(path, m, k, n):
    a, b = np.zeros((m, k), np.uint8), np.zeros((k, n), np.int8)
    np.testing.assert_array_equal(int8_gemm.int8_gemm(a, b, 3, 1),
                                  reference.int8_gemm(a, b, 3, 1))
    out = int8_gemm.int8_gemm_requantize(a, b, 3, 1, 0.1, 0.1, 0.5, 0)
    assert out.shape == (m, n) and out.dtype == np.int8


def test_bad_arguments_are_specific_errors():
    a, b = np.zeros((2, 3), np.int8), np.zeros((3, 4), np.uint8)
    for kernels in (int8_gemm, reference):
        gemm, dequantize = kernels.int8_gemm, kernels.int8_gemm_dequantize
        with pytest.raises(ValueError, match="expected a of dtype int8 or uint8, got float32"):
            gemm(a.astype(np.float32), b)
        with pytest.raises(ValueError, match="expected b of dtype int8 or uint8, got int16"):
            gemm(a, b.astype(np.int16))
        with pytest.raises(ValueError, match=r"expected a 2-D b \(K, N\), got shape \(3,\)"):
            gemm(a, b[:, 0])
        with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 4\) do not align: 3 "
                                             r"!= 2"):
            gemm(a, b[:2])
        with pytest.raises(ValueError, match=r"b_zero_point 256 is outside the uint8 range "
                                             r"\[0, 255\]"):
            gemm(a, b, 0, 256)
        with pytest.raises(TypeError, match="a_zero_point must be an integer, got 0.5"):
            gemm(a, b, 0.5, 0)
        with pytest.raises(ValueError, match=r"a scalar b_scale or one per output column, "
                                             r"shape \(4,\), got shape \(3,\)"):
            dequantize(a, b, 0, 0, 0.1, np.ones(3))
        with pytest.raises(ValueError, match="a_scale must be positive and finite"):
            dequantize(a, b, 0, 0, -0.1, 1.0)
        with pytest.raises(ValueError, match=r"a float bias of shape \(4,\), got float64 of "
                                             r"shape \(3,\)"):
            dequantize(a, b, 0, 0, 0.1, 1.0, np.zeros(3))
        with pytest.raises(ValueError, match="out_dtype must be int8 or uint8, got int32"):
            kernels.int8_gemm_requantize(a, b, 0, 0, 0.1, 1.0, 0.5, 0, out_dtype=np.int32)
        with pytest.raises(ValueError, match=r"out_zero_point -1 is outside the uint8 range"):
            kernels.int8_gemm_requantize(a, b, 0, 0, 0.1, 1.0, 0.5, -1, out_dtype=np.uint8)


def test_kernels_do_not_import_minigrad():
    code = "import sys, kernels.cpu.int8_gemm; print('minigrad' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "False"


# -- the generated code ---------------------------------------------------------------------

ASSEMBLY = """
import re, numpy as np
from kernels.cpu import int8_gemm
from kernels import reference
a = np.arange(-40, 50, dtype=np.int8).reshape(6, 15)
b = np.arange(75, dtype=np.uint8).reshape(15, 5)
assert (int8_gemm.int8_gemm(a, b, 3, 7) == reference.int8_gemm(a, b, 3, 7)).all()
asm = int8_gemm._gemm_tasks.inspect_asm(int8_gemm._gemm_tasks.signatures[0])
print(int8_gemm.USE_VNNI, sorted(set(re.findall(r"\\b(vpdpbusd|vpdpwssd|vpmaddwd)\\s+%[yz]mm", asm))))
"""


def run_fresh(tmp_path, **env):
    """Compile the kernels in a new process with an empty cache (inspect_asm needs a fresh
    compilation) and the given Numba target settings; return what ASSEMBLY prints."""
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), **env}
    result = subprocess.run([sys.executable, "-c", ASSEMBLY], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2], env=environment)
    return result.stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(not int8_gemm.USE_VNNI, reason="this CPU has no AVX512-VNNI")
def test_vnni_build_emits_vpdpbusd(tmp_path):
    assert run_fresh(tmp_path) == "True ['vpdpbusd', 'vpdpwssd']"


@pytest.mark.slow
def test_portable_build_for_avx2_emits_vpmaddwd(tmp_path):
    """Compiled for Haswell (AVX2, no VNNI) the portable path is chosen and still exact."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        pytest.skip("x86-64 only")
    out = run_fresh(tmp_path, NUMBA_CPU_NAME="haswell",
                    NUMBA_CPU_FEATURES="+avx,+avx2,+fma,+f16c,+popcnt,+sse4.2,+bmi,+bmi2")
    assert out == "False ['vpmaddwd']"
