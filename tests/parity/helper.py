"""`helper_test_op`: run the same computation in minigrad and in PyTorch and compare.

In the style of tinygrad's `helper_test_op`: one call builds identical random inputs in both
frameworks, runs the same lambda on each (minigrad's names follow PyTorch, so
`lambda x, y: (x @ y).relu()` means the same thing in both), and compares the forward values,
dtypes and shapes, then the gradient of every input that requires grad::

    helper_test_op([(3, 4), (4, 5)], lambda x, y: x @ y)
    helper_test_op([(2, 3)], lambda x: x.max(dim=1))              # (values, indices) both checked
    helper_test_op([(4, 5)], lambda x: F.pad(x, (1, 2), mode="reflect"),
                   lambda x: torch.nn.functional.pad(x, (1, 2), mode="reflect"))

torch is imported lazily, so importing this module never requires it.
"""

from __future__ import annotations

import numpy as np

import minigrad


def helper_test_op(inputs, minigrad_fn, torch_fn=None, *, atol: float = 1e-6,
                   rtol: float = 1e-5, grad_atol: float | None = None,
                   grad_rtol: float | None = None, forward_only: bool = False,
                   low: float = -2.0, high: float = 2.0, dtype=np.float32,
                   upstream: str = "random", requires_grad=None, seed: int = 0):
    """Compare `minigrad_fn(*mg_inputs)` with `torch_fn(*torch_inputs)`, forward and backward.

    Args:
        inputs: one entry per argument of the lambdas: a shape tuple (values uniform in
            [low, high), of `dtype`) or a NumPy array (used as given: any dtype, any memory
            layout; minigrad sees a view-preserving copy, torch a copy).
        minigrad_fn: a function of minigrad Tensors returning a Tensor or a tuple/list of them
            (e.g. the `(values, indices)` of `max(dim)`, the pieces of `split`).
        torch_fn: the same for torch Tensors; None uses `minigrad_fn` for both.
        atol, rtol: forward tolerance (`|mg - torch| <= atol + rtol |torch|`).
        grad_atol, grad_rtol: gradient tolerance (default: 10x the forward tolerance).
        forward_only: skip the gradient comparison.
        low, high, dtype: how inputs given as shapes are generated.
        upstream: "random" backpropagates a random upstream gradient (the same in both),
            "ones" backpropagates `out.sum()`.
        requires_grad: a bool per input; default: every floating-point input.
        seed: seed of the random inputs and upstream gradients.

    Returns:
        `(minigrad outputs, torch outputs)` as lists, for extra checks by the caller.

    Raises:
        AssertionError naming the output or input, the shapes, dtypes and worst mismatch.
    """
    import torch

    torch_fn = minigrad_fn if torch_fn is None else torch_fn
    grad_atol = atol * 10 if grad_atol is None else grad_atol
    grad_rtol = rtol * 10 if grad_rtol is None else grad_rtol
    rng = np.random.default_rng(seed)
    arrays = [
        x if isinstance(x, np.ndarray)
        else rng.uniform(low, high, size=tuple(x)).astype(dtype)
        for x in inputs
    ]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    elif isinstance(requires_grad, bool):
        requires_grad = [requires_grad and a.dtype.kind == "f" for a in arrays]
    mg_inputs = [minigrad.from_numpy(np.array(a, copy=True, order="K")) for a in arrays]
    torch_inputs = [torch.tensor(a) for a in arrays]
    for m, t, rg in zip(mg_inputs, torch_inputs, requires_grad):
        if rg:
            m.requires_grad_(True)
            t.requires_grad_(True)

    mg_out = _as_list(minigrad_fn(*mg_inputs))
    torch_out = _as_list(torch_fn(*torch_inputs))
    where = f"inputs of shapes {[a.shape for a in arrays]}"
    assert len(mg_out) == len(torch_out), (
        f"{where}: minigrad returned {len(mg_out)} outputs, torch {len(torch_out)}"
    )
    for i, (m, t) in enumerate(zip(mg_out, torch_out)):
        _compare(f"{where}: forward output {i}", _mg_value(m), _torch_value(t), atol, rtol)

    if forward_only or not any(requires_grad):
        return mg_out, torch_out
    pairs = []
    for i, (m, t) in enumerate(zip(mg_out, torch_out)):
        t_grad = isinstance(t, torch.Tensor) and t.requires_grad
        m_grad = isinstance(m, minigrad.Tensor) and m.requires_grad
        assert m_grad == t_grad, (
            f"{where}: output {i}: requires_grad is {m_grad} in minigrad but {t_grad} in torch"
        )
        if t_grad:
            pairs.append((m, t))
    if not pairs:
        return mg_out, torch_out
    upstreams = [
        rng.uniform(-1, 1, size=m.shape).astype(m.data.dtype) if upstream == "random"
        else np.ones(m.shape, dtype=m.data.dtype)
        for m, _ in pairs
    ]
    minigrad.autograd.backward([m for m, _ in pairs], [minigrad.tensor(g) for g in upstreams])
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(g) for g in upstreams])
    for j, (m, t, rg) in enumerate(zip(mg_inputs, torch_inputs, requires_grad)):
        if not rg:
            continue
        t_grad = np.zeros(t.shape, t.detach().numpy().dtype) if t.grad is None \
            else t.grad.numpy()
        m_grad = np.zeros(m.shape, m.data.dtype) if m.grad is None else m.grad.data
        _compare(f"{where}: gradient of input {j}", m_grad, t_grad, grad_atol, grad_rtol)
    return mg_out, torch_out


def _as_list(out) -> list:
    """A Tensor, a tuple/list/namedtuple of Tensors or a Python value, as a flat list."""
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _mg_value(x):
    return x.data if isinstance(x, minigrad.Tensor) else np.asarray(x)


def _torch_value(x):
    import torch

    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _compare(what: str, actual: np.ndarray, expected: np.ndarray, atol: float,
             rtol: float) -> None:
    """Assert same shape, same dtype and close values (NaNs and infs must match exactly)."""
    assert actual.shape == expected.shape, (
        f"{what}: minigrad shape {actual.shape} != torch shape {expected.shape}"
    )
    assert actual.dtype == expected.dtype, (
        f"{what}: minigrad dtype {actual.dtype} != torch dtype {expected.dtype}"
    )
    if actual.dtype.kind in "biu":
        mismatch = actual != expected
    else:
        with np.errstate(invalid="ignore"):
            close = np.isclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True)
        mismatch = ~close
    if mismatch.any():
        first = tuple(int(i) for i in np.argwhere(mismatch)[0])
        worst = ""
        if actual.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                err = np.nanmax(np.abs(actual.astype(np.float64) - expected.astype(np.float64)))
            worst = f"; max |difference| {err:.3g} (atol {atol:g}, rtol {rtol:g})"
        raise AssertionError(
            f"{what}: {int(mismatch.sum())} of {mismatch.size} elements differ; first at "
            f"{first}: minigrad {actual[first]!r}, torch {expected[first]!r}{worst}\n"
            f"minigrad:\n{actual}\ntorch:\n{expected}"
        )
