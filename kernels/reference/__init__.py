"""Plain-NumPy reference kernels: the specification every fast kernel must match.

Arrays in, arrays out; nothing here imports minigrad. Each forward returns what its backward
needs beyond the inputs (max-pool indices, normalisation statistics, attention weights), so
an autograd `Function` saves exactly those. The Numba (`kernels/cpu`) and CUDA (`kernels/cuda`)
kernels keep these names and signatures, and `minigrad.backend.kernel(name)` picks one of
them by the name of its reference here.

One module per kernel family, all re-exported here so that `kernels.reference.<name>` is the
one place to look a kernel up: `window` (window geometry, im2col/col2im), `sums`, `conv`,
`pooling`, `normalization`, `attention`, `matmul`, `softmax` (softmax, log-softmax,
cross-entropy), `activation` (GELU) and `int8_gemm`.

Conventions in the docstrings: `N` batch, `C` channels, `H, W` input height and width,
`OH, OW` output height and width, `kh, kw` kernel size, `G` groups. The FLOP counts count a
multiply-add as 2 FLOPs and leave out O(output size) terms such as adding a bias.
"""

from kernels.reference.activation import *  # noqa: F401,F403
from kernels.reference.attention import *  # noqa: F401,F403
from kernels.reference.conv import *  # noqa: F401,F403
from kernels.reference.int8_gemm import *  # noqa: F401,F403
from kernels.reference.matmul import *  # noqa: F401,F403
from kernels.reference.normalization import *  # noqa: F401,F403
from kernels.reference.pooling import *  # noqa: F401,F403
from kernels.reference.softmax import *  # noqa: F401,F403
from kernels.reference.sums import *  # noqa: F401,F403
from kernels.reference.window import *  # noqa: F401,F403
