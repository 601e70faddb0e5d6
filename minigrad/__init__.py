"""minigrad: a small deep-learning framework on NumPy, built to be read and measured.

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x @ x.T).relu().sum()
    y.backward()
    x.grad

Names follow PyTorch: what you learn here carries over.
"""

# Import order matters: autograd's Function and the Tensor class refer to each other.
from minigrad import autograd  # noqa: I001
from minigrad.tensor import Tensor
from minigrad import ops
from minigrad.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minigrad.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                               full_like, linspace, ones, ones_like, rand, rand_like, randint,
                               randint_like, randn, randn_like, randperm, tensor, zeros,
                               zeros_like)
from minigrad.dtype import (bool, double, dtype, float, float16, float32, float64, half, int,
                            int8, int16, int32, int64, long, short, uint8)
from minigrad.ops import *  # noqa: F403 - the op set is the top-level namespace, as torch.*
from minigrad.random import (Generator, default_generator, get_rng_state, initial_seed,
                             manual_seed, seed, set_rng_state)
from minigrad.backend import get_backend, set_backend, use_backend  # noqa: E402
from minigrad import nn  # noqa: E402
from minigrad import optim  # noqa: E402
from minigrad.serialization import load, save  # noqa: E402

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()
