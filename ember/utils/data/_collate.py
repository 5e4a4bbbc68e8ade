"""``default_collate`` (samples -> one batch) and ``default_convert`` (arrays -> tensors).

Dispatch is PyTorch's: an exact type found in ``collate_fn_map`` first, then the first
``isinstance`` match in its order, then mappings, named tuples and sequences, recursively.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

from ... import _creation, _dtype
from ..._backend import ndarray, xp
from ..._tensor import Tensor, _make

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map",
           "collate_tensor_fn"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")
_STR_OBJ = re.compile(r"[SaUO]")     # NumPy dtype kinds a tensor cannot hold


def _is_numpy_value(x) -> bool:
    t = type(x)
    return t.__module__ == "numpy" and t.__name__ not in ("str_", "string_")


def default_convert(data):
    """Turn NumPy arrays and scalars (also inside mappings, named tuples and sequences) into
    tensors; everything else is returned as is. The DataLoader's ``collate_fn`` when
    automatic batching is off (``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy_value(data):
        if isinstance(data, ndarray) and _STR_OBJ.search(data.dtype.str) is not None:
            return data
        return _creation.as_tensor(xp.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        items = {k: default_convert(v) for k, v in data.items()}
        return _rebuild(data, items, mapping=True)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(d) for d in data], mapping=False)
    return data


def _rebuild(original, values, mapping: bool):
    """``values`` in ``original``'s container type when it can be built (else dict/list)."""
    kind = type(original)
    try:
        if isinstance(original, collections.abc.MutableMapping if mapping
                      else collections.abc.MutableSequence):
            out = copy.copy(original)               # keeps extra attributes of the container
            if mapping:
                out.update(values)
            else:
                out[:] = values
            return out
        return kind(values)
    except TypeError:                             # the type cannot be built from its items
        return dict(values) if mapping else list(values)


def collate_tensor_fn(batch, *, collate_fn_map=None) -> Tensor:
    """Stack tensors along a new first dim (the sizes must agree)."""
    first = batch[0]
    for i, t in enumerate(batch):
        if t.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(t.shape)} at entry {i}")
    if any(t.requires_grad for t in batch):
        from ... import _ops
        stack = getattr(_ops, "stack", None)
        if stack is not None:                      # differentiable when the op exists
            return stack(batch, 0)
    dt = first.dtype
    for t in batch[1:]:
        if t.dtype is not dt:
            dt = _dtype.promote_types(dt, t.dtype)
    return _make(xp.stack([t._data for t in batch]).astype(dt.np, copy=False))


def _collate_ndarray(batch, *, collate_fn_map=None):
    if _STR_OBJ.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    return collate([_creation.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalar(batch, *, collate_fn_map=None) -> Tensor:
    return _creation.as_tensor(xp.asarray(batch))


def _collate_float(batch, *, collate_fn_map=None) -> Tensor:
    return _creation.tensor(batch, dtype=_dtype.float64)   # always float64, as in PyTorch


def _collate_int(batch, *, collate_fn_map=None) -> Tensor:
    return _creation.tensor(batch)                         # int64 (bool for bools)


def _collate_str(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    ndarray: _collate_ndarray,
    (xp.bool_, xp.number, xp.object_): _collate_numpy_scalar,
    float: _collate_float,
    int: _collate_int,
    str: _collate_str,
    bytes: _collate_str,
}


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate ``batch`` (a list of samples) with per-type functions from ``collate_fn_map``;
    containers are collated field by field."""
    elem = batch[0]
    kind = type(elem)
    if collate_fn_map is not None:
        if kind in collate_fn_map:
            return collate_fn_map[kind](batch, collate_fn_map=collate_fn_map)
        for types, fn in collate_fn_map.items():
            if isinstance(elem, types):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        values = {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                  for k in elem}
        return _rebuild(elem, values, mapping=True)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):       # named tuple
        return kind(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns                     # tuples come back as lists, as in PyTorch
        return _rebuild(elem, columns, mapping=False)
    raise TypeError(_ERR.format(kind))


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, as PyTorch's ``default_collate`` does.

    Tensors are stacked (new first dim); NumPy arrays and scalars become tensors of their
    dtype; Python floats a float64 tensor, ints an int64 one, bools a bool one; strings
    and bytes stay a sequence; mappings, named tuples and sequences are collated per field
    (tuples come back as lists). Unequal sizes raise ``RuntimeError``.
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
