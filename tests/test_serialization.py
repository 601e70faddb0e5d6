"""minigrad/serialization.py: save/load round trips, atomic writes, and refusing bad files."""

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.serialization import MANIFEST, CheckpointError, load, save


def assert_same(a, b, where="root"):
    """Deep equality that also demands the same types, dtypes, flags and key order."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, mg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.requires_grad == b.requires_grad and b.is_leaf, where
        assert np.array_equal(a.data, b.data, equal_nan=a.is_floating_point()), where
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for (ka, va), kb in zip(a.items(), b):
            assert type(ka) is type(kb), f"{where}: key {ka!r}"
            assert_same(va, b[kb], f"{where}[{ka!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def round_trip(obj, tmp_path, **kwargs):
    path = tmp_path / "state.ckpt"
    save(obj, path, **kwargs)
    return load(path)


def optimizer_like_state():
    mg.manual_seed(0)
    return {"state": {0: {"step": 3, "exp_avg": mg.randn(4, 3), "exp_avg_sq": mg.rand(4, 3)},
                      1: {"step": 3, "exp_avg": mg.randn(3), "exp_avg_sq": mg.rand(3)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8,
                              "weight_decay": 0, "amsgrad": False, "params": [0, 1]}]}


def test_model_and_optimizer_state_round_trip_exactly(tmp_path):
    mg.manual_seed(1)
    model = OrderedDict([("fc.weight", mg.randn(4, 3, requires_grad=True)),
                         ("fc.bias", mg.zeros(4, dtype=mg.float64, requires_grad=True)),
                         ("bn.num_batches_tracked", mg.tensor(7)),
                         ("mask", mg.tensor([True, False])),
                         ("half", mg.randn(2, dtype=mg.float16)),
                         ("codes", mg.tensor([-3, 5], dtype=mg.int8))])
    checkpoint = {"model": model, "optimizer": optimizer_like_state(), "epoch": 2, "step": 300}
    loaded = round_trip(checkpoint, tmp_path)
    assert_same(checkpoint, loaded)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(loaded["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    assert loaded["model"]["fc.weight"].data is not model["fc.weight"].data


def test_rng_states_round_trip_and_reproduce_the_same_draws(tmp_path):
    mg.manual_seed(1234)
    mg.rand(5)  # move the state away from a fresh seed
    numpy_gen = np.random.default_rng(99)
    numpy_gen.random(3)
    mt = np.random.Generator(np.random.MT19937(5))
    state = {"minigrad": mg.get_rng_state(), "loader": numpy_gen.bit_generator.state,
             "mt": mt.bit_generator.state}
    loaded = round_trip(state, tmp_path)
    assert_same(state, loaded)
    assert loaded["loader"]["state"]["state"] > 2**64  # a 128-bit int, exact
    expected = mg.rand(4).tolist(), numpy_gen.random(4), mt.random(4)
    mg.set_rng_state(loaded["minigrad"])
    numpy_gen.bit_generator.state = loaded["loader"]
    mt.bit_generator.state = loaded["mt"]
    assert mg.rand(4).tolist() == expected[0]
    assert np.array_equal(numpy_gen.random(4), expected[1])
    assert np.array_equal(mt.random(4), expected[2])


def test_python_and_numpy_values_keep_type_and_value(tmp_path):
    values = {
        "ints": [0, -1, 2**63 - 1, -2**63, 2**63, -2**100, 10**40],
        "floats": [0.1, -0.0, 1e300, 5e-324, float("inf"), float("-inf"), float("nan"), 3.0],
        "misc": (True, False, None, "", "naïve ∑ \x00 \ud800", b"", b"\x00\xffbytes"),
        "numpy_scalars": [np.float32(0.1), np.float16(-2.5), np.int64(-7), np.uint8(255),
                          np.bool_(True), np.float64(np.nan), np.str_("s"), np.complex64(1j)],
        "arrays": [np.arange(12, dtype=np.int32).reshape(3, 4),
                   np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                   np.arange(20.0)[::3],  # strided, non-contiguous
                   np.array(3.5), np.zeros((0, 4), np.float32), np.array(["a", "bc"]),
                   np.zeros(2, dtype=[("x", "<i4"), ("y", ">f8")])],
        "nested": [[[]], {}, (), ((1,),), [{"a": [()]}]],
    }
    assert_same(values, round_trip(values, tmp_path))


def test_dict_keys_and_order_are_kept(tmp_path):
    mixed = {3: "three", "3": "string three", 1.5: "float", True: "bool", None: "none",
             -2**70: "big"}
    ordered = OrderedDict([("b", 1), ("a", 2)])
    loaded = round_trip({"mixed": mixed, "ordered": ordered, "plain": {"z": 1, "y": 2}},
                        tmp_path)
    assert_same(mixed, loaded["mixed"])
    assert type(loaded["ordered"]) is OrderedDict and list(loaded["ordered"]) == ["b", "a"]
    assert type(loaded["plain"]) is dict and list(loaded["plain"]) == ["z", "y"]


def test_tensor_reached_twice_is_stored_once_and_loads_as_one_object(tmp_path):
    shared = mg.randn(100)
    loaded = round_trip({"embedding": shared, "lm_head": shared, "copy": shared.clone()},
                        tmp_path)
    assert loaded["embedding"] is loaded["lm_head"]
    assert loaded["copy"] is not loaded["embedding"]
    assert len(np.load(tmp_path / "state.ckpt").files) == 3  # manifest + 2 arrays


def test_parameters_load_as_parameters_and_module_state_dict_resumes(tmp_path):
    param = nn.Parameter(mg.randn(2, 2))
    frozen = nn.Parameter(mg.randn(2), requires_grad=False)
    loaded = round_trip([param, frozen], tmp_path)
    assert type(loaded[0]) is nn.Parameter and loaded[0].requires_grad
    assert type(loaded[1]) is nn.Parameter and not loaded[1].requires_grad
    assert np.array_equal(loaded[0].data, param.data)

    mg.manual_seed(0)
    model = nn.Linear(3, 2)
    state = round_trip(model.state_dict(), tmp_path)
    mg.manual_seed(1)
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(state)
    x = mg.randn(5, 3)
    assert np.array_equal(fresh(x).data, model(x).data)


def test_file_is_an_npz_archive_with_a_json_manifest(tmp_path):
    path = tmp_path / "state.ckpt"
    weight = mg.randn(3, 2)
    save({"w": weight, "step": 5}, path)
    npz = np.load(path, allow_pickle=False)
    assert npz.files == [MANIFEST, "arr_0"]
    assert np.array_equal(npz["arr_0"], weight.data)
    manifest = json.loads(zipfile.ZipFile(path).read(MANIFEST))
    assert manifest["format"] == "minigrad-checkpoint" and manifest["version"] == 1
    assert manifest["root"] == {"dict": {"w": {"tensor": "arr_0", "requires_grad": False},
                                         "step": 5}}
    entry = manifest["arrays"]["arr_0"]
    assert entry["path"] == "['w']" and entry["dtype"] == "float32" and entry["shape"] == [3, 2]
    assert len(entry["crc32"]) == 8


def test_saving_twice_gives_identical_bytes_and_compress_round_trips(tmp_path):
    state = {"w": mg.zeros(10000), "b": mg.ones(3)}
    save(state, tmp_path / "a.ckpt")
    save(state, tmp_path / "b.ckpt")
    assert (tmp_path / "a.ckpt").read_bytes() == (tmp_path / "b.ckpt").read_bytes()
    assert_same(state, round_trip(state, tmp_path, compress=True))
    assert os.path.getsize(tmp_path / "state.ckpt") < os.path.getsize(tmp_path / "a.ckpt") / 10


def test_load_accepts_torch_keywords(tmp_path):
    save({"x": 1}, tmp_path / "a.ckpt")
    assert load(tmp_path / "a.ckpt", map_location="cpu", weights_only=False) == {"x": 1}
    assert load(str(tmp_path / "a.ckpt"), None, weights_only=True) == {"x": 1}


# -- what cannot be saved -------------------------------------------------------------------

@pytest.mark.parametrize("obj, message", [
    ({"optimizer": {"param_groups": [{"lr_lambda": lambda step: 0.1}]}},
     ("save: cannot store object of type function at ['optimizer']['param_groups'][0]"
      "['lr_lambda']")),
    ([1, {2: object()}], "cannot store object of type object at [1][2]"),
    (nn.ReLU(), "cannot store object of type ReLU at the top level"),
    ({"k": {(1, 2): 3}}, "dict key of type tuple at ['k']"),
    ({"a": np.array([1, "x"], dtype=object)}, "array of dtype object at ['a']"),
    ({"m": np.ma.masked_array([1, 2], mask=[0, 1])}, "masked array at ['m']"),
    (io.BytesIO(), "cannot store object of type BytesIO"),
])
def test_unsupported_objects_name_the_type_and_where_it_is(tmp_path, obj, message):
    path = tmp_path / "state.ckpt"
    save({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError) as info:
        save(obj, path)
    assert message in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["state.ckpt"]


def test_cycles_and_file_objects_are_refused(tmp_path):
    loop = {"a": [1]}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match=r"circular reference at \['a'\]\[1\]"):
        save(loop, tmp_path / "x.ckpt")
    with pytest.raises(TypeError, match="f must be a path"):
        save({}, io.BytesIO())
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        save({}, tmp_path / "no_such_dir" / "x.ckpt")
    assert os.listdir(tmp_path) == []


# -- atomic writes --------------------------------------------------------------------------

def _fail_after_writing_some_bytes(fp, array, **kwargs):
    fp.write(b"\x93NUMPY partial")
    raise OSError("disk full")


@pytest.mark.parametrize("break_what", ["write_array", "replace", "interrupt"])
def test_a_failed_save_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch,
                                                                  break_what):
    path = tmp_path / "model.ckpt"
    save({"w": mg.ones(1000), "step": 1}, path)
    before = path.read_bytes()
    if break_what == "write_array":
        monkeypatch.setattr(np.lib.format, "write_array", _fail_after_writing_some_bytes)
        expected = OSError
    elif break_what == "replace":
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("EXDEV")))
        expected = OSError
    else:
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt))
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        save({"w": mg.zeros(1000), "step": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]
    assert load(path)["step"] == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_new_checkpoint_gets_the_permissions_of_any_new_file(tmp_path):
    save({}, tmp_path / "a.ckpt")
    (tmp_path / "b.txt").write_text("")
    assert os.stat(tmp_path / "a.ckpt").st_mode == os.stat(tmp_path / "b.txt").st_mode


# -- what cannot be loaded ------------------------------------------------------------------

@pytest.fixture
def checkpoint(tmp_path):
    """A small valid checkpoint and the object it holds."""
    mg.manual_seed(3)
    obj = {"w": mg.randn(4, 3), "b": np.arange(5), "name": "net", "sizes": [1, 2.5, (3,)]}
    path = tmp_path / "good.ckpt"
    save(obj, path)
    return path, obj


def rewrite(src, dst, replace):
    """Copy the zip archive `src` to `dst`, replacing members by name (None drops one)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = replace.get(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
        for name, data in replace.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)


def npy_bytes(array, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def manifest_of(path):
    return json.loads(zipfile.ZipFile(path).read(MANIFEST))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        load(tmp_path / "nope.ckpt")


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_reported_with_its_name(checkpoint, tmp_path, fraction):
    path, _ = checkpoint
    data = path.read_bytes()
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match=r"checkpoint '.*cut\.ckpt' is truncated or "
                                              "corrupted"):
        load(bad)


def test_random_bytes_and_other_formats_are_refused(tmp_path):
    (tmp_path / "random.ckpt").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "array.npy").write_bytes(npy_bytes(np.arange(3)))
    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    expected = {"random.ckpt": "is truncated or corrupted: it is not a zip archive",
                "empty.ckpt": "is truncated or corrupted: it is empty",
                "array.npy": "cannot be loaded: it is a single .npy array",
                "plain.npz": "cannot be loaded: it has no '__manifest__.json' member"}
    for name, message in expected.items():
        with pytest.raises(CheckpointError, match=f"checkpoint '.*{name}'") as info:
            load(tmp_path / name)
        assert message in str(info.value), name


def test_manifest_problems_are_reported(checkpoint, tmp_path):
    path, _ = checkpoint
    manifest = manifest_of(path)
    newer = dict(manifest, version=2)
    missing_entry = dict(manifest, arrays={})
    cases = {
        "missing_array": ({"arr_1.npy": None}, "array 'arr_1' (at ['b']) is missing"),
        "not_json": ({MANIFEST: b"{not json"}, "JSONDecodeError"),
        "newer": ({MANIFEST: json.dumps(newer)},
                  "format version 2; this minigrad reads version 1 (upgrade minigrad)"),
        "other_format": ({MANIFEST: json.dumps({"format": "x"})}, "does not declare format"),
        "undescribed": ({MANIFEST: json.dumps(missing_entry)}, "does not describe it"),
        "bad_node": ({MANIFEST: json.dumps(dict(manifest, root={"lambda": "x"}))},
                     "no single known type"),
        "bad_field": ({MANIFEST: json.dumps(dict(manifest, root={"int": 5}))},
                      "expected a str in the manifest, got 5"),
    }
    for name, (replace, message) in cases.items():
        bad = tmp_path / f"{name}.ckpt"
        rewrite(path, bad, replace)
        with pytest.raises(CheckpointError, match=f"checkpoint '.*{name}.ckpt'") as info:
            load(bad)
        assert message in str(info.value), name


def test_values_that_do_not_match_their_checksum_are_refused(checkpoint, tmp_path):
    path, obj = checkpoint
    tampered = obj["w"].data.copy()
    tampered[0, 0] += 1  # same dtype and shape: only the checksum can tell
    bad = tmp_path / "tampered.ckpt"
    rewrite(path, bad, {"arr_0.npy": npy_bytes(tampered)})
    with pytest.raises(CheckpointError, match=r"array 'arr_0' \(at \['w'\]\) does not match "
                                              "its crc32 checksum"):
        load(bad)
    rewrite(path, bad, {"arr_0.npy": npy_bytes(tampered[:2])})
    with pytest.raises(CheckpointError, match=r"has dtype float32 and shape \(2, 3\), but the "
                                              r"manifest says float32 and \(4, 3\)"):
        load(bad)


class _RunsCodeWhenUnpickled:
    """Unpickling this creates a directory: the proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.makedirs, (self.marker,)


def test_pickled_payloads_are_refused_and_never_run(checkpoint, tmp_path):
    path, _ = checkpoint
    marker = tmp_path / "code_ran"
    payload = _RunsCodeWhenUnpickled(marker)
    with open(tmp_path / "pickle_check.pkl", "wb") as f:  # the payload really does run code
        pickle.dump(payload, f)
    pickle.loads((tmp_path / "pickle_check.pkl").read_bytes())
    assert marker.is_dir()
    marker.rmdir()

    object_array = np.array([payload, 1], dtype=object)
    rewrite(path, tmp_path / "object_array.ckpt",
            {"arr_1.npy": npy_bytes(object_array, allow_pickle=True)})
    rewrite(path, tmp_path / "raw_pickle.ckpt", {"arr_1.npy": pickle.dumps(payload)})
    (tmp_path / "whole_file.ckpt").write_bytes(pickle.dumps({"w": payload}))
    expected = {"object_array": "holds Python objects, which only pickle could load; refused",
                "raw_pickle": "is not a .npy array (a pickle?); refused",
                "whole_file": "it is a pickle"}
    for name, message in expected.items():
        with pytest.raises(CheckpointError, match=name) as info:
            load(tmp_path / f"{name}.ckpt")
        assert message in str(info.value)
    assert not marker.exists()


def test_every_single_byte_flip_fails_loudly_or_loads_the_same_values(checkpoint, tmp_path):
    path, obj = checkpoint
    data = path.read_bytes()
    bad = tmp_path / "flipped.ckpt"
    bad.write_bytes(data)
    failures = 0
    # flip one byte in place and back: truncating and rewriting the file each time is slow
    with open(bad, "r+b") as f:
        for i in range(len(data)):
            for mask in (0x01, 0x80):
                f.seek(i)
                f.write(bytes([data[i] ^ mask]))
                f.flush()
                try:
                    assert_same(obj, load(bad))  # a flip in a byte nobody reads (a timestamp)
                except CheckpointError:
                    failures += 1
                f.seek(i)
                f.write(data[i:i + 1])
    assert failures > len(data)  # most bytes matter


def test_training_resumes_bit_identically_from_a_checkpoint(tmp_path):
    from minigrad import optim
    from minigrad.optim import lr_scheduler

    def make():
        model = nn.Linear(4, 2)
        optimizer = optim.Adam(model.parameters(), lr=0.1)
        return model, optimizer, lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    def train(model, optimizer, scheduler, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            (model(mg.randn(8, 4)) ** 2).mean().backward()  # data from the global generator
            optimizer.step()
            scheduler.step()

    mg.manual_seed(0)
    model, optimizer, scheduler = make()
    train(model, optimizer, scheduler, 3)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
          "scheduler": scheduler.state_dict(), "rng": mg.get_rng_state()}, tmp_path / "c.ckpt")
    train(model, optimizer, scheduler, 3)

    mg.manual_seed(123)  # a different process: different init, different random state
    resumed, resumed_optimizer, resumed_scheduler = make()
    checkpoint = load(tmp_path / "c.ckpt")
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    mg.set_rng_state(checkpoint["rng"])
    train(resumed, resumed_optimizer, resumed_scheduler, 3)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a.data, b.data), name


def _tamper_shape(tmp_path, manifest_shape, header_shape, name="bomb.ckpt"):
    """A checkpoint of one 4-float tensor whose manifest and .npy header claim the shapes."""
    good = tmp_path / "good.ckpt"
    save({"w": mg.zeros(4)}, good)
    with zipfile.ZipFile(good) as z:
        manifest = json.loads(z.read("__manifest__.json"))
    (entry,) = manifest["arrays"].values()
    entry["shape"] = list(manifest_shape)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": tuple(header_shape)})
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("__manifest__.json", json.dumps(manifest))
        out.writestr(f"{next(iter(manifest['arrays']))}.npy", header.getvalue() + b"\0" * 16)
    return path


def test_a_huge_declared_array_is_refused_before_anything_is_allocated(tmp_path):
    path = _tamper_shape(tmp_path, [10**13], [10**13])
    with pytest.raises(CheckpointError, match="declares 40,000,000,000,000 bytes"):
        load(path)


def test_a_npy_header_larger_than_the_manifest_is_an_error_not_a_memory_error(tmp_path):
    path = _tamper_shape(tmp_path, [4], [10**13])
    with pytest.raises(CheckpointError, match="bomb.ckpt"):
        load(path)


def test_a_tied_weight_is_stored_once_from_a_state_dict(tmp_path):
    from minigrad.models import GPT, GPTConfig
    mg.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16))
    state = model.state_dict()
    assert state["lm_head.weight"] is not state["transformer.wte.weight"]  # two entries...
    save(state, tmp_path / "gpt.ckpt")
    with zipfile.ZipFile(tmp_path / "gpt.ckpt") as z:
        members = [n for n in z.namelist() if n.endswith(".npy")]
    assert len(members) == len(state) - 1  # ...one array
    loaded = load(tmp_path / "gpt.ckpt")
    np.testing.assert_array_equal(loaded["lm_head.weight"].numpy(), state["lm_head.weight"].numpy())
    fresh = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16))
    fresh.load_state_dict(loaded)
    assert fresh.lm_head.weight is fresh.transformer.wte.weight
