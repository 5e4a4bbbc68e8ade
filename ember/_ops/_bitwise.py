"""Logical and bitwise ops (``&``, ``|``, ``^``, ``~``, ``<<``, ``>>`` on bool and integer
tensors) and the comparisons that answer with a Python bool (``equal``, ``allclose``) or a
bool tensor (``isclose``). None is differentiable. ``pointwise.py`` exports these.
"""

from __future__ import annotations

from .._dtype import _FROM_NP
from ..autograd.function import nondifferentiable
from ._util import Tensor, _make, ndarray, operands, tensor_method, to_array, xp
from .inplace import register_inplace


def _type_name(np_dtype) -> str:
    return _FROM_NP[np_dtype]._legacy_name[:-6]


def _scalar_name(np_dtype) -> str:
    """PyTorch's C++ name for a dtype in messages (``float``, ``double``, ``long``)."""
    return _type_name(np_dtype).lower()


def _not_implemented(kernel: str, np_dtype) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(np_dtype)}\'')


# -- logical and bitwise ----------------------------------------------------------------------
def _logical(name: str, ufunc):
    def fn(input, other) -> Tensor:
        return _make(xp.asarray(ufunc(to_array(input), to_array(other))))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.split('_')[1].upper()} of the truth values (bool result)."
    return nondifferentiable(fn)


logical_and = _logical("logical_and", xp.logical_and)
logical_or = _logical("logical_or", xp.logical_or)
logical_xor = _logical("logical_xor", xp.logical_xor)


@tensor_method()
@nondifferentiable
def logical_not(input: Tensor) -> Tensor:
    """Elementwise NOT of the truth values (bool result)."""
    return _make(xp.logical_not(input._data))


def _wrapped(value, np_dtype):
    """A Python int taken to an integer dtype's width by wrapping around, as PyTorch's cast
    of the scalar does (``int32_tensor & 2**40 + 3`` uses 3)."""
    if type(value) is not int or np_dtype.kind not in "iu":
        return value
    bits = np_dtype.itemsize * 8
    if np_dtype.kind == "u":
        return value % (1 << bits)
    half = 1 << (bits - 1)
    return (value + half) % (1 << bits) - half


def _bitwise(name: str, ufunc, kernel: str):
    def fn(input, other) -> Tensor:
        x, y = operands(input, other)
        arr = x if isinstance(x, ndarray) else y
        if arr.dtype.kind in "fc":
            raise _not_implemented(kernel, arr.dtype)
        x, y = _wrapped(x, arr.dtype), _wrapped(y, arr.dtype)
        return _make(xp.asarray(ufunc(x, y)))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer or bool tensors."
    return nondifferentiable(fn)


bitwise_and = _bitwise("bitwise_and", xp.bitwise_and, "bitwise_and_cpu")
bitwise_or = _bitwise("bitwise_or", xp.bitwise_or, "bitwise_or_cpu")
bitwise_xor = _bitwise("bitwise_xor", xp.bitwise_xor, "bitwise_xor_cpu")


def _shift(name: str, ufunc, kernel: str):
    def fn(input, other) -> Tensor:
        x, y = operands(input, other)
        arr = x if isinstance(x, ndarray) else y
        if arr.dtype.kind in "fcb":
            raise _not_implemented(kernel, arr.dtype)
        # NumPy defines out-of-range shifts as PyTorch does (all bits shifted out).
        return _make(xp.asarray(ufunc(x, y)))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer tensors."
    return nondifferentiable(fn)


bitwise_left_shift = _shift("bitwise_left_shift", xp.left_shift, "lshift_cpu")
bitwise_right_shift = _shift("bitwise_right_shift", xp.right_shift, "rshift_cpu")


@tensor_method()
@nondifferentiable
def bitwise_not(input: Tensor) -> Tensor:
    """Elementwise bitwise NOT (logical NOT for bool)."""
    a = input._data
    if a.dtype.kind in "fc":
        raise _not_implemented("bitwise_not_cpu", a.dtype)
    return _make(xp.invert(a))


def _invert(self: Tensor) -> Tensor:
    if self._data.dtype.kind in "fc":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(self)


# -- comparisons returning Python bools -------------------------------------------------------
def _same_dtype(input: Tensor, other: Tensor) -> None:
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{_type_name(input._data.dtype)} did not match "
                           f"{_type_name(other._data.dtype)}")


@tensor_method()
@nondifferentiable
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|`` (inf equal to itself)."""
    _same_dtype(input, other)
    return _make(xp.asarray(xp.isclose(input._data, other._data, rtol=rtol, atol=atol,
                                       equal_nan=equal_nan)))


@tensor_method()
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@tensor_method()
def equal(input: Tensor, other: Tensor) -> bool:
    """Whether both tensors have the same shape and elements."""
    if input._data.shape != other._data.shape:
        return False
    x, y = operands(input, other)
    return bool(xp.array_equal(x, y))


# -- Tensor methods, operators and in-place twins ---------------------------------------------
for _name in ("logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
              "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
    tensor_method(_name)(globals()[_name])

register_inplace("logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and",
                 "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
                 "bitwise_right_shift")


def reflected(fn):
    """``other OP self`` for a binary operator's ``__rOP__``."""
    return lambda self, other: fn(other, self)


def set_operator(op: str, fn) -> None:
    """``Tensor.__op__``, ``__rop__`` and ``__iop__`` (through the in-place twin ``fn_``)."""
    setattr(Tensor, f"__{op}__", fn)
    setattr(Tensor, f"__r{op}__", reflected(fn))
    setattr(Tensor, f"__i{op}__", getattr(Tensor, fn.__name__ + "_"))


for _op, _fn in (("and", bitwise_and), ("or", bitwise_or), ("xor", bitwise_xor),
                 ("lshift", bitwise_left_shift), ("rshift", bitwise_right_shift)):
    set_operator(_op, _fn)
Tensor.__invert__ = _invert
