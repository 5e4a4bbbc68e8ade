"""Reading PyTorch's ``torch.save`` files (the zip layout and the legacy one) the way
``torch.load(weights_only=True)`` does: a restricted unpickler that builds only tensors,
storages, containers, numbers and strings (plus PyTorch's allowlisted value types: dtypes,
devices, ``Size``) and refuses every other global by name, so nothing in the file runs.

Storages become NumPy arrays read from the file; each tensor is a NumPy view of its storage
(offset, size and stride checked against the storage), so tensors sharing a storage share
memory as in PyTorch. bfloat16 storages are widened to float32 (ember's bfloat16 storage).
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Any

from .._backend import ndarray, xp
from ._format import CheckpointError, Source

_MAGIC = 0x1950A86A20F9469CFC6C          # the legacy format's first pickled value
_LEGACY_PROTOCOL = 1001

# PyTorch storage class -> element type ("bf16": bfloat16, widened to float32 on reading).
_STORAGES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
             "BFloat16Storage": "bf16", "LongStorage": "<i8", "IntStorage": "<i4",
             "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
             "BoolStorage": "?", "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16",
             "UntypedStorage": "u1"}
# PyTorch dtype name -> element type, for the dtypes ember has.
_DTYPES = {"float64": "<f8", "double": "<f8", "float32": "<f4", "float": "<f4",
           "float16": "<f2", "half": "<f2", "bfloat16": "bf16", "int64": "<i8", "long": "<i8",
           "int32": "<i4", "int": "<i4", "int16": "<i2", "short": "<i2", "int8": "i1",
           "uint8": "u1", "bool": "?", "complex64": "<c8", "cfloat": "<c8",
           "complex128": "<c16", "cdouble": "<c16"}
# Types PyTorch allows that ember cannot represent: named in the error when one is used.
_ALIASES = {"double": "float64", "float": "float32", "half": "float16", "long": "int64",
            "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
_OTHER_DTYPES = {"uint16", "uint32", "uint64", "complex32", "chalf", "float8_e4m3fn",
                 "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
                 "float4_e2m1fn_x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
                 "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16", "uint1", "uint2",
                 "uint3", "uint4", "uint5", "uint6", "uint7", "int1", "int2", "int3", "int4",
                 "int5", "int6", "int7"}


class UnsafeGlobalError(CheckpointError, pickle.UnpicklingError):
    """The file asks for a global that is not allowed (loading it could run code)."""


class _StorageType:
    """What a storage class in the file stands for: its element type (never called)."""

    def __init__(self, name: str, code: str) -> None:
        self.name, self.code = name, code


class _Dtype:
    """A PyTorch dtype named in the file."""

    def __init__(self, name: str, code: str | None) -> None:
        self.name, self.code = name, code


class _Storage:
    """A storage read from the file: a flat array of its element type, and where it lived
    (``raw``: an untyped storage of bytes, in byte order ``order``)."""

    def __init__(self, array: ndarray, location: str, raw: bool = False,
                 order: str = "<") -> None:
        self.array, self.location, self.raw, self.order = array, location, raw, order


def _np(code: str):
    return xp.dtype("<u2" if code == "bf16" else code)


def _widen(a: ndarray, code: str) -> ndarray:
    """The flat array ember computes with: bfloat16 bits become float32 (exactly)."""
    if code == "bf16":
        return (a.astype(xp.uint32) << 16).view(xp.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


class _Unpickler(pickle.Unpickler):
    """Builds only allowlisted objects; ``storages(key, type, numel, location)`` supplies the
    arrays persistent ids name."""

    def __init__(self, file, name: str, storages, dry: bool = False) -> None:
        super().__init__(file, encoding="utf-8")
        self.name, self.storages, self.dry = name, storages, dry
        self.sizes: dict[str, int] = {}            # a dry pass: each storage's element size

    def bad(self, msg: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: {msg}")

    def find_class(self, module: str, name: str):
        qual = f"{module}.{name}"
        found = _allowed(self, module, name)
        if found is None:
            raise UnsafeGlobalError(
                f"{self.name}: refusing to load: the file asks for the global {qual!r}, which "
                f"is not an allowed type. Only tensors, storages, containers, numbers, strings "
                f"and PyTorch's allowlisted types load (as with torch.load(weights_only=True)); "
                f"nothing from the file was run")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise self.bad(f"unsupported persistent id {_short(pid)}")
        stype, key, location, numel = pid[1:5]
        if not isinstance(stype, _StorageType):
            raise self.bad(f"a storage of type {_short(stype)} is not a storage class")
        if not (isinstance(key, str) and isinstance(location, str) and type(numel) is int
                and numel >= 0):
            raise self.bad(f"malformed storage record {_short(pid)}")
        if len(pid) == 6 and pid[5] is not None:
            raise self.bad("storage views of the pre-1.0 format are not supported")
        if self.dry:
            self.sizes[key] = _np(stype.code).itemsize
            return None
        return self.storages(key, stype, numel, location)

    # -- the allowlisted rebuild functions -----------------------------------------------------
    def rebuild_tensor(self, storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None, dtype=None):
        if self.dry:
            return None
        if not isinstance(storage, _Storage):
            raise self.bad(f"a tensor's storage is {type(storage).__name__}, not a storage")
        if not (_ints(size) and _ints(stride) and len(size) == len(stride)
                and type(storage_offset) is int and storage_offset >= 0):
            raise self.bad(f"malformed tensor record: offset {_short(storage_offset)}, size "
                           f"{_short(size)}, stride {_short(stride)}")
        base = storage.array
        if dtype is not None:                  # _rebuild_tensor_v3: a typed view of bytes
            code = _DTYPES.get(dtype.name) if isinstance(dtype, _Dtype) else None
            if code is None:
                raise self.bad(f"tensors of dtype torch.{getattr(dtype, 'name', dtype)} are "
                               f"not supported by ember")
            if not storage.raw:
                raise self.bad("_rebuild_tensor_v3 needs an untyped storage")
            raw = base
            if raw.size % _np(code).itemsize:
                raise self.bad(f"a storage of {raw.size} bytes does not hold whole "
                               f"torch.{dtype.name} elements")
            base = _widen(raw.view(_np(code).newbyteorder(storage.order)), code)
        n = base.size
        if any(s == 0 for s in size):
            extent = 0
        else:
            extent = storage_offset + 1 + sum((s - 1) * st for s, st in zip(size, stride))
        if extent > n:
            raise self.bad(f"a tensor of size {list(size)} and stride {list(stride)} at "
                           f"offset {storage_offset} reaches element {extent - 1} of a "
                           f"storage of {n} (corrupt file)")
        item = base.itemsize
        arr = xp.lib.stride_tricks.as_strided(
            base[storage_offset:] if extent else base[:0], shape=tuple(size),
            strides=tuple(st * item for st in stride))
        from .._tensor import _make
        t = _make(arr)
        if requires_grad:
            if arr.dtype.kind not in "fc":
                raise self.bad(f"a tensor of dtype {arr.dtype} cannot require grad")
            t.requires_grad_(True)
        return t

    def rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                          backward_hooks, dtype, metadata=None):
        return self.rebuild_tensor(storage, storage_offset, size, stride, requires_grad,
                                   backward_hooks, metadata, dtype=dtype)

    def rebuild_parameter(self, data, requires_grad, backward_hooks, state=None):
        if self.dry:
            return None
        from .._tensor import Tensor
        from ..nn.parameter import Parameter
        if not isinstance(data, Tensor):
            raise self.bad(f"a parameter's data is {type(data).__name__}, not a tensor")
        if requires_grad and not (data.dtype.is_floating_point or data.dtype.is_complex):
            raise self.bad(f"a parameter of dtype {data.dtype} cannot require grad")
        return Parameter(data.detach(), requires_grad=bool(requires_grad))

    def rebuild_from_type_v2(self, func, new_type, args, state):
        if not callable(func) or getattr(func, "__self__", None) is not self:
            raise self.bad(f"_rebuild_from_type_v2 got {_short(func)} as its function")
        if not isinstance(args, tuple):
            raise self.bad("_rebuild_from_type_v2 needs a tuple of arguments")
        t = func(*args)
        if self.dry:
            return None
        if new_type == "Parameter":
            return self.rebuild_parameter(t, t.requires_grad, None)
        if new_type != "Tensor":
            raise self.bad(f"tensor subclass {_short(new_type)} is not supported")
        return t

    def unsupported(self, what: str):
        def refuse(*args, **kwargs):
            raise self.bad(f"{what} tensors are not supported by ember")
        return refuse


def _allowed(u: _Unpickler, module: str, name: str):
    """The object a global of the file stands for, or None when it is not allowed.

    Every callable is a fresh wrapper and every dtype a fresh marker, never a shared class
    or singleton: the pickle's BUILD opcode can set attributes on whatever the file can
    reach, and must not be able to alter ember's own types for later loads."""
    from .._tensor import Size, device
    if module == "collections" and name in ("OrderedDict", "Counter"):
        return _fresh(getattr(collections, name))
    if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "complex"):
        return _fresh({"set": set, "frozenset": frozenset, "complex": complex}[name])
    if module in ("builtins", "__builtin__") and name == "bytearray":
        return _fresh(_bytearray)
    if module == "_codecs" and name == "encode":
        return _fresh(_latin1_encode)
    if module in ("torch", "torch.cuda", "torch.storage") and name in _STORAGES:
        return _StorageType(name, _STORAGES[name])
    if module == "torch":
        if name in _DTYPES or name in _OTHER_DTYPES:
            return _Dtype(name, _DTYPES.get(name))
        if name == "Size":
            return _fresh(lambda dims=(): Size(_checked_dims(dims)))
        if name == "device":
            return _fresh(device)
        if name == "Tensor":
            return "Tensor"
    if module == "torch.nn.parameter" and name == "Parameter":
        return "Parameter"
    if module == "torch._utils":
        if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return u.rebuild_tensor
        if name == "_rebuild_tensor_v3":
            return u.rebuild_tensor_v3
        if name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return u.rebuild_parameter
        kinds = {"_rebuild_qtensor": "quantized", "_rebuild_sparse_tensor": "sparse",
                 "_rebuild_nested_tensor": "nested", "_rebuild_meta_tensor_no_storage": "meta",
                 "_rebuild_wrapper_subclass": "wrapper-subclass",
                 "_rebuild_device_tensor_from_numpy": "device",
                 "_rebuild_device_tensor_from_cpu_tensor": "device"}
        if name in kinds:
            return u.unsupported(kinds[name])
    if module == "torch._tensor" and name == "_rebuild_from_type_v2":
        return u.rebuild_from_type_v2
    return None


def _fresh(fn):
    """A new function calling ``fn`` (what BUILD may touch is private to this load)."""
    def call(*args):
        return fn(*args)
    return call


def _checked_dims(dims):
    if not _ints(dims):
        raise pickle.UnpicklingError(f"torch.Size needs non-negative integers, got "
                                     f"{_short(dims)}")
    return dims


def _bytearray(data=b""):
    """``bytearray`` from data only: a size would let a tiny file allocate any amount."""
    if isinstance(data, int):
        raise pickle.UnpicklingError("bytearray(<size>) is not allowed")
    return bytearray(data)


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed for latin-1 text only")
    return text.encode("latin1", errors)


def _ints(seq) -> bool:
    return isinstance(seq, (tuple, list)) and all(type(v) is int and v >= 0 for v in seq)


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


# -- the two file layouts -----------------------------------------------------------------------

def _mapper(map_location, name: str):
    """Checks each storage's location against ``map_location``; returns the function applied
    to every tensor afterwards (or None)."""
    from .._tensor import device

    def target(location: str) -> str:
        if isinstance(map_location, dict):
            location = map_location.get(location, location)
        elif map_location is not None and not callable(map_location):
            location = str(map_location)
        if isinstance(location, device):
            location = str(location)
        kind = str(location).split(":")[0]
        if kind != "cpu" and not callable(map_location):
            raise RuntimeError(f"Attempting to deserialize object on a {kind.upper()} device "
                               f"but ember runs on the CPU only. If you are running on a "
                               f"CPU-only machine, please use ember.load with "
                               f"map_location=ember.device('cpu') to map your storages to the "
                               f"CPU.")
        return "cpu"
    return target


def load_torch_file(f, src: Source, head: bytes, map_location) -> Any:
    name = src.name
    check = _mapper(map_location, name)
    if head[:4] == b"PK\x03\x04":
        obj = _load_zip(src, head, name, check)
    else:
        obj = _load_legacy(src, head, name, check)
    fn = (lambda t: map_location(t, "cpu")) if callable(map_location) else None
    try:
        return _apply(obj, fn, name)
    except RecursionError:
        raise CheckpointError(f"{name}: the object is nested too deeply") from None


def _apply(obj, fn, name: str, seen: dict | None = None):
    """The loaded object made ember's: dtype markers become ember dtypes, storages saved on
    their own flat tensors, every tensor checked and passed through ``fn`` (if given; a
    result of None keeps it). Containers are visited once (a pickle may hold cycles)."""
    from .. import _dtype
    from .._tensor import Tensor, _make
    if seen is None:
        seen = {}
    if id(obj) in seen:
        return seen[id(obj)]
    if isinstance(obj, _Storage):
        obj = _make(obj.array)
    if isinstance(obj, Tensor):
        if type(obj._data) is not ndarray:
            raise CheckpointError(f"{name}: a tensor's data was replaced by the pickle")
        out = None if fn is None else fn(obj)
        return obj if out is None else out
    if isinstance(obj, _Dtype):
        if obj.code is None:
            raise CheckpointError(f"{name}: dtype torch.{obj.name} is not supported by ember")
        return _dtype._NAMED[_ALIASES.get(obj.name, obj.name)]
    if type(obj) in (dict, collections.OrderedDict, collections.Counter):
        seen[id(obj)] = obj
        for k in list(obj):
            obj[k] = _apply(obj[k], fn, name, seen)
        return obj
    if type(obj) is list:
        seen[id(obj)] = obj
        obj[:] = [_apply(v, fn, name, seen) for v in obj]
        return obj
    if type(obj) in (tuple, set, frozenset):
        seen[id(obj)] = obj                   # a cycle through a tuple keeps the original
        out = seen[id(obj)] = type(obj)(_apply(v, fn, name, seen) for v in obj)
        return out
    return obj


def _load_zip(src: Source, head: bytes, name: str, check) -> Any:
    fh = src.fh
    try:
        if src.size is None:                  # an unseekable stream: zip needs seeking
            fh = io.BytesIO(head + src.read(1 << 62))
        else:
            fh.seek(fh.tell() - src.pos)      # back to where the file started
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{name}: a damaged zip archive ({e})") from None
    with archive:
        infos = {i.filename: i for i in archive.infolist()}
        pkls = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise CheckpointError(f"{name}: a zip archive but not a PyTorch checkpoint (no "
                                  f"single <name>/data.pkl record)")
        prefix = pkls[0][:-len("data.pkl")]
        order = infos.get(prefix + "byteorder")
        big = order is not None and _read(archive, order, name, 16).strip() == b"big"
        total = src.size

        def member(path: str, limit: int) -> bytes:
            info = infos.get(path)
            if info is None:
                raise CheckpointError(f"{name}: the archive lacks {path}")
            return _read(archive, info, name, limit, total)

        cache: dict[str, _Storage] = {}

        def storage(key, stype, numel, location):
            if key in cache:
                return cache[key]
            check(location)
            dt = _np(stype.code)
            if big:
                dt = dt.newbyteorder(">")
            raw = member(f"{prefix}data/{key}", numel * dt.itemsize)
            if len(raw) != numel * dt.itemsize:
                raise CheckpointError(f"{name}: storage {key!r} holds {len(raw)} bytes, but "
                                      f"{numel} elements of {stype.name} need "
                                      f"{numel * dt.itemsize}")
            arr = _widen(xp.frombuffer(bytearray(raw), dtype=dt), stype.code)
            cache[key] = s = _Storage(arr, location, stype.name == "UntypedStorage",
                                      ">" if big else "<")
            return s

        data = member(pkls[0], total if total is not None else 1 << 40)
        return _unpickle(io.BytesIO(data), name, storage)


def _read(archive, info, name: str, limit: int, total: int | None = None) -> bytes:
    """A member's bytes, refusing sizes beyond ``limit`` or the archive itself before reading
    (for stored members; a compressed member is read at most to ``limit``)."""
    if info.file_size > limit or (total is not None and info.compress_type ==
                                  zipfile.ZIP_STORED and info.file_size > total):
        raise CheckpointError(f"{name}: {info.filename} claims {info.file_size} bytes, more "
                              f"than it can hold")
    try:
        with archive.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise CheckpointError(f"{name}: cannot read {info.filename} ({e})") from None
    if len(data) > limit:
        raise CheckpointError(f"{name}: {info.filename} holds more than {limit} bytes")
    return data


def _unpickle(fh, name: str, storages, dry: bool = False, unpickler=None):
    """One pickle from ``fh``; anything wrong with it raises CheckpointError."""
    try:
        return (unpickler or _Unpickler(fh, name, storages, dry)).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{name}: the pickle is nested too deeply") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, OverflowError, UnicodeDecodeError, MemoryError) as e:
        raise CheckpointError(f"{name}: a damaged or unsupported pickle "
                              f"({type(e).__name__}: {_short(str(e))})") from None


def _load_legacy(src: Source, head: bytes, name: str, check) -> Any:
    """The pre-1.6 layout: pickled magic number, protocol version and system info, the
    object's pickle, the pickled list of storage keys, then each storage's element count
    (8 bytes) and raw bytes, in that order. The storages follow the pickle that uses them,
    so a dry pass over it first learns each storage's element size."""
    rest = bytearray(head)
    rest += src.read(src.size - len(head) if src.size is not None else 1 << 62)
    fh = io.BytesIO(rest)
    if _unpickle(fh, name, None, dry=True) != _MAGIC:
        raise CheckpointError(f"{name}: a pickle stream, but not a PyTorch checkpoint (ember "
                              f"never unpickles arbitrary objects)")
    if _unpickle(fh, name, None, dry=True) != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{name}: unsupported legacy PyTorch protocol version")
    info = _unpickle(fh, name, None, dry=True)
    order = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
    start = fh.tell()
    dry = _Unpickler(fh, name, None, dry=True)
    _unpickle(fh, name, None, unpickler=dry)
    keys = _unpickle(fh, name, None, dry=True)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError(f"{name}: malformed legacy storage key list")
    layout = _legacy_layout(rest, fh.tell(), keys, dry.sizes, name, order)
    cache: dict[str, _Storage] = {}

    def storage(key, stype, numel, location):
        if key in cache:
            return cache[key]
        check(location)
        if key not in layout:
            raise CheckpointError(f"{name}: storage {key!r} is not in the file")
        begin, count = layout[key]
        dt = _np(stype.code).newbyteorder(order)
        if count != numel:
            raise CheckpointError(f"{name}: storage {key!r} holds {count} elements, not "
                                  f"{numel} of {stype.name}")
        arr = xp.frombuffer(rest, dtype=dt, count=numel, offset=begin)   # a view, no copy
        if not arr.flags.aligned:
            arr = arr.copy()
        cache[key] = s = _Storage(_widen(arr, stype.code), location,
                                  stype.name == "UntypedStorage", order)
        return s

    fh.seek(start)
    return _unpickle(fh, name, storage)


def _legacy_layout(rest: bytearray, pos: int, keys: list, sizes: dict, name: str,
                   order: str) -> dict:
    """Each storage's (data offset, element count), checked against the file's length."""
    out = {}
    for k in keys:
        if k not in sizes:
            raise CheckpointError(f"{name}: storage {k!r} is listed but never used")
        if pos + 8 > len(rest):
            raise CheckpointError(f"{name}: truncated: storage {k!r} is missing")
        count = int.from_bytes(rest[pos:pos + 8], "little" if order == "<" else "big")
        nbytes = count * sizes[k]
        if pos + 8 + nbytes > len(rest):
            raise CheckpointError(f"{name}: truncated: storage {k!r} needs {nbytes} bytes, "
                                  f"{len(rest) - pos - 8} remain")
        out[k] = (pos + 8, count)
        pos += 8 + nbytes
    return out
