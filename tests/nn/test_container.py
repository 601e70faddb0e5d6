"""Sequential, ModuleList and ModuleDict (container.py): registration names, indexing and
slicing, mutation with renumbering, forward, reprs."""

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_sequential_forward_and_state_dict_keys():
    mg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = mg.randn(5, 4)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).data, expected.data)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_an_ordered_dict_keeps_the_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert seq[1] is seq.act and seq[-1] is seq.act


def test_sequential_indexing_and_slicing():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Tanh()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[3]
    tail = seq[1:3]
    assert type(tail) is nn.Sequential and list(tail) == layers[1:3]
    assert list(tail._modules) == ["1", "2"]  # names are kept, as PyTorch
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for 4 modules"):
        seq[4]


def test_sequential_mutation():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    sig = nn.Sigmoid()
    assert seq.append(sig) is seq and seq[2] is sig
    seq[0] = nn.GELU()
    assert isinstance(seq[0], nn.GELU)
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq[1] is sig  # renumbered
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "GELU", "Sigmoid"]
    assert list(seq._modules) == ["0", "1", "2"]
    seq.extend([nn.ReLU(), nn.ReLU()])
    assert len(seq) == 5
    popped = seq.pop(1)
    assert isinstance(popped, nn.GELU) and len(seq) == 4
    del seq[1:3]
    assert [type(m).__name__ for m in seq] == ["Identity", "ReLU"]
    with pytest.raises(TypeError, match="Sequential.insert: expected a Module, got int"):
        seq.insert(0, 3)


def test_modulelist():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(blocks) == 3 and len(list(blocks.parameters())) == 6
    assert list(blocks.state_dict())[:2] == ["0.weight", "0.bias"]
    blocks.append(nn.ReLU())
    blocks += [nn.Tanh()]
    blocks.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in blocks] == ["Linear", "Sigmoid", "Linear", "Linear",
                                                  "ReLU", "Tanh"]
    assert list(blocks._modules) == [str(i) for i in range(6)]
    assert type(blocks[1:3]) is nn.ModuleList and list(blocks[1:3]._modules) == ["0", "1"]
    del blocks[0]
    assert isinstance(blocks[0], nn.Sigmoid) and list(blocks._modules)[-1] == "4"
    assert isinstance(blocks.pop(), nn.Tanh) and len(blocks) == 4
    blocks[-1] = nn.GELU()
    assert isinstance(blocks[3], nn.GELU)
    with pytest.raises(IndexError, match="ModuleList: index 9 is out of range"):
        blocks[9]
    with pytest.raises(TypeError, match="should be called with an iterable of modules, but got "
                                        "ReLU"):
        blocks.extend(nn.ReLU())
    with pytest.raises(NotImplementedError, match="ModuleList"):
        blocks(mg.ones(1))


def test_modulelist_repr_folds_repeats():
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    assert repr(blocks) == (
        "ModuleList(\n"
        "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Linear(in_features=2, out_features=2, bias=True)\n"
        ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_moduledict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    assert list(heads) == ["cls", "box"] and "cls" in heads and len(heads) == 2
    assert list(heads.keys()) == ["cls", "box"]
    assert [type(v).__name__ for v in heads.values()] == ["Linear", "Linear"]
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    heads["act"] = nn.ReLU()
    heads.update([("norm", nn.LayerNorm(4))])
    assert [k for k, _ in heads.items()] == ["cls", "box", "act", "norm"]
    assert isinstance(heads.pop("act"), nn.ReLU) and "act" not in heads
    del heads["norm"]
    assert list(heads) == ["cls", "box"]
    with pytest.raises(ValueError, match="expected \\(name, module\\) pairs"):
        heads.update([nn.ReLU()])
    heads.clear()
    assert len(heads) == 0
    assert repr(nn.ModuleDict({"a": nn.ReLU()})) == "ModuleDict(\n  (a): ReLU()\n)"


def test_sequential_repr():
    assert repr(nn.Sequential(nn.Linear(4, 3), nn.ReLU())) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        ")")
