"""Switching graph recording on and off: `no_grad`, `enable_grad`, `set_grad_enabled`.

While recording is off, ops still compute their results but build no graph, so no
intermediate array is kept alive for a backward pass that will never come (inference,
optimizer updates, evaluation loops). The switch is one process-wide flag, read by
`Function.apply` on every op; unlike PyTorch it is not thread-local.
"""

from __future__ import annotations

import functools


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph that `backward()` walks."""
    return _GradMode.enabled


class set_grad_enabled:  # noqa: N801 - the PyTorch name
    """Turn graph recording on or off; a call, a context manager and a decorator, as in PyTorch.

    `set_grad_enabled(False)` switches recording off at once; used as
    `with set_grad_enabled(mode):` it restores the previous state on exit.
    """

    def __init__(self, mode: bool) -> None:
        self.prev = _GradMode.enabled
        self.mode = bool(mode)
        _GradMode.enabled = self.mode

    def __enter__(self) -> None:
        _GradMode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode
        _GradMode.enabled = self.prev  # used as a decorator: the call above must not leak

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _ModeContext:
    """Base of `no_grad` and `enable_grad`: a context manager that is also a decorator."""

    mode = True

    def __enter__(self) -> None:
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _GradMode.enabled
            _GradMode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _GradMode.enabled = prev

        return wrapper


class no_grad(_ModeContext):  # noqa: N801 - the PyTorch name
    """Context manager and decorator: ops inside build no graph (`requires_grad` is False)."""

    mode = False


class enable_grad(_ModeContext):  # noqa: N801 - the PyTorch name
    """Context manager and decorator: turn recording back on inside a `no_grad` block."""

    mode = True
