"""FlashAttention kernels (`kernels/cpu/attention.py` and its `_flash_*.py` modules) against their
NumPy specification (`kernels.reference.flash_attention_forward/backward`), and
`F.scaled_dot_product_attention` under the "numba" backend (which routes through them) against
the "numpy" backend.

Shapes include T = 1, primes and sizes on both sides of the 64-row and 64-key blocks;
L != S; causal and not; additive masks with -inf entries, whole rows of them; the memory
layouts of `tests.strategies.LAYOUTS`. Tolerances (rtol = atol), against the reference in
the same dtype: float32 2e-5 for out and lse, 1e-4 for the gradients (different summation
orders, and the kernels' 2^x polynomial, relative error 8e-8); float64 1e-10.

Debug a failure as plain Python: `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k
attention`.
"""

import math
import subprocess
import sys
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from kernels import reference
from kernels.cpu import _flash_tiles, attention
from minigrad.autograd import gradcheck
from tests.strategies import LAYOUTS, make_layout

FORWARD_TOLERANCE = {np.float32: 2e-5, np.float64: 1e-10}
GRAD_TOLERANCE = {np.float32: 1e-4, np.float64: 1e-10}
SIZES = [1, 2, 3, 7, 13, 63, 64, 65, 67, 131]  # around the 64-row/64-key blocks; primes
BIAS_SHAPES = ["none", "full", "heads", "queries", "plain"]


@st.composite
def attention_cases(draw, dtype):
    """(q, k, v, bias, scale, is_causal, grad_out) in drawn memory layouts. The bias, when
    there is one, has -inf entries (a whole masked row sometimes) and one of the shapes that
    broadcast to (B, L, S)."""
    heads = draw(st.integers(1, 3))
    length, keys = draw(st.sampled_from(SIZES)), draw(st.sampled_from(SIZES))
    dim, value_dim = draw(st.sampled_from([1, 3, 8, 16])), draw(st.sampled_from([1, 5, 8]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q = rng.standard_normal((heads, length, dim)).astype(dtype)
    k = rng.standard_normal((heads, keys, dim)).astype(dtype)
    v = rng.standard_normal((heads, keys, value_dim)).astype(dtype)
    grad_out = rng.standard_normal((heads, length, value_dim)).astype(dtype)
    shape = {"none": None, "full": (heads, length, keys), "heads": (heads, 1, keys),
             "queries": (1, length, keys), "plain": (length, keys)}[
                 draw(st.sampled_from(BIAS_SHAPES))]
    bias = None
    if shape is not None:
        bias = rng.standard_normal(shape).astype(dtype)
        bias[rng.random(shape) < 0.3] = -np.inf
        if draw(st.booleans()):
            bias[..., 0, :] = -np.inf  # the first query (of every head) sees nothing
        bias = make_layout(bias, draw(st.sampled_from(LAYOUTS)))
    q, k, v, grad_out = (make_layout(a, draw(st.sampled_from(LAYOUTS)))
                         for a in (q, k, v, grad_out))
    scale = draw(st.sampled_from([1 / math.sqrt(dim), 0.3, 2.0]))
    return q, k, v, bias, scale, draw(st.booleans()), grad_out


def assert_close(ours, expected, tolerance):
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_forward_and_backward_match_the_reference(dtype, data):
    q, k, v, bias, scale, causal, grad_out = data.draw(attention_cases(dtype))
    out, lse = attention.flash_attention_forward(q, k, v, bias, scale, causal)
    out_ref, lse_ref = reference.flash_attention_forward(q, k, v, bias, scale, causal)
    assert_close(out, out_ref, FORWARD_TOLERANCE[dtype])
    np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(lse_ref))
    assert_close(lse, lse_ref, FORWARD_TOLERANCE[dtype])
    grads = attention.flash_attention_backward(grad_out, q, k, v, out, lse, bias, scale, causal)
    expected = reference.flash_attention_backward(grad_out, q, k, v, out_ref, lse_ref, bias,
                                                  scale, causal)
    for grad, want in zip(grads, expected, strict=True):
        assert_close(grad, want, GRAD_TOLERANCE[dtype])


@pytest.mark.parametrize("length, keys", [(1, 1), (5, 3), (3, 5), (67, 131), (131, 67)])
def test_reference_matches_the_materialising_attention(length, keys):
    """The flash specification is the same attention as `attention_forward/backward`, the
    op's reference, given the causal mask as an additive bias."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((2, length, 4), (2, keys, 4), (2, keys, 3)))
    grad_out = rng.standard_normal((2, length, 3))
    causal_bias = np.where(np.tril(np.ones((length, keys), dtype=bool)), 0.0, -np.inf)
    out, lse = reference.flash_attention_forward(q, k, v, None, 0.5, True)
    out_full, probs = reference.attention_forward(q, k, v, causal_bias, 0.5, None)
    np.testing.assert_allclose(out, out_full, rtol=1e-12, atol=1e-12)
    scores = q @ k.swapaxes(-1, -2) * 0.5 + causal_bias
    np.testing.assert_allclose(lse, np.log(np.exp(scores).sum(-1)), rtol=1e-12)
    expected = reference.attention_backward(grad_out, q, k, v, probs, 0.5, None)[:3]
    for grad, want in zip(reference.flash_attention_backward(grad_out, q, k, v, out, lse, None,
                                                             0.5, True), expected, strict=True):
        np.testing.assert_allclose(grad, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("implementation", [attention, reference], ids=["numba", "reference"])
def test_fully_masked_rows_give_zeros_and_zero_gradients(implementation):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 70, 8)).astype(np.float32) for _ in range(3))
    bias = np.zeros((2, 70, 70), dtype=np.float32)
    bias[0, 5] = -np.inf          # one row of one head
    bias[1, 64:] = -np.inf        # the whole second query block of the other
    out, lse = implementation.flash_attention_forward(q, k, v, bias, 0.35, True)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 5], 0.0)
    np.testing.assert_array_equal(out[1, 64:], 0.0)
    assert np.isneginf(lse[0, 5]) and np.isneginf(lse[1, 64:]).all()
    assert np.isfinite(np.delete(lse[0], 5)).all() and np.isfinite(lse[1, :64]).all()
    dq, dk, dv = implementation.flash_attention_backward(np.ones_like(out), q, k, v, out, lse,
                                                         bias, 0.35, True)
    assert np.isfinite(dq).all() and np.isfinite(dk).all() and np.isfinite(dv).all()
    np.testing.assert_array_equal(dq[0, 5], 0.0)
    np.testing.assert_array_equal(dq[1, 64:], 0.0)


def test_no_keys_gives_zeros():
    q = np.ones((2, 3, 4), dtype=np.float32)
    k, v = np.ones((2, 0, 4), dtype=np.float32), np.ones((2, 0, 5), dtype=np.float32)
    out, lse = attention.flash_attention_forward(q, k, v, None, 1.0, False)
    np.testing.assert_array_equal(out, np.zeros((2, 3, 5)))
    assert np.isneginf(lse).all()
    dq, dk, dv = attention.flash_attention_backward(np.ones_like(out), q, k, v, out, lse, None,
                                                    1.0, False)
    np.testing.assert_array_equal(dq, 0.0)
    assert dk.shape == (2, 0, 4) and dv.shape == (2, 0, 5)


def test_causal_skips_only_what_is_hidden_when_length_differs_from_keys():
    """Top-left aligned: query i sees keys 0..i, for L < S and L > S, across blocks."""
    rng = np.random.default_rng(2)
    for length, keys in ((70, 200), (200, 70)):
        q = rng.standard_normal((1, length, 8))
        k, v = rng.standard_normal((1, keys, 8)), rng.standard_normal((1, keys, 3))
        allowed = np.tril(np.ones((length, keys), dtype=bool))
        bias = np.where(allowed, 0.0, -np.inf)
        for ours, masked in zip(attention.flash_attention_forward(q, k, v, None, 0.4, True),
                                attention.flash_attention_forward(q, k, v, bias, 0.4, False),
                                strict=True):
            np.testing.assert_allclose(ours, masked, rtol=1e-12, atol=1e-12)


def test_float16_is_computed_in_float32_and_rounded_once():
    rng = np.random.default_rng(3)
    q, k, v, g = (rng.standard_normal((2, 9, 4)).astype(np.float16) for _ in range(4))
    single = [a.astype(np.float32) for a in (q, k, v, g)]
    out, lse = attention.flash_attention_forward(q, k, v, None, 0.5, True)
    out32, lse32 = attention.flash_attention_forward(*single[:3], None, 0.5, True)
    assert out.dtype == np.float16 and lse.dtype == np.float32
    np.testing.assert_array_equal(out, out32.astype(np.float16))
    np.testing.assert_array_equal(lse, lse32)
    grads = attention.flash_attention_backward(g, q, k, v, out, lse, None, 0.5, True)
    expected = attention.flash_attention_backward(single[3], *single[:3], out.astype(np.float32),
                                                  lse, None, 0.5, True)
    for grad, want in zip(grads, expected, strict=True):
        assert grad.dtype == np.float16
        np.testing.assert_array_equal(grad, want.astype(np.float16))


def test_exp2_polynomial_is_accurate_and_flushes_to_zero():
    exp2 = numba.njit(lambda x: _flash_tiles._exp2(x))
    x = np.linspace(-126, 0, 200_001, dtype=np.float32)
    ours = np.array([exp2(value) for value in x[::100]], dtype=np.float64)
    exact = np.exp2(x[::100].astype(np.float64))
    assert np.max(np.abs(ours - exact) / exact) < 1e-7
    assert exp2(np.float32(0.0)) == 1.0 and exp2(np.float32(-1.0)) == 0.5
    assert exp2(np.float32(-127.0)) == 0.0 and exp2(np.float32(-np.inf)) == 0.0
    assert exp2(-3.5) == 2.0 ** -3.5  # float64: exact pow


@pytest.mark.skipif(not llvm.get_host_cpu_features().get("avx512f", False),
                    reason="the register tile is sized for AVX-512's 32 zmm registers")
def test_micro_kernel_keeps_its_tile_in_zmm_registers():
    """The 6 x 64 float32 tile (`kernels.cpu._register_tile`, shared with the matmul
    micro-kernel) lives in 24 zmm registers: one depth step is 24 packed FMAs, with no
    stack access between them. Cached code has no assembly, so it is compiled afresh."""
    fresh = numba.njit(fastmath={"contract"})(_flash_tiles._micro_kernel.py_func)
    flat, c = np.zeros(4096, np.float32), np.zeros((8, 64), np.float32)
    fresh(flat, 0, 64, 1, flat, 0, 64, 4, c, 0, 0, 6, 64, False)
    assembly = fresh.inspect_asm(fresh.signatures[0])
    fmas = [line for line in assembly.splitlines() if line.strip().startswith("vfmadd231ps")]
    assert len(fmas) == 24 and all("zmm" in line for line in fmas)
    start = assembly.index(fmas[0])
    assert "rsp" not in assembly[start:assembly.index(fmas[-1], start)]


def test_bad_arguments_are_specific_errors():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    forward = attention.flash_attention_forward
    with pytest.raises(ValueError, match=r"expected 3-D q \(B, L, E\)"):
        forward(q[0], k, v, None, 1.0, False)
    with pytest.raises(ValueError, match=r"same number of heads B, got shapes \(2, 3, 4\), "
                                         r"\(1, 5, 4\)"):
        forward(q, k[:1], v, None, 1.0, False)
    with pytest.raises(ValueError, match="same embedding size E: 4 != 3"):
        forward(q, k[..., :3], v, None, 1.0, False)
    with pytest.raises(ValueError, match="same number of keys S: 5 != 4"):
        forward(q, k, v[:, :4], None, 1.0, False)
    with pytest.raises(ValueError, match=r"bias of shape \(3, 4\) does not broadcast to the "
                                         r"scores' shape \(2, 3, 5\)"):
        forward(q, k, v, np.zeros((3, 4)), 1.0, False)
    with pytest.raises(ValueError, match="dtype int64 is not supported"):
        forward(q.astype(np.int64), k, v, None, 1.0, False)
    out, _ = forward(q, k, v, None, 1.0, False)
    with pytest.raises(ValueError, match=r"expected lse of shape \(2, 3\), got \(2, 4\)"):
        attention.flash_attention_backward(out, q, k, v, out, np.zeros((2, 4)), None, 1.0,
                                           False)


def test_kernels_do_not_import_minigrad():
    code = "import sys, kernels.cpu.attention; print('minigrad' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "False"


# -- the op: scaled_dot_product_attention under the "numba" backend ----------------------------


def sdpa_values_and_grads(backend, shapes, dtype, **kwargs):
    rng = np.random.default_rng(4)
    tensors = [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
               for s in shapes]
    with mg.use_backend(backend):
        out = F.scaled_dot_product_attention(*tensors, **kwargs)
        weights = rng.standard_normal(out.shape).astype(dtype)
        (out * mg.tensor(weights)).sum().backward()
    return out, [out.data] + [t.grad.data for t in tensors]


OP_CASES = {
    "plain": ([(2, 3, 70, 8), (2, 3, 67, 8), (2, 3, 67, 5)], {}),
    "causal": ([(2, 3, 70, 8), (2, 3, 130, 8), (2, 3, 130, 5)], {"is_causal": True}),
    "broadcast_batch": ([(2, 1, 9, 4), (1, 3, 11, 4), (11, 6)], {}),
    "bool_mask": ([(2, 2, 9, 4), (2, 2, 11, 4), (2, 2, 11, 3)],
                  {"attn_mask": np.random.default_rng(5).random((2, 1, 9, 11)) > 0.3}),
    "float_mask": ([(2, 9, 4), (2, 11, 4), (2, 11, 3)],
                   {"attn_mask": np.random.default_rng(6).standard_normal((9, 11))}),
    "scale": ([(3, 9, 4), (3, 11, 4), (3, 11, 3)], {"scale": 0.7, "is_causal": True}),
}


@pytest.mark.parametrize("case", list(OP_CASES))
def test_op_under_numba_matches_numpy_in_float32(case):
    shapes, kwargs = OP_CASES[case]
    if "attn_mask" in kwargs:
        mask = kwargs["attn_mask"]
        kwargs = dict(kwargs, attn_mask=mg.tensor(mask.astype(np.float32)
                                                  if mask.dtype != bool else mask))
    flash, ours = sdpa_values_and_grads("numba", shapes, np.float32, **kwargs)
    plain, expected = sdpa_values_and_grads("numpy", shapes, np.float32, **kwargs)
    assert type(flash.grad_fn).__name__ == "FlashAttention"
    assert type(plain.grad_fn).__name__ == "ScaledDotProductAttention"
    for got, want in zip(ours, expected, strict=True):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", ["plain", "causal", "broadcast_batch", "bool_mask", "float_mask"])
def test_op_gradcheck_in_float64_under_numba(case):
    shapes, kwargs = OP_CASES[case]
    shapes = [s[:-2] + (min(s[-2], 7), s[-1]) for s in shapes]  # keep gradcheck cheap
    if "attn_mask" in kwargs:
        kwargs = dict(kwargs, attn_mask=mg.tensor(kwargs["attn_mask"][..., :7, :7]))
    rng = np.random.default_rng(7)
    tensors = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    with mg.use_backend("numba"):
        assert type(F.scaled_dot_product_attention(*tensors, **kwargs).grad_fn).__name__ == \
            "FlashAttention"
        assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs),
                         tuple(tensors))


def test_op_keeps_the_materialising_path_for_dropout_and_learned_masks():
    rng = np.random.default_rng(8)
    q, k, v = (mg.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True) for _ in range(3))
    bias = mg.tensor(rng.standard_normal((5, 5)), requires_grad=True)
    with mg.use_backend("numba"):
        dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
        learned = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        fixed = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.detach())
    assert type(dropped.grad_fn).__name__ == "ScaledDotProductAttention"
    assert type(learned.grad_fn).__name__ == "ScaledDotProductAttention"
    assert type(fixed.grad_fn).__name__ == "FlashAttention"
    np.testing.assert_allclose(fixed.data, learned.data, rtol=1e-12)


def test_op_detects_an_input_modified_in_place_before_backward():
    rng = np.random.default_rng(9)
    q, k, v = (mg.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True) for _ in range(3))
    with mg.use_backend("numba"):
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        with mg.no_grad():
            k.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()
