"""Tests of `kernels/cpu/matmul.py` (and `_matmul_packed.py`, its micro-kernel and packing): every
step of the matmul progression against exact products and against its specification,
`kernels.reference`, on sizes that hit every edge of the blocking (1, primes, one below and
above each tile and block size), on every memory layout, plus thread-count independence, the
batched kernel, errors, and the generated code.

Tolerance (every kernel, both dtypes): a computed product obeys |C - A B| <= gamma_K |A| |B|
elementwise, gamma_K = K eps / (1 - K eps), for any order of summation (Higham, "Accuracy and
Stability of Numerical Algorithms", 2nd ed., Sec. 3.5), so the tests hold each result to that
bound around the exact product (computed in extended precision), and to twice it around the
reference's result (which obeys it too). A wrong index or a lost term is off by a whole term,
far more than the bound.

Debug a failure as plain Python: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k
matmul`.
"""

import os
import subprocess
import sys
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import reference
from kernels.cpu import _matmul_packed
from kernels.cpu import matmul as cpu
from tests.strategies import LAYOUTS, make_layout

STEPS = [cpu.matmul_naive, cpu.matmul_ikj, cpu.matmul_blocked, cpu.matmul]
DTYPES = [np.float32, np.float64]
# 1, primes, and one below / at / above the tile rows (6 and 4), the tile columns (64, 48),
# the balanced row blocks of two threads and MC = 120
SIDES = [1, 2, 3, 5, 6, 7, 13, 47, 48, 49, 63, 64, 65, 97, 119, 121]
REPO = Path(__file__).parents[2]


def assert_product(ours, a, b):
    """`ours` is a @ b within the rounding bound of the module docstring."""
    dtype = a.dtype
    assert ours.dtype == dtype and ours.shape == a.shape[:-1] + b.shape[-1:]
    exact = np.matmul(a.astype(np.longdouble), b.astype(np.longdouble))
    k = a.shape[-1]
    eps = np.finfo(dtype).eps / 2  # unit roundoff
    bound = k * eps / (1 - k * eps) * np.matmul(np.abs(a).astype(np.longdouble),
                                                 np.abs(b).astype(np.longdouble))
    tiny = np.finfo(dtype).tiny
    assert np.all(np.abs(ours - exact) <= bound + tiny), np.max(np.abs(ours - exact) - bound)
    matching = reference.batched_matmul if a.ndim == 3 else reference.matmul
    assert np.all(np.abs(ours - matching(a, b)) <= 2 * bound + tiny)


def operands(seed, shape_a, shape_b, dtype, layouts=("contiguous", "contiguous")):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, shape_a).astype(dtype)
    b = rng.uniform(-1, 1, shape_b).astype(dtype)
    return make_layout(a, layouts[0]), make_layout(b, layouts[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("step", STEPS, ids=lambda f: f.__name__)
@settings(max_examples=20, deadline=None)
@given(m=st.sampled_from(SIDES), k=st.sampled_from(SIDES), n=st.sampled_from(SIDES),
       layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
       seed=st.integers(0, 2**32 - 1))
def test_every_step_multiplies_on_every_layout(step, dtype, m, k, n, layouts, seed):
    a, b = operands(seed, (m, k), (k, n), dtype, layouts)
    assert_product(step(a, b), a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("step", [cpu.matmul_blocked, cpu.matmul], ids=lambda f: f.__name__)
@pytest.mark.parametrize("m, k, n", [(7, 257, 1031), (130, 513, 97), (1, 300, 1100),
                                     (241, 260, 5)])
def test_blocks_deeper_than_kc_and_wider_than_nc(step, dtype, m, k, n):
    """K > KC = 256 (accumulating into C), N > NC (1024 float32, 480 float64 columns)."""
    a, b = operands(m + k + n, (m, k), (k, n), dtype, ("contiguous", "transposed"))
    assert_product(step(a, b), a, b)


@pytest.mark.parametrize("layouts", [("contiguous", "contiguous"), ("transposed", "transposed"),
                                     ("strided", "flipped")])
@pytest.mark.parametrize("m, k, n", [(250, 300, 190), (130, 300, 400), (3, 1000, 1500),
                                     (1500, 1000, 5)],
                         ids=["rows", "columns", "one panel", "one sliver"])
def test_parallel_result_does_not_depend_on_the_threads(layouts, m, k, n):
    """Each C[i, j] is summed in the same order whatever the slices, so bit for bit equal
    (every shape is above `SERIAL_BELOW`, so that the parallel kernel really splits). A is
    scaled by 2^t for t threads, which scales C exactly, so that an entry the kernel missed
    cannot pass by holding the previous call's result in reused memory."""
    assert m * k * n >= cpu.SERIAL_BELOW
    a, b = operands(3, (m, k), (k, n), np.float32, layouts)
    one_thread = cpu.matmul_blocked(a, b)
    previous = numba.get_num_threads()
    try:
        for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
            numba.set_num_threads(threads)
            scale = np.float32(2.0 ** threads)
            scaled = make_layout(a * scale, layouts[0])
            np.testing.assert_array_equal(cpu.matmul(scaled, b), one_thread * scale)
    finally:
        numba.set_num_threads(previous)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(batch=st.sampled_from([1, 2, 3, 5]), m=st.sampled_from(SIDES[:10]),
       k=st.sampled_from(SIDES), n=st.sampled_from(SIDES[:12]),
       layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
       seed=st.integers(0, 2**32 - 1))
def test_batched_matmul(dtype, batch, m, k, n, layouts, seed):
    a, b = operands(seed, (batch, m, k), (batch, k, n), dtype, layouts)
    assert_product(cpu.batched_matmul(a, b), a, b)


def test_batched_matmul_is_one_blocked_product_per_matrix():
    a, b = operands(4, (3, 70, 90), (3, 90, 50), np.float32, ("transposed", "contiguous"))
    out = cpu.batched_matmul(a, b)
    for t in range(3):
        np.testing.assert_array_equal(out[t], cpu.matmul_blocked(a[t], b[t]))


@pytest.mark.parametrize("step", STEPS + [cpu.batched_matmul], ids=lambda f: f.__name__)
def test_empty_sizes(step):
    lead = (2,) if step is cpu.batched_matmul else ()
    zeros = step(np.ones(lead + (3, 0), np.float32), np.ones(lead + (0, 4), np.float32))
    np.testing.assert_array_equal(zeros, np.zeros(lead + (3, 4), np.float32))
    assert step(np.ones(lead + (0, 5)), np.ones(lead + (5, 4))).shape == lead + (0, 4)
    assert step(np.ones(lead + (3, 5)), np.ones(lead + (5, 0))).shape == lead + (3, 0)


def test_bad_operands_are_specific_errors():
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(5, 2\) do not align: 4 != 5"):
        cpu.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"expected 2-D operands \(M, K\) and \(K, N\), got "
                                         r"shapes \(2, 3, 4\) and \(4, 2\)"):
        cpu.matmul_blocked(np.ones((2, 3, 4)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"batch sizes differ: shapes \(2, 3, 4\) and "
                                         r"\(3, 4, 5\)"):
        cpu.batched_matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(TypeError, match="different dtypes float32 and float64"):
        cpu.matmul(np.ones((2, 2), np.float32), np.ones((2, 2)))
    for dtype in (np.int64, np.float16):
        with pytest.raises(TypeError, match=f"dtype {np.dtype(dtype)} is not supported"):
            cpu.matmul_ikj(np.ones((2, 2), dtype), np.ones((2, 2), dtype))


@pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx512f", False),
                    reason="the register tile is sized for AVX-512's 32 zmm registers")
@pytest.mark.parametrize("dtype, instruction", [(np.float32, "vfmadd231ps"),
                                                (np.float64, "vfmadd231pd")])
def test_micro_kernel_is_packed_fma_on_zmm_registers(dtype, instruction):
    """The MR x NR accumulators live in 24 zmm registers: one k step is 24 packed FMAs (and
    no spill of an accumulator to the stack between them). Cached code has no assembly, so
    the micro-kernel is compiled afresh."""
    fresh = numba.njit(fastmath={"contract"})(_matmul_packed._micro_kernel.py_func)
    panel = np.zeros(4096, dtype)
    fresh(4, panel, panel, np.zeros((8, 64), dtype), 0, 0, 1, 1, False)
    assembly = fresh.inspect_asm(fresh.signatures[0])
    fmas = [line for line in assembly.splitlines() if line.strip().startswith(instruction)]
    assert len(fmas) == 24 and all("zmm" in line for line in fmas)
    start = assembly.index(fmas[0])
    loop = assembly[start:assembly.index(fmas[-1], start)]
    assert "rsp" not in loop


def test_kernels_run_as_plain_python_for_debugging():
    code = ("import numpy as np; from kernels.cpu import matmul as m\n"
            "a, b = np.arange(35.).reshape(7, 5), np.arange(15.).reshape(5, 3)\n"
            "for f in (m.matmul_naive, m.matmul_ikj, m.matmul_blocked, m.matmul):\n"
            "    assert np.array_equal(f(a, b), a @ b), f\n"
            "assert np.array_equal(m.batched_matmul(a[None], b[None]), (a @ b)[None])\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO,
                   env=dict(os.environ, NUMBA_DISABLE_JIT="1"))


def test_kernels_do_not_import_minigrad():
    code = "import sys, kernels.cpu.matmul; print('minigrad' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO)
    assert result.stdout.strip() == "False"
