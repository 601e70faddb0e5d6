"""Random numbers: one global generator, so `manual_seed(0)` makes a whole run reproducible.

`Generator` wraps NumPy's PCG64 bit generator. Every random op (`rand`, `randn`, `randint`,
`dropout`, init functions, data shuffling) draws from `default_generator` unless it is given
its own `generator=`.
"""

from __future__ import annotations

import numpy as np


class Generator:
    """A seedable source of random numbers, as `torch.Generator`."""

    def __init__(self, seed: int = 0) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The generator's full state, as a dict of ints and strings (savable without pickle)."""
        state = self.numpy.bit_generator.state
        return {
            "seed": self._seed,
            "state": str(state["state"]["state"]),
            "inc": str(state["state"]["inc"]),
            "has_uint32": int(state["has_uint32"]),
            "uinteger": int(state["uinteger"]),
        }

    def set_state(self, state: dict) -> Generator:
        self._seed = int(state["seed"])
        self.numpy.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int(state["state"]), "inc": int(state["inc"])},
            "has_uint32": int(state["has_uint32"]),
            "uinteger": int(state["uinteger"]),
        }
        return self


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator non-deterministically; returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The global generator's state (a dict, where PyTorch returns a byte tensor)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _numpy_generator(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy
