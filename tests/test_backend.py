"""Tests of `minigrad/backend.py`: choosing the backend, and which kernel each one runs."""

import os
import subprocess
import sys

import pytest

import kernels.reference as reference
import minigrad as mg
from minigrad import backend


@pytest.fixture(autouse=True)
def restore_backend():
    previous = mg.get_backend()
    yield
    mg.set_backend(previous)


def test_numpy_backend_runs_the_reference():
    mg.set_backend("numpy")
    assert backend.kernel("depthwise_conv2d_forward") is reference.depthwise_conv2d_forward
    assert backend.kernel("conv2d_forward") is reference.conv2d_forward


def test_numba_runs_every_numba_kernel_and_auto_the_ones_it_lists():
    import importlib
    mg.set_backend("numba")
    for name, module in backend.NUMBA_KERNELS.items():
        numba_version = getattr(importlib.import_module(module), name)
        assert numba_version is not getattr(reference, name)
        assert backend.kernel(name) is numba_version and backend.uses_numba(name)
    # a kernel with no Numba version runs the reference on every backend
    assert backend.kernel("batch_norm_forward") is reference.batch_norm_forward
    assert not backend.uses_numba("batch_norm_forward")
    mg.set_backend("auto")
    for name, module in backend.NUMBA_KERNELS.items():
        expected = importlib.import_module(module) if name in backend.AUTO else reference
        assert backend.kernel(name) is getattr(expected, name)
    assert backend.AUTO <= set(backend.NUMBA_KERNELS)


def test_use_backend_restores_the_previous_one_even_after_an_error():
    mg.set_backend("auto")
    with pytest.raises(KeyError):
        with mg.use_backend("numpy"):
            assert mg.get_backend() == "numpy"
            raise KeyError("inside")
    assert mg.get_backend() == "auto"


def test_unknown_and_cuda_backends_are_clear_errors():
    with pytest.raises(ValueError, match="unknown backend 'gpu'; choose one of"):
        mg.set_backend("gpu")
    with pytest.raises(RuntimeError, match="'cuda' backend has no kernels yet"):
        mg.set_backend("cuda")
    assert mg.get_backend() in ("numpy", "numba", "auto")


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_environment_variable_sets_the_starting_backend(name):
    env = {**os.environ, "MINIGRAD_BACKEND": name}
    out = subprocess.run([sys.executable, "-c", "import minigrad; print(minigrad.get_backend())"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == name


def test_depthwise_conv_gives_the_same_result_and_gradients_on_every_backend():
    mg.manual_seed(0)
    x = mg.randn(2, 4, 7, 7, requires_grad=True)
    w = mg.randn(4, 1, 3, 3, requires_grad=True)
    results = {}
    for name in ("numpy", "numba"):
        x.grad = w.grad = None
        with mg.use_backend(name):
            out = mg.nn.functional.conv2d(x, w, stride=2, padding=1, groups=4)
            (out * out).sum().backward()
        results[name] = (out.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    for ours, theirs in zip(results["numba"], results["numpy"]):
        assert ours.shape == theirs.shape
        assert abs(ours - theirs).max() < 1e-4
