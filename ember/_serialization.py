"""``ember.save`` / ``ember.load``: checkpoints in the safetensors layout, never pickle.

A file is ``<u64 little-endian header length><JSON header><raw little-endian tensor bytes>``.
The header maps each tensor's name to its dtype, shape and byte range; ``ember.save`` also
stores the saved object's nested structure as JSON in ``__metadata__["ember.object"]``,
referring to tensors by name (tensors appearing twice are stored once). Loading parses and
validates the whole file before building anything and runs no code from it. A state dict's
tensors are stored under their own names, so PyTorch's ``safetensors.torch.load_file``
reads an ``ember.save(model.state_dict(), f)`` file as is.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import tempfile
from collections import OrderedDict
from typing import IO, Any

from ._backend import ndarray, xp

__all__ = ["save", "load"]

_FORMAT_KEY, _OBJECT_KEY, _FORMAT_VERSION = "ember.format", "ember.object", "1"
_MAX_HEADER = 100_000_000           # the safetensors reference reader's limit
_MAX_DEPTH = 200                    # nesting levels of a saved structure
_LEN = struct.Struct("<Q")
# safetensors dtype names <-> NumPy (BF16 is read into float32, exactly).
_CODES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
          "I64": "<i8", "U8": "u1", "BOOL": "?", "C64": "<c8", "BF16": "<u2"}
_TO_CODE = {xp.dtype(v): k for k, v in _CODES.items() if k != "BF16"}


class CheckpointError(RuntimeError, ValueError):
    """A checkpoint or safetensors file that is corrupt, truncated or not of this format."""


def _source_name(f) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return str(getattr(f, "name", None) or f"<{type(f).__name__}>")


# -- the file layout -----------------------------------------------------------------------------

def _array_of(t) -> ndarray:
    """A tensor's array in the layout it is written in (C order, little-endian)."""
    a = t._data
    if a.dtype == xp.complex128:
        raise TypeError("complex128 tensors have no safetensors dtype (C64 is the only complex "
                        "one); convert them, e.g. with .to(ember.complex64)")
    if _TO_CODE.get(a.dtype) is None:
        raise TypeError(f"cannot store a tensor of dtype {a.dtype} in safetensors")
    return a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)   # 0-d stays 0-d


def _layout(arrays: dict[str, ndarray], metadata: dict[str, str] | None):
    """The header bytes (space-padded to 8) and the arrays in file order."""
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must be a dict of str to str")
    # Widest items first, like the reference writer: every tensor stays aligned.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for k in order:
        a = arrays[k]
        header[k] = {"dtype": _TO_CODE[a.dtype], "shape": list(a.shape),
                     "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-len(raw) % 8)
    return _LEN.pack(len(raw)) + raw, [arrays[k] for k in order]


def _write(fh: IO[bytes], header: bytes, arrays: list[ndarray]) -> None:
    fh.write(header)
    for a in arrays:
        if a.size:
            fh.write(memoryview(a.reshape(-1)).cast("B"))


def _write_path(path, header: bytes, arrays: list[ndarray]) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``: a
    crash at any moment leaves either the old file or the complete new one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RuntimeError(f"Parent directory {folder} does not exist.")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(fh, header, arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                      # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:                           # not every platform can fsync a directory
        pass


def _write_to(f, header: bytes, arrays: list[ndarray]) -> None:
    if isinstance(f, (str, os.PathLike)):
        _write_path(f, header, arrays)
    elif callable(getattr(f, "write", None)):
        _write(f, header, arrays)
        if callable(getattr(f, "flush", None)):
            f.flush()
    else:
        raise TypeError(f"expected a path (str or os.PathLike) or a binary file object to "
                        f"write to, got {type(f).__name__}")


def _read_from(f) -> bytearray:
    """The whole content of a path or binary file object, in a writable buffer."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            buf = bytearray(size)
            got = fh.readinto(buf)
        if got != size:
            raise CheckpointError(f"{os.fspath(f)}: read {got} of {size} bytes (the file "
                                  f"changed while it was read)")
        return buf
    if callable(getattr(f, "read", None)):
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{_source_name(f)}: expected a binary file object, but read() "
                            f"returned {type(data).__name__}")
        return bytearray(data)
    raise TypeError(f"expected a path (str or os.PathLike) or a binary file object to read "
                    f"from, got {type(f).__name__}")


def _not_safetensors(buf, name: str) -> str | None:
    """Recognise files of other formats, so the error can say what the file is."""
    if buf[:4] == b"PK\x03\x04":
        return (f"{name} is a zip archive, e.g. a PyTorch torch.save checkpoint. ember never "
                f"unpickles (unpickling runs code from the file); re-save the weights in "
                f"PyTorch with safetensors.torch.save_file and load that")
    if buf[:1] == b"\x80" and buf[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (f"{name} is a pickle stream. ember never unpickles: unpickling runs code from "
                f"the file. Save with ember.save or safetensors instead")
    if buf[:6] == b"\x93NUMPY":
        return f"{name} is a NumPy .npy file, not a safetensors file"
    return None


def parse(buf: bytearray, name: str) -> tuple[dict[str, ndarray], dict[str, str] | None]:
    """Validate a whole safetensors image, then view its tensors (in file order)."""
    def bad(msg: str) -> CheckpointError:
        return CheckpointError(f"{name}: {msg}")

    other = _not_safetensors(buf, name)
    if other:
        raise CheckpointError(other)
    if len(buf) < 8:
        raise bad(f"not a safetensors file: {len(buf)} bytes, too short for the 8-byte header "
                  f"length (empty or truncated)")
    (n,) = _LEN.unpack_from(buf)
    if n > _MAX_HEADER:
        raise bad(f"not a safetensors file: header length {n} exceeds the {_MAX_HEADER}-byte "
                  f"limit")
    if 8 + n > len(buf):
        raise bad(f"truncated: the header claims {n} bytes but only {len(buf) - 8} follow")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"), object_pairs_hook=_no_dups)
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"not a safetensors file: the header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("not a safetensors file: the header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(
            isinstance(v, str) for v in meta.values())):
        raise bad("__metadata__ must map strings to strings")
    data_len = len(buf) - 8 - n
    spans = []
    for key, info in header.items():
        spans.append((*_check_entry(key, info, data_len, bad), key))
    end = 0
    for begin, stop, key in sorted(spans):
        if begin != end:
            raise bad(f"tensor {key!r} starts at byte {begin} of the data, expected {end} "
                      f"(tensors overlap or leave a gap)")
        end = stop
    if end != data_len:
        raise bad(f"the tensors cover {end} bytes but the data section has {data_len} "
                  f"(truncated, or trailing bytes)")
    data = memoryview(buf)[8 + n:]
    out = {}
    for begin, _, key in sorted(spans):
        out[key] = _view(data, begin, header[key])
    return out, meta


def _no_dups(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r}")
    return d


def _check_entry(key: str, info, data_len: int, bad) -> tuple[int, int]:
    if not isinstance(info, dict):
        raise bad(f"tensor {key!r}: expected an object with dtype, shape and data_offsets")
    dt, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dt not in _CODES:
        raise bad(f"tensor {key!r}: dtype {dt!r} is not supported (ember reads "
                  f"{', '.join(_CODES)})")
    if not isinstance(shape, list) or not all(
            type(s) is int and s >= 0 for s in shape):
        raise bad(f"tensor {key!r}: shape {shape!r} is not a list of non-negative integers")
    if not (isinstance(offs, list) and len(offs) == 2 and all(
            type(o) is int and o >= 0 for o in offs) and offs[0] <= offs[1]):
        raise bad(f"tensor {key!r}: data_offsets {offs!r} is not a [begin, end] byte range")
    if offs[1] > data_len:
        raise bad(f"tensor {key!r}: bytes {offs[0]}..{offs[1]} lie outside the "
                  f"{data_len}-byte data section (truncated or corrupt)")
    need = math.prod(shape) * xp.dtype(_CODES[dt]).itemsize
    if offs[1] - offs[0] != need:
        raise bad(f"tensor {key!r}: {dt} of shape {shape} needs {need} bytes, but "
                  f"data_offsets span {offs[1] - offs[0]}")
    return offs[0], offs[1]


def _view(data: memoryview, begin: int, info: dict) -> ndarray:
    dt = xp.dtype(_CODES[info["dtype"]])
    shape = tuple(info["shape"])
    a = xp.frombuffer(data, dtype=dt, count=math.prod(shape), offset=begin).reshape(shape)
    if info["dtype"] == "BF16":               # bfloat16 is the top half of a float32
        return (a.astype(xp.uint32) << 16).view(xp.float32)
    if not a.flags.aligned or not dt.isnative:
        a = a.astype(dt.newbyteorder("="))    # a copy, aligned and in native byte order
    return a


# -- the object structure: JSON with tagged objects (every JSON object is a tag) -------------

class _Encoder:
    """Turns an object into JSON-able data, collecting its tensors under path-like names."""

    def __init__(self) -> None:
        from ._tensor import Tensor
        self.Tensor = Tensor
        self.arrays: dict[str, ndarray] = {}
        self.by_array: dict[int, str] = {}     # id(array) -> name: shared storage stored once
        self.by_tensor: dict[int, int] = {}    # id(tensor) -> ref number: identity kept
        self.keep: list = []                   # holds arrays so their ids stay unique
        self.open: set[int] = set()            # containers being encoded (cycle check)

    def name(self, path: list[str]) -> str:
        base = ".".join(path) or "tensor"
        name, i = base, 0
        while name in self.arrays:
            i += 1
            name = f"{base}#{i}"
        return name

    def encode(self, obj, path: list[str]):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if isinstance(obj, self.Tensor):
            return self.tensor(obj, path)
        if type(obj) in (list, tuple, dict, OrderedDict):
            if id(obj) in self.open:
                raise ValueError(f"ember.save cannot store a container that contains itself "
                                 f"(at obj{_where(path)})")
            self.open.add(id(obj))
            try:
                return self.container(obj, path)
            finally:
                self.open.discard(id(obj))
        return self.other(obj, path)

    def container(self, obj, path):
        if type(obj) in (list, tuple):
            items = [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
            return items if type(obj) is list else {"$": "tuple", "items": items}
        out = {"$": "dict" if type(obj) is dict else "odict",
               "items": [[self.encode(k, path + ["key"]), self.encode(v, path + [str(k)])]
                         for k, v in obj.items()]}
        meta = getattr(obj, "_metadata", None)         # a state dict's version records
        if meta is not None:
            out["meta"] = self.encode(meta, path + ["_metadata"])
        return out

    def tensor(self, t, path):
        ref = {"$": "tensor"}
        a = t._data
        if id(t) in self.by_tensor:
            ref["id"] = self.by_tensor[id(t)]
            return ref
        self.by_tensor[id(t)] = ref["id"] = len(self.by_tensor)
        name = self.by_array.get(id(a))
        if name is None:
            name = self.name(path)
            if a.dtype == xp.complex128:      # stored as float64 pairs (safetensors has no C128)
                pairs = a.astype("<c16", order="C", copy=False)
                self.arrays[name] = pairs.reshape(-1).view("<f8").reshape(a.shape + (2,))
            else:
                self.arrays[name] = _array_of(t)
            self.by_array[id(a)] = name
            self.keep.append(a)
        ref["key"] = name
        if a.dtype == xp.complex128:
            ref["complex"] = True
        if t.requires_grad:
            ref["grad"] = True
        from .nn.parameter import Parameter
        if isinstance(t, Parameter):
            ref["param"] = True
        return ref

    def other(self, obj, path):
        from ._dtype import dtype
        from ._tensor import Size, device
        if isinstance(obj, Size):
            return {"$": "size", "items": list(obj)}
        if isinstance(obj, dtype):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, device):
            return {"$": "device", "name": str(obj)}
        if type(obj) is complex:
            return {"$": "complex", "v": [repr(obj.real), repr(obj.imag)]}
        if type(obj) is bytes:
            return {"$": "bytes", "b64": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, xp.generic) and obj.dtype.kind in "biufc":     # NumPy scalars
            return self.encode(obj.item(), path)
        if isinstance(obj, (int, float)):     # int/float subclasses (IntEnum, ...)
            return self.encode(int(obj) if isinstance(obj, int) else float(obj), path)
        raise TypeError(f"ember.save cannot store an object of type {type(obj).__name__} at "
                        f"obj{_where(path)}: it stores tensors, dicts, lists, tuples, str, int, "
                        f"float, bool, complex, bytes, None, dtypes, devices and Sizes (no "
                        f"pickle)")


def _where(path: list[str]) -> str:
    return "".join(f"[{p!r}]" for p in path) or " (the top level)"


class _Decoder:
    """Rebuilds an object from its JSON structure; any malformation raises before returning."""

    def __init__(self, arrays: dict[str, ndarray], name: str, map_fn) -> None:
        self.arrays, self.name, self.map_fn = arrays, name, map_fn
        self.tensors: dict[int, Any] = {}
        self.shared: dict[str, ndarray] = {}

    def bad(self, msg: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: malformed ember object structure: {msg}")

    def decode(self, node, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise self.bad("nesting is too deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise self.bad(f"unexpected {type(node).__name__}")
        tag = node.get("$")
        try:
            if tag == "tensor":
                return self.tensor(node)
            if tag == "tuple":
                return tuple(self.decode(v, depth + 1) for v in self.items(node))
            if tag in ("dict", "odict"):
                pairs = [(self.key(k, depth), self.decode(v, depth + 1))
                         for k, v in self.items(node, pairs=True)]
                out = dict(pairs) if tag == "dict" else OrderedDict(pairs)
                if "meta" in node:
                    out._metadata = self.decode(node["meta"], depth + 1)
                return out
            return self.leaf(tag, node)
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise self.bad(f"bad {tag!r} entry ({e!r})") from None

    def items(self, node, pairs: bool = False) -> list:
        items = node["items"]
        if not isinstance(items, list) or (pairs and not all(
                isinstance(p, list) and len(p) == 2 for p in items)):
            raise self.bad(f"{node.get('$')!r} items must be a list"
                           + (" of [key, value] pairs" if pairs else ""))
        return items

    def key(self, k, depth: int):
        k = self.decode(k, depth + 1)
        if isinstance(k, list):
            raise self.bad("a dict key cannot be a list")
        return k

    def tensor(self, node):
        from ._tensor import _make
        ref = node["id"]
        if ref in self.tensors:
            return self.tensors[ref]
        key = node["key"]
        if key not in self.arrays:
            raise self.bad(f"it refers to tensor {key!r}, which the file does not hold")
        a = self.shared.get(key)
        if a is None:
            a = self.arrays[key]
            if node.get("complex"):
                if a.dtype != xp.float64 or a.shape[-1:] != (2,):
                    raise self.bad(f"tensor {key!r} is not a float64 [..., 2] complex pair")
                a = a.reshape(-1).view(xp.complex128).reshape(a.shape[:-1])
            self.shared[key] = a
        t = _make(a)
        if node.get("param"):
            from .nn.parameter import Parameter
            t = Parameter(t, requires_grad=bool(node.get("grad")))
        elif node.get("grad"):
            if a.dtype.kind not in "fc":
                raise self.bad(f"tensor {key!r} of dtype {a.dtype} cannot require grad")
            t.requires_grad_(True)
        if self.map_fn is not None:
            mapped = self.map_fn(t, "cpu")
            t = t if mapped is None else mapped
        self.tensors[ref] = t
        return t

    def leaf(self, tag, node):
        from ._dtype import _NAMED
        from ._tensor import Size, device
        if tag == "float":
            v = float(node["v"])
            if math.isfinite(v):
                raise ValueError("a tagged float must be inf or nan")
            return v
        if tag == "complex":
            re, im = node["v"]
            return complex(float(re), float(im))
        if tag == "bytes":
            return base64.b64decode(node["b64"], validate=True)
        if tag == "size":
            items = self.items(node)
            if not all(type(s) is int for s in items):
                raise ValueError("sizes must be integers")
            return Size(items)
        if tag == "dtype":
            return _NAMED[node["name"]]
        if tag == "device":
            return device(node["name"])
        raise self.bad(f"unknown tag {tag!r}")


# -- the public functions ----------------------------------------------------------------------

def save(obj: Any, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (tensors in any nesting of dicts, lists, tuples and plain values) to ``f``.

    ``f`` is a path, written atomically (a temporary file in the same folder, fsynced, then
    renamed over the target), or a binary file object. The file is a valid safetensors file;
    nothing in it is executable. ``pickle_protocol`` and ``_use_new_zipfile_serialization``
    are accepted for PyTorch compatibility and ignored.
    """
    if pickle_module is not None:
        raise ValueError("ember.save never pickles, so pickle_module is not supported")
    enc = _Encoder()
    structure = json.dumps(enc.encode(obj, []), separators=(",", ":"), ensure_ascii=False)
    header, arrays = _layout(enc.arrays, {_FORMAT_KEY: _FORMAT_VERSION,
                                          _OBJECT_KEY: structure})
    _write_to(f, header, arrays)


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Load an object saved by :func:`save` from a path or binary file object.

    The whole file is validated before anything is built, and no code from it runs (so
    ``weights_only`` makes no difference). A plain safetensors file loads as a dict of its
    tensors. ``map_location`` may be ``None``, ``"cpu"``, a CPU device, a dict mapping
    locations, or a function ``(tensor, "cpu") -> tensor``. Corrupt, truncated or foreign
    files raise :class:`CheckpointError` naming the file.
    """
    if pickle_module is not None:
        raise ValueError("ember.load never unpickles, so pickle_module is not supported")
    map_fn = _map_location(map_location)
    name = _source_name(f)
    arrays, meta = parse(_read_from(f), name)
    meta = meta or {}
    if _OBJECT_KEY not in meta:                       # a plain safetensors file
        dec = _Decoder(arrays, name, map_fn)
        return {k: dec.tensor({"id": i, "key": k}) for i, k in enumerate(arrays)}
    if meta.get(_FORMAT_KEY) != _FORMAT_VERSION:
        raise CheckpointError(f"{name}: written by a newer ember (format "
                              f"{meta.get(_FORMAT_KEY)!r}; this ember reads format "
                              f"{_FORMAT_VERSION!r})")
    try:
        structure = json.loads(meta[_OBJECT_KEY])
        return _Decoder(arrays, name, map_fn).decode(structure)
    except (ValueError, RecursionError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{name}: the object structure is not valid JSON ({e})") from None


def _map_location(loc):
    """A function applied to each loaded tensor, or None; non-CPU targets are refused."""
    from ._tensor import device
    if callable(loc) and not isinstance(loc, (str, device)):
        return loc
    if isinstance(loc, dict):
        loc = loc.get("cpu", "cpu")
    if loc is None:
        return None
    if device(loc).type != "cpu":
        raise RuntimeError(f"Attempting to deserialize object on a {device(loc).type.upper()} "
                           f"device, but ember runs on the CPU only. Use "
                           f"map_location='cpu' (or leave it out).")
    return None
