"""``ember.save`` / ``ember.load``: checkpoints in the safetensors layout, never pickle.

``ember.save`` writes ``<u64 header length><JSON header><raw tensor bytes>`` and stores the
saved object's nested structure as JSON in ``__metadata__["ember.object"]``, referring to
tensors and NumPy arrays by name. A state dict's tensors are stored under their own names
(tied weights under each of their keys), so ``safetensors.torch.load_file`` reads an
``ember.save(model.state_dict(), f)`` file as is. ``ember.load`` also reads PyTorch's
``torch.save`` files through a restricted unpickler (:mod:`._torch_pickle`) that builds
only tensors, containers and plain values, as ``torch.load(weights_only=True)`` does.
"""

from __future__ import annotations

import json
from typing import Any

from ._format import CheckpointError, Source, _write_to, read_safetensors
# The layout helpers ember.utils.safetensors builds on, importable from here.
from ._format import _array_of, _layout, parse  # noqa: F401
from ._structure import Decoder, Encoder

__all__ = ["save", "load", "CheckpointError"]

_FORMAT_KEY, _OBJECT_KEY, _FORMAT_VERSION = "ember.format", "ember.object", "1"


def save(obj: Any, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (tensors, NumPy arrays and plain values in any nesting of dicts, lists
    and tuples) to ``f``.

    ``f`` is a path, written atomically (a new file in the same folder, fsynced, then
    renamed over the target; a symlink is written through), or a binary file object. The
    file is a valid safetensors file; nothing in it is executable. ``pickle_protocol`` and
    ``_use_new_zipfile_serialization`` are accepted for PyTorch compatibility and ignored.
    """
    if pickle_module is not None:
        raise ValueError("ember.save never pickles, so pickle_module is not supported")
    enc = Encoder()
    structure = json.dumps(enc.encode(obj, []), separators=(",", ":"), ensure_ascii=False)
    header, arrays = _layout(enc.arrays, {_FORMAT_KEY: _FORMAT_VERSION,
                                          _OBJECT_KEY: structure})
    _write_to(f, header, arrays)


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Load an object saved by :func:`save`, a safetensors file, or a PyTorch ``torch.save``
    file (zip or legacy format), from a path or binary file object.

    No code from the file runs: PyTorch files go through a restricted unpickler that builds
    only tensors, storages, containers, numbers and strings and refuses anything else
    (so ``weights_only`` makes no difference). A plain safetensors file loads as a dict of its
    tensors. ``map_location`` may be ``None``, ``"cpu"``, a CPU device, a dict mapping
    locations, or a function ``(tensor, location) -> tensor``. Corrupt, truncated or foreign
    files raise :class:`CheckpointError` naming the file and what is wrong.
    """
    if pickle_module is not None:
        raise ValueError("ember.load never unpickles, so pickle_module is not supported")
    src = Source(f)
    try:
        head = src.read(8)
        if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"):
            from ._torch_pickle import load_torch_file
            return load_torch_file(f, src, head, map_location)
        map_fn = _map_location(map_location)
        arrays, meta = read_safetensors(src, head)
    finally:
        src.close()
    name = src.name
    meta = meta or {}
    if _OBJECT_KEY not in meta:                       # a plain safetensors file
        dec = Decoder(arrays, name, map_fn)
        return {k: dec.tensor({"id": i, "key": k}) for i, k in enumerate(arrays)}
    if meta.get(_FORMAT_KEY) != _FORMAT_VERSION:
        raise CheckpointError(f"{name}: written by a newer ember (format "
                              f"{meta.get(_FORMAT_KEY)!r}; this ember reads format "
                              f"{_FORMAT_VERSION!r})")
    try:
        structure = json.loads(meta[_OBJECT_KEY])
    except RecursionError:
        raise CheckpointError(f"{name}: the object structure is JSON nested too "
                              f"deeply") from None
    except ValueError as e:
        raise CheckpointError(f"{name}: the object structure is not valid JSON ({e})") from None
    return Decoder(arrays, name, map_fn).decode(structure)


def _map_location(loc):
    """A function applied to each loaded tensor, or None; non-CPU targets are refused."""
    from .._tensor import device
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
