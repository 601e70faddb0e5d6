"""The hand-written kernels on plain NumPy arrays; `reference.py` is their specification and `kernels` never imports `minigrad`."""
