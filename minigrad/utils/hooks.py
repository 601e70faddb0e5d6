"""`RemovableHandle`: what every `register_*hook` returns, so the hook can be taken off again."""

from __future__ import annotations


class RemovableHandle:
    """Removes `hook` from `hooks` (a list or dict it was added to) on `remove()` or on exit."""

    def __init__(self, hooks, hook) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is None:
            return
        if isinstance(hooks, dict):
            for key, value in list(hooks.items()):
                if value is self._hook:
                    del hooks[key]
        else:
            for i, value in enumerate(hooks):
                if value is self._hook:
                    del hooks[i]
                    break

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
