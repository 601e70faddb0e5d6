"""Numba `@njit` CPU kernels with the same function names and signatures as
`kernels/reference/`, which is their specification and their test oracle: a reader can put a
kernel here next to its reference and diff the idea against the optimisation. Arrays in,
arrays out; like the rest of `kernels`, nothing here imports minigrad. Each kernel's
docstring states its algorithm, loop order and parallelisation, memory traffic and FLOP
count. To debug one as plain Python (print, pdb, an index error that names its line), run
with `NUMBA_DISABLE_JIT=1`, e.g. `NUMBA_DISABLE_JIT=1 python -m pytest -q tests/kernels -k
depthwise`.

One public module per kernel family: `matmul.py`, `attention.py`, `depthwise.py`,
`int8_gemm.py` and `fused.py`. Each holds the public kernels, their argument checks and the
layout they hand to Numba, and its docstring tells the whole story; the lower-level loops live
in the family's private modules (`_matmul_packed.py`, `_flash_*.py`, `_depthwise_*.py`,
`_int8_*.py`, `_fused_*.py` with `_vector_math.py`). Shared by several families:
`_register_tile.py` (the micro-kernels' register tile), `_layout.py` (compute dtype, rows) and
`_threads.py` (one thread for small calls). Numba's on-disk cache does not notice edits to a
module that a kernel imports: after changing one, delete `kernels/cpu/__pycache__/*.nb[ic]`.
"""
