"""Which module is running: a stack kept by forward pre/post hooks on every module of a model.

The op observer only sees arrays; to charge an op to a layer, the profiler asks this stack
for the innermost module whose forward is running when the op runs (the same idea as
PyTorch's `FlopCounterMode`, which also tracks modules with forward hooks).
"""

from __future__ import annotations

import time
from collections.abc import Callable

OUTSIDE = "(outside modules)"  # where ops run outside every module of the model are charged


class ModuleTracker:
    """Forward pre/post hooks on each module of `model`, maintaining the running stack.

    Names are those of `model.named_modules()`; the model itself is `""`, as in PyTorch.
    Optional callbacks `on_enter(name, module, depth)` and `on_exit(name, module, output,
    seconds)` run in the hooks; `depth` is the number of modules running around it, and
    `seconds` the module's own time (its forward's wall time minus that of the modules it
    called), measured with `time.perf_counter`.
    """

    def __init__(self, model, on_enter: Callable | None = None,
                 on_exit: Callable | None = None) -> None:
        self.model = model
        self.on_enter, self.on_exit = on_enter, on_exit
        self._stack: list = []  # [name, start time, time spent in children]
        self._handles: list = []

    @property
    def current(self) -> str:
        """The name of the innermost module running, or OUTSIDE."""
        return self._stack[-1][0] if self._stack else OUTSIDE

    def attach(self) -> ModuleTracker:
        for name, module in self.model.named_modules():
            self._handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
            self._handles.append(module.register_forward_hook(self._post_hook(name)))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._stack.clear()

    def __enter__(self) -> ModuleTracker:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _pre_hook(self, name: str) -> Callable:
        def hook(module, args):
            if self.on_enter is not None:
                self.on_enter(name, module, len(self._stack))
            self._stack.append([name, time.perf_counter(), 0.0])

        return hook

    def _post_hook(self, name: str) -> Callable:
        def hook(module, args, output):
            end = time.perf_counter()
            # a forward that raised never reached its post hook: drop what it left above us
            while self._stack and self._stack[-1][0] != name:
                self._stack.pop()
            if not self._stack:
                return
            _, start, children = self._stack.pop()
            total = end - start
            if self._stack:
                self._stack[-1][2] += total
            if self.on_exit is not None:
                self.on_exit(name, module, output, total - children)

        return hook
