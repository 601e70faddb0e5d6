"""Neural-network building blocks. For now: `minigrad.nn.functional`."""

from minigrad.nn import functional

__all__ = ["functional"]
