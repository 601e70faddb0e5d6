"""Math for the fused kernels' inner loops, written so that LLVM vectorises it.

Numba compiles `math.exp(x)` in a loop to one call of the C library per element, and LLVM
cannot vectorise a call (Numba's vector math library, Intel SVML, is not in the pip wheels).
Measured on the 2-core machine the docs describe, one thread, float32: a loop of `math.exp`
costs 2.1 ns per element, `math.tanh` 14.6 and `math.erf` 8.6, against 0.7 for NumPy's SIMD
`np.exp`. The functions here use only arithmetic, comparisons and integer bit operations,
which LLVM turns into 8-lane AVX2 code, so a loop that calls them runs at about 0.6 ns per
element of float32 on one core (1.3 for float64):

- `exp(t)`: range reduction t = n ln 2 + r, |r| <= ln 2 / 2 (Cody & Waite 1980: ln 2 split in
  a high part with trailing zero bits, so n ln2_hi is exact, and a low part), the Taylor
  polynomial of e^r (degree 7 for float32, 13 for float64: the first omitted term is below
  half an ulp), and 2^n built from its exponent bits. Measured error below 1 ulp (0.63
  and 1.0 eps relative) over 2^20 random arguments in [-87, 87] (float32) and [-700, 700]
  (float64). Results below the smallest normal number flush to 0 (subnormals would be exact
  but cost a microcode assist each); above the largest float, inf; NaN stays NaN.
- `normal_cdf(x)`: Phi(x) = erfc(-x / sqrt 2) / 2. float32 evaluates Numerical Recipes'
  erfc fit (the one `kernels.reference.erf` uses, fractional error below 1.2e-7) with `exp`;
  float64 calls `math.erfc`, exact but not vectorised (float64 is for gradient checks).
- `row_max(v)`: the maximum through LLVM's `maxnum`, which LLVM vectorises without fast-math
  flags (a `v if v > m else m` loop does not vectorise even with them). maxnum ignores NaN;
  the softmax kernels do not mind, since a NaN then reaches their sum and makes the row NaN,
  as NumPy's NaN maximum does.
- `row_sum`, `row_dot`, `sum_exp`, `squared_deviation_sum`: sums compiled with fast-math
  `reassoc` (and `contract`), which lets LLVM keep 8 partial sums in a vector register
  (without it a float sum is one serial chain, 6x slower on a row of 100). Reassociation
  changes rounding only: the error bound of a sum of n terms, n eps sum |v|, holds in any
  order, and NumPy's pairwise sum is a third order.

`exp` is compiled with `contract` only, whatever flags its caller has (its `jit_options`):
reassociation would undo the range reduction's exact split. A loop vectorises only if LLVM
inlines these functions into it; `normal_cdf` is big enough that LLVM declined inside GELU's
backward loop (a call per element, 7x slower), so Numba inlines it (`inline="always"`), which
gives its arithmetic the caller's flags: call it from kernels without `reassoc`.
`tests/kernels/test_fused.py::test_kernels_inline_the_vector_math_and_vectorise` checks the
compiled kernels for per-element calls.

The functions are called from Numba code only. Under NUMBA_DISABLE_JIT=1 their Python
bodies (NumPy and `math`) run instead, so a kernel can be stepped through in a debugger.
Numba's on-disk cache does not notice edits to this file in the kernels that use it: delete
`kernels/cpu/__pycache__/_fused_*.nb[ic]` after changing it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from kernels.reference.activation import ERFC_COEFFICIENTS

# fast-math flags: "contract" lets LLVM fuse a multiply and an add into one FMA instruction,
# which skips a rounding (only more accurate) and makes the polynomials 1.3x faster;
# "reassoc" lets it reorder a sum (see the module docstring). Nothing else: the kernels
# handle inf and NaN, so no "nnan" or "ninf".
_CONTRACT = {"fastmath": {"contract"}}
REDUCTION = {"reassoc", "contract"}


def exp(t):
    """e^t of one float32 or float64 (Numba code only; see the module docstring)."""
    with np.errstate(over="ignore"):
        return np.exp(t)


def _exp_for(float_type, int_type, degree: int):
    """`exp` for one float type: its constants are of that type, so float32 stays float32."""
    f, info = float_type, np.finfo(float_type)
    log2e, ln2_hi, ln2_lo = f(1 / math.log(2)), f(0.693359375), f(-2.12194440e-4)
    if f == np.float64:  # fdlibm's split: 32 significant bits in the high part
        ln2_hi, ln2_lo = f(6.93147180369123816490e-01), f(1.90821492927058770002e-10)
    lowest, highest = f(math.log(info.tiny)), f(math.log(info.max))
    coefficients = tuple(f(1 / math.factorial(k)) for k in range(degree, -1, -1))
    bias, mantissa_bits = int_type(info.maxexp - 1), int_type(info.nmant)
    zero, half, infinity = f(0), f(0.5), f(np.inf)

    def impl(t):
        # clamp first (NaN becomes `lowest`) so that the integer conversion below is defined;
        # written as selects, not max/min, to pin down where a NaN goes
        reduced = t if t > lowest else lowest  # noqa: FURB136
        reduced = reduced if reduced < highest else highest  # noqa: FURB136
        n = np.floor(reduced * log2e + half)
        r = reduced - n * ln2_hi - n * ln2_lo
        p = coefficients[0]
        for c in coefficients[1:]:
            p = p * r + c
        # 2^n as two factors 2^(n//2) 2^(n - n//2): n reaches 128 (1024), one past the
        # largest exponent, while each half stays a normal number
        k = int_type(n)
        k_half = k >> 1
        p = p * int_type((k_half + bias) << mantissa_bits).view(float_type)
        p = p * int_type((k - k_half + bias) << mantissa_bits).view(float_type)
        p = p if t >= lowest else zero
        p = p if t <= highest else infinity
        return p if t == t else t  # noqa: PLR0124 (t != t only for NaN)
    return impl


@overload(exp, jit_options=_CONTRACT)
def _exp_overload(t):
    if isinstance(t, types.Float) and t.bitwidth == 32:
        return _exp_for(np.float32, np.int32, 7)
    if isinstance(t, types.Float) and t.bitwidth == 64:
        return _exp_for(np.float64, np.int64, 13)
    return None


def normal_cdf(x):
    """Phi(x), the standard normal CDF, of one float32 or float64 (Numba code only)."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


@overload(normal_cdf, jit_options=_CONTRACT, inline="always")
def _normal_cdf_overload(x):
    if isinstance(x, types.Float) and x.bitwidth == 64:
        inv_sqrt_2 = 1 / math.sqrt(2)
        return lambda x: 0.5 * math.erfc(-x * inv_sqrt_2)
    if not (isinstance(x, types.Float) and x.bitwidth == 32):
        return None
    f = np.float32
    inv_sqrt_2, half, one = f(1 / math.sqrt(2)), f(0.5), f(1)
    coefficients = tuple(f(c) for c in ERFC_COEFFICIENTS)

    def impl(x):
        # erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), for z = |x| / sqrt 2 >= 0; then
        # Phi(x) = erfc(z)/2 for x < 0 and 1 - erfc(z)/2 for x >= 0, neither of which cancels
        z = abs(x) * inv_sqrt_2
        t = one / (one + half * z)
        p = coefficients[0]
        for c in coefficients[1:]:
            p = p * t + c
        tail = half * t * exp(p - z * z)
        return tail if x < 0 else one - tail
    return impl


@intrinsic
def _maxnum(typingctx, a, b):
    """LLVM's maxnum(a, b): the larger, or the other operand when one is NaN."""
    def codegen(context, builder, signature, args):
        value_type = args[0].type
        function = builder.module.declare_intrinsic(
            "llvm.maxnum", [value_type], ir.FunctionType(value_type, [value_type, value_type]))
        return builder.call(function, args)
    return a(a, a), codegen


def row_max(v):
    """The largest element of a 1-D array, ignoring NaN; -inf when empty (Numba code only)."""
    return np.fmax.reduce(v, initial=-np.inf)


@overload(row_max, jit_options=_CONTRACT)
def _row_max_overload(v):
    def impl(v):
        m = v.dtype.type(-np.inf)
        for c in range(v.shape[0]):
            m = _maxnum(m, v[c])
        return m
    return impl


@numba.njit(cache=True, fastmath=REDUCTION)
def row_sum(v, start):
    """start + sum_c v[c] of a 1-D array, accumulated in start's type (0.0: float64)."""
    s = start
    for c in range(v.shape[0]):
        s += v[c]
    return s


@numba.njit(cache=True, fastmath=REDUCTION)
def row_dot(a, b):
    """sum_c a[c] b[c] of two 1-D arrays of one length and dtype."""
    s = a.dtype.type(0)
    for c in range(a.shape[0]):
        s += a[c] * b[c]
    return s


@numba.njit(cache=True, fastmath=REDUCTION)
def sum_exp(v, shift):
    """sum_c exp(v[c] - shift) of a 1-D array; shift is a scalar of v's dtype."""
    s = v.dtype.type(0)
    for c in range(v.shape[0]):
        s += exp(v[c] - shift)
    return s


@numba.njit(cache=True, fastmath=REDUCTION)
def squared_deviation_sum(v, center):
    """sum_c (v[c] - center)^2 of a 1-D array; center is a scalar of v's dtype."""
    s = v.dtype.type(0)
    for c in range(v.shape[0]):
        deviation = v[c] - center
        s += deviation * deviation
    return s
