"""Dtypes under PyTorch's names and PyTorch's type-promotion rules."""

from __future__ import annotations

import builtins

from . import _bfloat16 as _bf16
from ._backend import xp

__all__ = [
    "dtype", "float16", "half", "float32", "float", "float64", "double", "bfloat16",
    "int8", "int16", "short", "int32", "int", "int64", "long", "uint8", "bool",
    "uint16", "uint32", "uint64",
    "complex64", "cfloat", "complex128", "cdouble",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type", "can_cast",
    "is_floating_point", "finfo", "iinfo",
]

# Category ranks used by promotion: bool < integer < floating < complex.
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type, e.g. ``ember.float32``."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_complex",
                 "is_signed", "_legacy_name")

    def __init__(self, name: str, np_dtype, category: int, legacy_name: str):
        self.name = name
        self.np = xp.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = self.np.kind in "fic"
        self._legacy_name = legacy_name

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self) -> dtype:
        return {"complex64": float32, "complex128": float64}.get(self.name, self)


def _by_name(name: str) -> dtype:
    return _NAMED[name]


float16 = dtype("float16", "float16", _FLOAT, "HalfTensor")
float32 = dtype("float32", "float32", _FLOAT, "FloatTensor")
float64 = dtype("float64", "float64", _FLOAT, "DoubleTensor")
int8 = dtype("int8", "int8", _INT, "CharTensor")
int16 = dtype("int16", "int16", _INT, "ShortTensor")
int32 = dtype("int32", "int32", _INT, "IntTensor")
int64 = dtype("int64", "int64", _INT, "LongTensor")
uint8 = dtype("uint8", "uint8", _INT, "ByteTensor")
# PyTorch's "limited support" unsigned types: storage, conversion, printing; no promotion
# with other integer types.
uint16 = dtype("uint16", "uint16", _INT, "UInt16Tensor")
uint32 = dtype("uint32", "uint32", _INT, "UInt32Tensor")
uint64 = dtype("uint64", "uint64", _INT, "UInt64Tensor")
bool = dtype("bool", "bool", _BOOL, "BoolTensor")  # noqa: A001 - torch's name
complex64 = dtype("complex64", "complex64", _COMPLEX, "ComplexFloatTensor")
complex128 = dtype("complex128", "complex128", _COMPLEX, "ComplexDoubleTensor")


class _BFloat16(dtype):
    """bfloat16: float32 arrays tagged by dtype metadata and kept at bfloat16 precision (see
    ``ember/_bfloat16.py``). Reading ``.np`` (what every op making one does) switches on the
    rounding checks, so programs that never use bfloat16 never pay for them."""

    __slots__ = ()

    @property
    def np(self):
        _bf16.ACTIVE[0] = True
        return _bf16.NP

    @np.setter
    def np(self, value) -> None:
        pass


bfloat16 = _BFloat16("bfloat16", "float32", _FLOAT, "BFloat16Tensor")
bfloat16.itemsize = 2
_bf16.ACTIVE[0] = False  # building it read .np; no tensor uses it yet

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

_NAMED = {d.name: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8,
                               bool, complex64, complex128, bfloat16, uint16, uint32, uint64)}
_FROM_NP = {d.np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8,
                               bool, complex64, complex128, uint16, uint32, uint64)}
_LIMITED_UNSIGNED = (uint16, uint32, uint64)

_default_float = float32


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype for a NumPy dtype (TypeError for unsupported ones)."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        d = _FROM_NP.get(xp.dtype(np_dtype))
        if d is None:
            raise TypeError(
                f"can't convert np.ndarray of type {xp.dtype(np_dtype)}. The only supported "
                "types are: float64, float32, float16, complex64, complex128, int64, int32, "
                "int16, int8, uint8, and bool.") from None
        return d


def get_default_dtype() -> dtype:
    """The dtype of floating tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (float16, float32 or float64)."""
    global _default_float
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def is_floating_point(t) -> bool:
    return t.dtype.is_floating_point


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to, by PyTorch's table."""
    if a is b:
        return a
    if (a in _LIMITED_UNSIGNED or b in _LIMITED_UNSIGNED) and max(a.category,
                                                                 b.category) <= _INT:
        raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                           f"attempted to promote {a._legacy_name[:-6]} and "
                           f"{b._legacy_name[:-6]}")
    if a.category != b.category:
        # The higher category wins outright; only within a category does size matter
        # (so float16 with int64 stays float16, unlike NumPy).
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.is_complex and lo.is_floating_point and lo.itemsize > hi.itemsize // 2:
            return complex128
        return hi
    return _FROM_NP[xp.promote_types(a.np, b.np)]


def _scalar_dtype(value) -> dtype:
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, builtins.int):
        return int64
    if isinstance(value, builtins.complex):
        return complex128 if _default_float is float64 else complex64
    return _default_float


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # PyTorch's rule: a lower-priority participant (a 0-d tensor, then a Python scalar)
    # only changes the result when it brings a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return complex128 if higher is float64 else lower
    if higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """PyTorch's result dtype for tensors and Python scalars taking part in one op.

    Tensors with dimensions outrank 0-d tensors, which outrank Python scalars; a lower rank
    only counts when it brings a higher category (bool < int < float < complex).
    """
    dim_result = zero_result = scalar_result = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.data.ndim:
                dim_result = d if dim_result is None else promote_types(dim_result, d)
            else:
                zero_result = d if zero_result is None else promote_types(zero_result, d)
        elif x is not None:
            sd = _scalar_dtype(x)
            scalar_result = sd if scalar_result is None else promote_types(scalar_result, sd)
    return _combine(dim_result, _combine(zero_result, scalar_result))


def can_cast(from_: dtype, to: dtype) -> builtins.bool:
    """Whether an op computing in ``from_`` may write into a tensor of dtype ``to``."""
    return from_.category <= to.category


class finfo:
    """Machine limits of a floating dtype (``ember.finfo(ember.float32).eps``)."""

    def __init__(self, type: dtype | None = None):  # noqa: A002 - torch's name
        # ``float`` and ``int`` are dtypes in this module: use the builtins explicitly.
        d = type or _default_float
        info = xp.finfo(d.np)
        self.dtype = d.name
        self.bits = info.bits
        self.eps = builtins.float(info.eps)
        self.max = builtins.float(info.max)
        self.min = builtins.float(info.min)
        self.tiny = self.smallest_normal = builtins.float(info.tiny)
        self.resolution = 10.0 ** -info.precision
        if d is bfloat16:  # float32's range with 8 significant bits
            self.bits, self.eps, self.resolution = 16, 2.0 ** -7, 0.01
            self.max = builtins.float(_bf16.round_bf16(xp.float32(3.3895313e38)))
            self.min = -self.max

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype."""

    def __init__(self, type: dtype):  # noqa: A002
        info = xp.iinfo(type.np)
        self.dtype = type.name
        self.bits = info.bits
        self.max = builtins.int(info.max)
        self.min = builtins.int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
