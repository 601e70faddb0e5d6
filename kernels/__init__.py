"""The hand-written kernels on plain NumPy arrays; `reference/` is their specification and `kernels` never imports `minigrad`."""
