"""The saved object's structure: JSON with tagged objects (every JSON object is a tag),
referring to tensors and NumPy arrays stored in the file by name."""

from __future__ import annotations

import base64
import math
from collections import OrderedDict
from typing import Any

from .._backend import ndarray, xp
from ._format import CheckpointError, _le_array

_MAX_DEPTH = 200                    # nesting levels of a saved structure


def _pairs_of(a: ndarray) -> ndarray:
    """complex128 as float64 [..., 2] pairs (safetensors has no C128)."""
    pairs = a.astype("<c16", order="C", copy=False)
    return pairs.reshape(-1).view("<f8").reshape(a.shape + (2,))


class Encoder:
    """Turns an object into JSON-able data, collecting its tensors under path-like names."""

    def __init__(self) -> None:
        from .._tensor import Tensor
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
        if type(obj) is ndarray:
            return self.ndarray(obj, path)
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
        if meta is not None and type(obj) is OrderedDict:
            out["meta"] = self.encode(meta, path + ["_metadata"])
        return out

    def store(self, a: ndarray, path: list[str]) -> tuple[str, str | None]:
        """Store ``a`` (its name, and the name of the array it shares storage with).

        An array already stored is stored again under this name when it is a top-level
        key (a state dict's tied weights), so every key of a state dict is readable by any
        safetensors reader; elsewhere the first copy is referred to."""
        first = self.by_array.get(id(a))
        if first is not None and len(path) != 1:
            return first, None
        name = self.name(path)
        self.arrays[name] = _pairs_of(a) if a.dtype == xp.complex128 else _le_array(a)
        if first is None:
            self.by_array[id(a)] = name
            self.keep.append(a)
        return name, first

    def tensor(self, t, path):
        ref: dict[str, Any] = {"$": "tensor"}
        a = t._data
        again = self.by_tensor.get(id(t))
        if again is not None and len(path) != 1:
            return {"$": "tensor", "id": again}
        if again is None:
            again = self.by_tensor[id(t)] = len(self.by_tensor)
        ref["id"] = again
        ref["key"], first = self.store(a, path)
        if first is not None:
            ref["share"] = first
        if a.dtype == xp.complex128:
            ref["complex"] = True
        if t.requires_grad:
            ref["grad"] = True
        from ..nn.parameter import Parameter
        if isinstance(t, Parameter):
            ref["param"] = True
        return ref

    def ndarray(self, a: ndarray, path):
        if a.dtype.kind not in "biufc" or (a.dtype.kind != "c" and a.dtype.newbyteorder(
                "<") not in _SAFE) or a.dtype.itemsize > 16:
            raise TypeError(f"ember.save cannot store an object of type ndarray with dtype "
                            f"{a.dtype} at obj{_where(path)}: NumPy arrays must hold bool, "
                            f"integer, float or complex numbers")
        name, first = self.store(a, path)
        ref = {"$": "ndarray", "key": name}
        if first is not None:
            ref["share"] = first
        if a.dtype == xp.complex128:
            ref["complex"] = True
        return ref

    def other(self, obj, path):
        from .._dtype import dtype
        from .._tensor import Size, device
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
                        f"obj{_where(path)}: it stores tensors, NumPy arrays, dicts, lists, "
                        f"tuples, str, int, float, bool, complex, bytes, None, dtypes, devices "
                        f"and Sizes (no pickle)")


_SAFE = {xp.dtype(c) for c in ("<f2", "<f4", "<f8", "i1", "<i2", "<i4", "<i8", "u1", "<u2",
                               "<u4", "<u8", "?", "<c8")}


def _where(path: list[str]) -> str:
    return "".join(f"[{p!r}]" for p in path) or " (the top level)"


class Decoder:
    """Rebuilds an object from its JSON structure; any malformation raises CheckpointError
    naming the file."""

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
            if tag == "ndarray":
                return self.array(node).copy()
            if tag == "tuple":
                return tuple(self.decode(v, depth + 1) for v in self.items(node))
            if tag in ("dict", "odict"):
                pairs = [(self.key(k, depth), self.decode(v, depth + 1))
                         for k, v in self.items(node, pairs=True)]
                out = dict(pairs) if tag == "dict" else OrderedDict(pairs)
                if "meta" in node:
                    if tag != "odict":
                        raise self.bad("only an ordered dict carries 'meta'")
                    out._metadata = self.decode(node["meta"], depth + 1)
                return out
            return self.leaf(tag, node)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, RuntimeError, AttributeError,
                IndexError) as e:
            raise self.bad(f"bad {_short(tag)} entry ({_short(e)})") from None

    def items(self, node, pairs: bool = False) -> list:
        items = node["items"]
        if not isinstance(items, list) or (pairs and not all(
                isinstance(p, list) and len(p) == 2 for p in items)):
            raise self.bad(f"{_short(node.get('$'))} items must be a list"
                           + (" of [key, value] pairs" if pairs else ""))
        return items

    def key(self, k, depth: int):
        k = self.decode(k, depth + 1)
        if isinstance(k, (list, dict)):
            raise self.bad("a dict key cannot be a list or a dict")
        try:
            hash(k)
        except TypeError:
            raise self.bad(f"a dict key cannot be a {type(k).__name__}") from None
        return k

    def array(self, node) -> ndarray:
        """The stored array ``node`` refers to (the one it shares storage with, if any)."""
        key = node.get("share", node["key"])
        if not isinstance(key, str) or key not in self.arrays:
            raise self.bad(f"it refers to array {_short(key)}, which the file does not hold")
        a = self.shared.get(key)
        if a is None:
            a = self.arrays[key]
            if node.get("complex"):
                if a.dtype != xp.float64 or a.shape[-1:] != (2,):
                    raise self.bad(f"tensor {key!r} is not a float64 [..., 2] complex pair")
                a = a.reshape(-1).view(xp.complex128).reshape(a.shape[:-1])
            self.shared[key] = a
        return a

    def tensor(self, node):
        from .._tensor import _make
        ref = node["id"]
        if type(ref) is not int:
            raise TypeError(f"tensor id {_short(ref)} is not an integer")
        if ref in self.tensors:
            return self.tensors[ref]
        if "key" not in node:
            raise self.bad(f"tensor {ref} is referred to before it is defined")
        a = self.array(node)
        from .._dtype import from_numpy_dtype
        try:
            from_numpy_dtype(a.dtype)
        except TypeError:
            raise self.bad(f"tensor {node['key']!r} has dtype {a.dtype}, which is not a "
                           f"tensor dtype") from None
        t = _make(a)
        if (node.get("grad") or node.get("param")) and a.dtype.kind not in "fc":
            if node.get("grad"):
                raise self.bad(f"tensor {node['key']!r} of dtype {a.dtype} cannot require "
                               f"grad")
        if node.get("param"):
            from ..nn.parameter import Parameter
            t = Parameter(t, requires_grad=bool(node.get("grad")))
        elif node.get("grad"):
            t.requires_grad_(True)
        if self.map_fn is not None:
            mapped = self.map_fn(t, "cpu")
            t = t if mapped is None else mapped
        self.tensors[ref] = t
        return t

    def leaf(self, tag, node):
        from .._dtype import _NAMED
        from .._tensor import Size, device
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
            if not all(type(s) is int and s >= 0 for s in items):
                raise ValueError("sizes must be non-negative integers")
            return Size(items)
        if tag == "dtype":
            return _NAMED[node["name"]]
        if tag == "device":
            if not isinstance(node["name"], str):
                raise TypeError("a device name must be a string")
            d = device(node["name"])
            if d.index is not None and d.index < 0:
                raise ValueError(f"device index {d.index} is negative")
            return d
        raise self.bad(f"unknown tag {_short(tag)}")


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
