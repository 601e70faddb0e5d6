"""Utilities shared across minigrad: hook handles (and, later, data loading)."""


def __getattr__(name: str):
    # `minigrad.utils.data` loads on first access (`minigrad.utils.data.DataLoader` works after
    # a plain `import minigrad`, as in torch). Importing it eagerly here would be a cycle:
    # minigrad.tensor imports minigrad.utils.hooks before Tensor exists.
    if name == "data":
        import importlib

        return importlib.import_module("minigrad.utils.data")
    raise AttributeError(f"module 'minigrad.utils' has no attribute {name!r}")
