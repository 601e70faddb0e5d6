"""minigrad/dtype.py: PyTorch-named dtypes over NumPy's."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.dtype import from_numpy_dtype, to_numpy_dtype


def test_names_aliases_and_numpy_mapping():
    assert repr(mg.float32) == "minigrad.float32"
    assert mg.float is mg.float32 and mg.double is mg.float64 and mg.long is mg.int64
    assert mg.half is mg.float16 and mg.int is mg.int32
    assert mg.float32.numpy == np.float32 and mg.float32.itemsize == 4
    assert mg.float64.is_floating_point and not mg.int8.is_floating_point


def test_conversions_both_ways():
    assert from_numpy_dtype(np.int8) is mg.int8
    assert to_numpy_dtype(mg.bool) == np.bool_
    assert to_numpy_dtype("int32") == np.int32
    with pytest.raises(TypeError, match="unsupported dtype.*minigrad supports"):
        from_numpy_dtype(np.complex64)


def test_tensor_dtype_is_the_singleton():
    assert mg.zeros(2).dtype is mg.float32
    assert mg.zeros(2, dtype=mg.int8).dtype == mg.int8
