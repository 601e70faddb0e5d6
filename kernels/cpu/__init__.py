"""Numba `@njit` CPU kernels, one file per kernel family (`depthwise.py` is the depthwise
convolution), with the same function names and signatures as `kernels/reference/`, which
is their specification and their test oracle: a reader can put a kernel here next to its
reference and diff the idea against the optimisation. Arrays in, arrays out; like the rest of
`kernels`, nothing here imports minigrad. Each kernel's docstring states its algorithm, loop
order and parallelisation, memory traffic and FLOP count. To debug one as plain Python (print,
pdb, an index error that names its line), run with `NUMBA_DISABLE_JIT=1`, e.g.
`NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k depthwise`.
"""
