"""`minigrad bench kernels`: every hand-written kernel next to the NumPy reference, OpenBLAS
and PyTorch, in one run (being written)."""
