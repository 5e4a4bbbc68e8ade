"""PyTorch's legacy tensor types (``ember.FloatTensor``, ``LongTensor``, ...): constructors,
``Tensor.type()`` targets and ``isinstance`` checks by dtype."""

from __future__ import annotations

from . import _dtype
from ._tensor import Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
           "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor", "legacy_dtype"]


class _LegacyTensorType(type):
    """``isinstance(x, ember.FloatTensor)`` is true for float32 tensors; calling the type makes
    one: ``FloatTensor([1, 2])`` (from data) or ``FloatTensor(2, 3)`` (uninitialised)."""

    dtype: _dtype.dtype

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __call__(cls, *args) -> Tensor:
        from ._creation import empty, tensor
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(cls.dtype)
            if isinstance(data, tuple) and all(isinstance(d, int) for d in data):
                return empty(data, dtype=cls.dtype)
            return tensor(data, dtype=cls.dtype)
        return empty(*args, dtype=cls.dtype)

    def __repr__(cls) -> str:
        return f"<class 'ember.{cls.__name__}'>"


def _legacy(dt: _dtype.dtype) -> type:
    return _LegacyTensorType(dt._legacy_name, (), {"dtype": dt})


FloatTensor = _legacy(_dtype.float32)
DoubleTensor = _legacy(_dtype.float64)
HalfTensor = _legacy(_dtype.float16)
BFloat16Tensor = _legacy(_dtype.bfloat16)
LongTensor = _legacy(_dtype.int64)
IntTensor = _legacy(_dtype.int32)
ShortTensor = _legacy(_dtype.int16)
CharTensor = _legacy(_dtype.int8)
ByteTensor = _legacy(_dtype.uint8)
BoolTensor = _legacy(_dtype.bool)

_BY_NAME = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor,
                                    LongTensor, IntTensor, ShortTensor, CharTensor,
                                    ByteTensor, BoolTensor)}


def legacy_dtype(target) -> _dtype.dtype | None:
    """The dtype a ``Tensor.type()`` target names (a legacy type, or ``'torch.FloatTensor'``)."""
    if isinstance(target, _LegacyTensorType):
        return target.dtype
    if isinstance(target, str):
        t = _BY_NAME.get(target.rsplit(".", 1)[-1])
        if t is None:
            raise ValueError(f"invalid type: '{target}'")
        return t.dtype
    return None
