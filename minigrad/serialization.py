"""Checkpoints: `save(obj, path)` and `load(path)`, as `torch.save` / `torch.load`, without pickle.

`torch.save` pickles, and unpickling runs whatever code the file asks for: loading a checkpoint
from the internet is running a program from the internet. A minigrad checkpoint is data only:

- one NumPy `.npz` archive (a zip file), so `numpy.load(path)` and `unzip -l path` can open it;
- a `__manifest__.json` member: the nested structure (dicts, lists, tuples, numbers, strings),
  a format version, and for every array its dtype, shape, place in the structure and CRC-32;
- one `arr_<i>.npy` member per array (Tensor data, NumPy arrays, NumPy scalars, bytes).

`load` reads the manifest with `json.loads` and the arrays with `allow_pickle=False`, so a bad
file can at worst fail to load, with a `CheckpointError` that names it and says what is wrong.
`save` writes a temporary file next to the target, fsyncs it and renames it over the target, so
a crash mid-save leaves the previous checkpoint as it was. See docs/concepts/checkpoints.md.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import zipfile
import zlib
from collections import OrderedDict
from typing import BinaryIO

import numpy as np

from minigrad.dtype import from_numpy_dtype
from minigrad.tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

FORMAT = "minigrad-checkpoint"
VERSION = 1
MANIFEST = "__manifest__.json"
# A fixed member timestamp: saving the same state twice gives byte-identical files.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# What a damaged archive raises on the way in (found by flipping every byte of a checkpoint):
# zipfile (RuntimeError for a member flagged as encrypted or an unknown compression method,
# OSError for a seek outside the file), zlib, and numpy's .npy reader.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, OSError,
                RuntimeError)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded: truncated, corrupted, or not a checkpoint."""


# -- the structure <-> manifest -------------------------------------------------------------

def _parameter_class() -> type:
    """`minigrad.nn.Parameter`, imported late: nn sits above this module."""
    from minigrad.nn.parameter import Parameter

    return Parameter


def _crc32(array: np.ndarray) -> str:
    """CRC-32 of the values in C order, so a Fortran-ordered or strided array sums the same."""
    return f"{zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8)):08x}"


def _where(path: str) -> str:
    return path or "the top level"


class _Encoder:
    """Turns a nested object into a JSON manifest tree plus the arrays to write beside it.

    Strings, bools, None, ints within int64 and finite floats are JSON values as they are (JSON
    numbers keep int and float apart: `3` and `3.0`) and lists are JSON arrays. Everything else
    is an object whose first key names its type: `{"tuple": [...]}`, `{"dict": {...}}` (str
    keys) or `{"dict": [[key, value], ...]}` (other keys), `{"OrderedDict": ...}`, `{"int":
    "<digits>"}`, `{"float": "nan"}`, `{"tensor": "arr_0", "requires_grad": true}`,
    `{"parameter": ...}`, `{"ndarray": "arr_1"}`, `{"numpy_scalar": "arr_2"}`, `{"bytes":
    "arr_3"}`. The same Tensor or ndarray object reached twice (tied weights) is stored once, and
    so is one ndarray under two Tensors (a tied weight's two `state_dict` entries).
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.entries: dict[str, dict] = {}
        self._stored: dict[int, dict] = {}  # id(obj) -> its node, for objects reached twice
        self._array_names: dict[int, str] = {}  # id(ndarray) -> its member (kept alive in arrays)
        self._open: set[int] = set()  # containers being encoded: meeting one again is a cycle
        self._parameter = _parameter_class()

    def _add_array(self, array: np.ndarray, path: str) -> str:
        if array.dtype.hasobject:
            raise TypeError(f"save: cannot store a NumPy array of dtype {array.dtype} at "
                            f"{_where(path)}: Python objects inside it would need pickle")
        # a tied weight's two state_dict entries are distinct detached tensors over one array
        if id(array) in self._array_names:
            return self._array_names[id(array)]
        name = f"arr_{len(self.arrays)}"
        self._array_names[id(array)] = name
        self.arrays[name] = array
        self.entries[name] = {"path": _where(path), "dtype": str(array.dtype),
                              "shape": list(array.shape), "crc32": _crc32(array)}
        return name

    def encode(self, obj, path: str = ""):
        if isinstance(obj, (Tensor, np.ndarray)):
            if id(obj) not in self._stored:
                self._stored[id(obj)] = self._encode_array_holder(obj, path)
            return self._stored[id(obj)]
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
            return {"numpy_scalar": self._add_array(np.asarray(obj), path)}
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, int):
            # beyond int64 (RNG states), digits in a string: not every JSON reader has big ints
            return int(obj) if -2**63 <= obj < 2**63 else {"int": str(int(obj))}
        if isinstance(obj, float):
            # JSON writes the shortest repr that reads back to the same double; it has no nan
            return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, bytes):
            return {"bytes": self._add_array(np.frombuffer(obj, np.uint8), path)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._open:
                raise ValueError(f"save: circular reference at {_where(path)}")
            self._open.add(id(obj))
            node = self._encode_container(obj, path)
            self._open.discard(id(obj))
            return node
        raise TypeError(f"save: cannot store object of type {type(obj).__name__} at "
                        f"{_where(path)}")

    def _encode_array_holder(self, obj, path: str) -> dict:
        if isinstance(obj, np.ma.MaskedArray):
            raise TypeError(f"save: cannot store a masked array at {_where(path)}; save its "
                            ".data and .mask separately")
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._add_array(obj, path)}
        tag = "parameter" if isinstance(obj, self._parameter) else "tensor"
        return {tag: self._add_array(obj.data, path),
                "requires_grad": bool(obj.requires_grad)}

    def _encode_container(self, obj, path: str):
        if isinstance(obj, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        for key in obj:
            if not isinstance(key, (str, int, float, type(None))):
                raise TypeError(f"save: cannot store a dict key of type {type(key).__name__} "
                                f"at {_where(path)}; keys must be str, int, float, bool or None")
        tag = "OrderedDict" if isinstance(obj, OrderedDict) else "dict"
        if all(type(key) is str for key in obj):
            return {tag: {key: self.encode(v, f"{path}[{key!r}]") for key, v in obj.items()}}
        return {tag: [[self.encode(key, f"{path}[{key!r}]"), self.encode(v, f"{path}[{key!r}]")]
                      for key, v in obj.items()]}


_TAGS = ("tuple", "dict", "OrderedDict", "int", "float", "tensor", "parameter", "ndarray",
         "numpy_scalar", "bytes")


class _Decoder:
    """Rebuilds the object from the manifest tree, reading and verifying each array it names.

    The manifest is untrusted input: every value is type-checked, and only the node types the
    encoder writes can be built, so nothing in the file chooses which code runs.
    """

    def __init__(self, npz, entries: dict, fail) -> None:
        self._npz = npz
        self._members = set(npz.zip.namelist())
        self._entries = entries
        self._fail = fail  # fail(message, damaged=True) -> CheckpointError naming the file
        self._built: dict[tuple[str, str], object] = {}  # (tag, member) -> object, for sharing

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        tags = [key for key in node if key in _TAGS]
        if len(tags) != 1:
            raise self._fail(f"a manifest node has no single known type: {str(node)[:80]}")
        tag, payload = tags[0], node[tags[0]]
        if tag == "tuple":
            return tuple(self.decode(item) for item in _check(payload, list))
        if tag in ("dict", "OrderedDict"):
            kind = OrderedDict if tag == "OrderedDict" else dict
            if isinstance(payload, dict):
                return kind((key, self.decode(v)) for key, v in payload.items())
            return kind((self.decode(k), self.decode(v)) for k, v in _check(payload, list))
        if tag == "int":
            return int(_check(payload, str))
        if tag == "float":
            return float(_check(payload, str))
        key = (tag, _check(payload, str))
        if key not in self._built:
            self._built[key] = self._decode_array_holder(tag, node, self._array(payload))
        return self._built[key]

    def _decode_array_holder(self, tag: str, node: dict, array: np.ndarray):
        if tag == "ndarray":
            return array
        if tag == "numpy_scalar":
            return array[()]
        if tag == "bytes":
            return array.tobytes()
        requires_grad = _check(node.get("requires_grad"), bool)
        try:
            from_numpy_dtype(array.dtype)
        except TypeError as e:
            raise self._fail(f"a tensor has a dtype minigrad does not support ({e})") from None
        tensor = Tensor._wrap(array, requires_grad)
        return _parameter_class()(tensor, requires_grad) if tag == "parameter" else tensor

    def _check_size(self, name: str, entry: dict, where: str) -> None:
        """Refuse, before allocating anything, an array whose manifest size disagrees with the
        archive member's, or that would not fit in this machine's memory: a crafted file
        must not be able to make `load` allocate terabytes."""
        shape = _check(entry.get("shape"), list)
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise self._fail(f"{where} has a malformed shape {shape!r:.80}")
        try:
            itemsize = np.dtype(_check(entry.get("dtype"), str)).itemsize
        except TypeError:  # a structured dtype's str() does not parse back: no lower bound
            itemsize = 0
        nbytes = math.prod(shape) * itemsize
        member = self._npz.zip.getinfo(name + ".npy")
        if nbytes > member.file_size:  # the .npy header comes on top of the data
            raise self._fail(f"{where} declares {nbytes:,} bytes but its archive member holds "
                             f"{member.file_size:,}")
        memory = _physical_memory()
        if memory is not None and member.file_size > memory:
            raise self._fail(f"{where} would take {member.file_size:,} bytes, more than this "
                             f"machine's {memory:,} bytes of memory", False)

    def _array(self, name: str) -> np.ndarray:
        if name not in self._entries:
            raise self._fail(f"the manifest refers to array {name!r} but does not describe it")
        entry = _check(self._entries[name], dict)
        where = f"array {name!r} (at {_check(entry.get('path'), str)})"
        if name + ".npy" not in self._members:
            raise self._fail(f"{where} is missing from the archive")
        self._check_size(name, entry, where)
        try:
            array = self._npz[name + ".npy"]
        except MemoryError:  # a .npy header that claims more than the manifest and the member
            raise self._fail(f"{where} claims more memory than there is", False) from None
        except ValueError as e:
            if "allow_pickle" in str(e):
                raise self._fail(f"{where} holds Python objects, which only pickle could load; "
                                 "refused, since unpickling can run arbitrary code",
                                 False) from None
            raise self._fail(f"{where} cannot be read ({e})") from None
        if not isinstance(array, np.ndarray):  # numpy hands back a non-.npy member as raw bytes
            raise self._fail(f"{where} is not a .npy array (a pickle?); refused", False)
        if (str(array.dtype) != _check(entry.get("dtype"), str)
                or list(array.shape) != _check(entry.get("shape"), list)):
            raise self._fail(f"{where} has dtype {array.dtype} and shape {array.shape}, but the "
                             f"manifest says {entry['dtype']} and {tuple(entry['shape'])}")
        if _crc32(array) != _check(entry.get("crc32"), str):
            raise self._fail(f"{where} does not match its crc32 checksum")
        return array


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on every platform
        return None


def _check(value, kind: type):
    """`value`, checked to be a `kind` as the manifest's writer would have made it."""
    if not isinstance(value, kind):
        raise TypeError(f"expected a {kind.__name__} in the manifest, got {value!r:.80}")
    return value


# -- the file: atomic write, validated read -------------------------------------------------

def _fspath(f, fn: str) -> str:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"{fn}: f must be a path (str or os.PathLike), got {type(f).__name__}; "
                        "file objects are not supported (a save must be atomic)")
    return os.fsdecode(f)


def _write_archive(fh: BinaryIO, manifest: dict, arrays: dict, compress: bool) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
        info.compress_type = method
        info.external_attr = 0o644 << 16  # so `unzip` extracts readable files
        return info

    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        zf.writestr(member(MANIFEST), json.dumps(manifest, allow_nan=False))
        for name, array in arrays.items():
            # as np.savez writes each member: force_zip64 since the size is not known upfront
            with zf.open(member(name + ".npy"), "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def _create_temp(path: str) -> tuple[int, str]:
    """A new file beside `path`, so the final rename stays within one file system.

    Not `tempfile.mkstemp`: it creates mode 0600, and a checkpoint should get the permissions
    any new file gets (0666 less the umask). O_EXCL still guarantees a fresh file.
    """
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(tmp, flags, 0o666), tmp


def _fsync_directory(directory: str) -> None:
    """Make the rename durable: on POSIX the new name lives in the directory's own data."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; NTFS journals the rename itself
        return
    # some file systems (network ones, say) refuse fsync on a directory: best effort only
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def save(obj, f, *, compress: bool = False) -> None:
    """Save a nested structure of tensors, arrays and Python values to the file `f`, atomically.

    Stores dicts (str, int, float, bool or None keys; order kept, OrderedDict kept), lists,
    tuples, `Tensor`s (dtype, shape, values, `requires_grad`; not `.grad`, as PyTorch),
    `nn.Parameter`s, NumPy arrays and scalars, and Python int (any size), float, bool, None, str
    and bytes. The same tensor object reached twice (tied weights) is stored once and loads as
    one object. Saves `minigrad.get_rng_state()` and `Generator.bit_generator.state` exactly.

    Differences from `torch.save`: no pickle, so other objects (functions, modules, custom
    classes) raise TypeError naming the type and where it sits; subclasses of dict, list, tuple,
    int, float and str (namedtuple, IntEnum) load as the base type; views do not share memory
    after loading; `f` must be a path, not a file object, because the write is atomic.

    Args:
        obj: the structure to save, e.g. `{"model": model.state_dict(), "step": 100}`.
        f: the file path (str or os.PathLike). Its directory must exist.
        compress: deflate the arrays (smaller, slower; float weights rarely shrink much).

    Raises:
        TypeError: an object or dict key that cannot be stored, with its path in `obj`, e.g.
            `save: cannot store object of type function at ['optimizer']['lr_lambda']`.
        ValueError: `obj` contains itself.
        FileNotFoundError: the directory of `f` does not exist.
    """
    path = _fspath(f, "save")
    encoder = _Encoder()
    manifest = {"format": FORMAT, "version": VERSION, "root": encoder.encode(obj),
                "arrays": encoder.entries}
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"save: directory {directory!r} does not exist",
                                path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_archive(fh, manifest, encoder.arrays, compress)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def load(f, map_location=None, *, weights_only: bool = True):
    """Load what `save` wrote. Never unpickles, so an untrusted file cannot run code.

    Tensors come back as leaf tensors with their dtype, shape, values and `requires_grad`,
    `nn.Parameter`s as Parameters (as in PyTorch), tuples as tuples, OrderedDicts as
    OrderedDicts, dicts in their saved order, int keys as ints.

    Args:
        f: the file path (str or os.PathLike).
        map_location: accepted for `torch.load` compatibility and ignored: minigrad tensors
            live on the CPU only.
        weights_only: accepted for `torch.load` compatibility. minigrad always behaves as
            `weights_only=True` (plain data only), whatever is passed.

    Raises:
        FileNotFoundError: no file at `f`.
        CheckpointError: (a ValueError) the file is truncated, corrupted, fails a checksum, has
            a newer format version, holds pickled objects, or is not a minigrad checkpoint. The
            message names the file and what is wrong.
    """
    path = _fspath(f, "load")

    def fail(problem: str, damaged: bool = True) -> CheckpointError:
        prefix = "is truncated or corrupted" if damaged else "cannot be loaded"
        return CheckpointError(f"checkpoint {path!r} {prefix}: {problem}")

    with open(path, "rb") as fh:
        _check_magic(fh.read(8), fail)
        fh.seek(0)
        try:
            npz = np.load(fh, allow_pickle=False)
        except _READ_ERRORS as e:
            raise fail(f"it is not a readable zip archive ({type(e).__name__}: {e})") from None
        with npz:
            if MANIFEST not in npz.zip.namelist():
                raise fail(f"it has no {MANIFEST!r} member, so it is not a minigrad checkpoint "
                           "(a torch.save file? a plain np.savez archive, which numpy.load "
                           "reads?)", False)
            try:
                manifest = json.loads(npz.zip.read(MANIFEST))
                entries = _check_header(manifest, fail)
                return _Decoder(npz, entries, fail).decode(manifest["root"])
            except CheckpointError:
                raise
            except (*_READ_ERRORS, TypeError) as e:
                raise fail(f"{type(e).__name__}: {e}") from None


def _check_magic(head: bytes, fail) -> None:
    """Refuse what is not a zip archive before numpy guesses at it (it would guess pickle)."""
    if head.startswith(np.lib.format.MAGIC_PREFIX):
        raise fail("it is a single .npy array, not a checkpoint archive", False)
    if not head:
        raise fail("it is empty")
    if head[:1] == b"\x80":  # the PROTO opcode that starts every pickle since protocol 2
        raise fail("it is a pickle (as torch.save wrote before PyTorch 1.6); refused, since "
                   "unpickling can run arbitrary code", False)
    if not head.startswith(b"PK"):
        raise fail(f"it is not a zip archive (it starts with {head!r})")


def _check_header(manifest, fail) -> dict:
    """The format name and version, before anything else is trusted; returns the array table."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise fail(f"its manifest does not declare format {FORMAT!r}", False)
    version = manifest.get("version")
    if version != VERSION:
        raise fail(f"it has format version {version!r}; this minigrad reads version {VERSION}"
                   + (" (upgrade minigrad)" if isinstance(version, int) and version > VERSION
                      else ""), False)
    return _check(manifest.get("arrays"), dict)
