"""minigrad/tensor.py: construction, metadata, conversion, repr, autograd-facing methods."""

import numpy as np
import pytest

import minigrad as mg


def test_python_floats_become_float32_ints_int64_bools_bool():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([True, False]).dtype == mg.bool
    assert mg.tensor(3.5).shape == ()


def test_numpy_data_keeps_its_dtype_and_is_copied():
    a = np.arange(3, dtype=np.int32)
    t = mg.tensor(a)
    assert t.dtype == mg.int32
    a[0] = 100
    assert t.tolist() == [0, 1, 2]
    assert mg.tensor(np.float64(2.0)).dtype == mg.float64


def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float32)
    t = mg.from_numpy(a)
    a[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    with pytest.raises(TypeError, match="numpy.ndarray"):
        mg.from_numpy([1, 2])


def test_explicit_dtype_and_unsupported_dtype_error():
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == mg.float64
    assert mg.tensor([1, 2], dtype="float16").dtype == mg.float16
    with pytest.raises(TypeError, match="complex128"):
        mg.tensor(np.array([1j]))


def test_requires_grad_only_for_floating_point():
    with pytest.raises(RuntimeError, match="floating point.*int64"):
        mg.tensor([1, 2], requires_grad=True)
    t = mg.tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_metadata():
    t = mg.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and t.element_size() == 4 and t.nbytes == 96
    assert t.stride() == (12, 4, 1)
    assert t.is_contiguous() and not t.transpose(0, 2).is_contiguous()
    assert t.is_floating_point() and not mg.tensor([1]).is_floating_point()
    assert t.device == "cpu"
    with pytest.raises(IndexError, match=r"range of \[-3, 2\], but got 3"):
        t.size(3)


def test_item_and_its_error():
    assert mg.tensor([[2.5]]).item() == 2.5
    assert isinstance(mg.tensor(3).item(), int)
    with pytest.raises(RuntimeError, match="2 elements"):
        mg.tensor([1.0, 2.0]).item()


def test_numpy_refuses_when_requires_grad():
    t = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0]
    np.testing.assert_array_equal(np.asarray(t), [1.0])


def test_python_protocols():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(t) == 2
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert float(mg.tensor(2.5)) == 2.5 and int(mg.tensor(7)) == 7
    assert [10, 20, 30][mg.tensor(1)] == 20
    assert f"{mg.tensor(3.14159):.2f}" == "3.14"
    assert bool(mg.tensor([1.0])) is True
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))
    assert len({t, t}) == 1  # hashable by identity


def test_repr_like_pytorch():
    assert repr(mg.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(mg.tensor([[1.0, 2.0]])) == "tensor([[1., 2.]])"
    assert repr(mg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(mg.tensor([1, 2], dtype=mg.int32)) == "tensor([1, 2], dtype=minigrad.int32)"
    assert repr(mg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(mg.tensor([1.0], requires_grad=True) * 2)
    assert "size=(0, 3)" in repr(mg.zeros(0, 3))


def test_numpy_array_on_the_left_uses_tensor_operators():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    out = np.array([10.0, 20.0], dtype=np.float32) + t
    assert isinstance(out, mg.Tensor) and out.requires_grad
    assert out.tolist() == [11.0, 22.0]


def test_detach_requires_grad_and_to():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    y.requires_grad_()
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)
    d = x.double()
    assert d.dtype == mg.float64 and d.requires_grad
    d.sum().backward()
    assert x.grad.dtype == mg.float32 and x.grad.tolist() == [1.0, 1.0]
    assert x.to(mg.float32) is x
    assert x.to("cpu") is x
    with pytest.raises(RuntimeError, match="cuda"):
        x.to("cuda")


def test_new_tensor_helpers_keep_dtype():
    t = mg.tensor([1.0], dtype=mg.float64)
    assert t.new_zeros(2, 2).dtype == mg.float64
    assert t.new_ones((3,)).tolist() == [1.0, 1.0, 1.0]
    assert t.new_full((2,), 7.0).tolist() == [7.0, 7.0]
    assert t.new_tensor([1, 2]).dtype == mg.float64
