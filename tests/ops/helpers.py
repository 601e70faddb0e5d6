"""What every test of `minigrad/ops` does: compare a result with NumPy, and gradcheck an op.

- `assert_tensor(actual, expected)`: a Tensor with the expected shape, dtype and values.
- `check_grad(fn, *arrays)`: `minigrad.autograd.gradcheck` of `fn` at float64 arrays (memory
  layout kept, so non-contiguous inputs are checked as such), plus a backward pass that every
  input, empty ones included, gets a gradient of its own shape and dtype.
- `FAST`, `GRAD`: hypothesis settings sized so that `tests/ops` runs in well under a minute;
  `MINIGRAD_TEST_EXAMPLES_SCALE=N` multiplies their example counts (CI runs a 5x pass).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings

import minigrad
from minigrad.autograd import gradcheck
from tests.strategies import as_tensor

SCALE = int(os.environ.get("MINIGRAD_TEST_EXAMPLES_SCALE", "1"))

FAST = settings(max_examples=40 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
"""Forward-only property tests: cheap, so more examples."""

GRAD = settings(max_examples=15 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
"""Gradient checks: O(numel^2) op calls each, so fewer examples."""

TOLERANCE = {np.dtype(np.float16): (1e-3, 1e-3), np.dtype(np.float32): (1e-6, 1e-5),
             np.dtype(np.float64): (1e-12, 1e-10)}


def assert_tensor(actual, expected, dtype=None, atol: float | None = None,
                  rtol: float | None = None) -> None:
    """`actual` is a minigrad Tensor equal to `expected` (an array or array-like) in shape,
    dtype (`dtype` if given, else `expected`'s) and values (NaNs must match NaNs)."""
    assert isinstance(actual, minigrad.Tensor), f"expected a Tensor, got {type(actual).__name__}"
    expected = np.asarray(expected)
    want_dtype = np.dtype(dtype) if dtype is not None else expected.dtype
    assert actual.data.dtype == want_dtype, f"dtype {actual.data.dtype} != {want_dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    if want_dtype.kind in "biu":
        np.testing.assert_array_equal(actual.data, expected)
        return
    default_atol, default_rtol = TOLERANCE.get(want_dtype, (1e-6, 1e-5))
    np.testing.assert_allclose(actual.data, expected.astype(want_dtype),
                               atol=default_atol if atol is None else atol,
                               rtol=default_rtol if rtol is None else rtol, equal_nan=True)


def check_grad(fn, *arrays, requires_grad=None, atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """Gradcheck `fn(*tensors)` at `arrays` (float64 ones are differentiated by default).

    Empty arrays cannot be gradchecked (there is nothing to perturb), so they only take part
    in the shape/dtype check of the backward pass.
    """
    if requires_grad is None:
        requires_grad = [isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays]
    tensors = [as_tensor(a, requires_grad=rg and a.size > 0) if isinstance(a, np.ndarray) else a
               for a, rg in zip(arrays, requires_grad)]
    if any(isinstance(t, minigrad.Tensor) and t.requires_grad for t in tensors):
        assert gradcheck(fn, tuple(tensors), atol=atol, rtol=rtol)
    _check_gradient_shapes(fn, arrays, requires_grad)


def _check_gradient_shapes(fn, arrays, requires_grad) -> None:
    tensors = [as_tensor(np.array(a), requires_grad=rg) if isinstance(a, np.ndarray) else a
               for a, rg in zip(arrays, requires_grad)]
    out = fn(*tensors)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    outs = [o for o in outs if isinstance(o, minigrad.Tensor) and o.requires_grad]
    if not outs:
        return
    rng = np.random.default_rng(0)
    minigrad.autograd.backward(outs, [rng.uniform(-1, 1, o.shape) for o in outs])
    for i, (t, rg) in enumerate(zip(tensors, requires_grad)):
        if not rg:
            continue
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == t.shape, f"input {i}: grad shape {t.grad.shape} != {t.shape}"
        assert t.grad.dtype == t.dtype, f"input {i}: grad dtype {t.grad.dtype} != {t.dtype}"
        assert np.isfinite(t.grad.data).all(), f"input {i}: non-finite gradient"
