"""``make_tensor``: a random tensor of a given shape and dtype for tests, drawn from the
default generator exactly as ``torch.testing.make_tensor`` draws it."""

from __future__ import annotations

import collections.abc
import math
import warnings

import ember

from .._backend import xp
from .._tensor import Tensor

__all__ = ["make_tensor"]

_FLOATING = ("float16", "bfloat16", "float32", "float64")
_COMPLEX = ("complex32", "complex64", "complex128")


def _bounds(dtype):
    """[lowest, highest) a dtype holds: finite float range, integer range (int64's top is
    inclusive in torch's table, hence no +1)."""
    name = dtype.name
    if name == "bool":
        return 0, 2
    if name in _FLOATING or name in _COMPLEX:
        np_dt = xp.float32 if name == "bfloat16" else dtype.np
        if name == "bfloat16":
            return -3.3895313892515355e38, 3.3895313892515355e38
        fi = xp.finfo(np_dt)
        return float(fi.min), float(fi.max)
    ii = xp.iinfo(dtype.np)
    return int(ii.min), int(ii.max) + (0 if name == "int64" else 1)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A tensor of ``shape`` and ``dtype`` filled with values uniformly drawn from
    ``[low, high)`` (defaults: bool [0, 2), unsigned [0, 10), signed [-9, 10),
    floating [-9, 9)); bounds outside the dtype's range are clamped.

    Args:
        shape: ints, or one sequence of ints.
        dtype: the dtype (keyword-only, required).
        device: accepted for compatibility (ember runs on the CPU).
        low, high: the value range.
        requires_grad: floating dtypes only.
        noncontiguous: return a non-contiguous view (when there are 2+ elements).
        exclude_zero: replace zeros by 1 (integers, bool) or the dtype's tiny (floats).

    Example::

        >>> make_tensor((3,), dtype=ember.float32, device="cpu", low=-1, high=1)
    """
    name = dtype.name
    integral = name == "bool" or (name not in _FLOATING and name not in _COMPLEX)
    if name.startswith("float8") or name.startswith("q") or name in ("complex32",):
        raise TypeError(f"The requested dtype '{dtype}' is not supported by "
                        "torch.testing.make_tensor(). To request support, file an issue at: "
                        "https://github.com/pytorch/pytorch/issues")
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous!r} and "
                         f"memory_format={memory_format!r}")
    if requires_grad and integral:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])

    lowest, highest = _bounds(dtype)
    if name == "bool":
        default = (0, 2)
    elif integral:
        default = (-9, 10)          # unsigned dtypes clamp -9 up to 0
    else:
        default = (-9, 9)
    low = default[0] if low is None else low
    high = default[1] if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and not integral:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. "
                      "Use `torch.full(...)` instead.", FutureWarning, stacklevel=2)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, "
                         f"{high}), but {dtype} only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)

    if integral:
        result = ember.randint(math.ceil(low), math.ceil(high), shape, dtype=dtype)
    else:
        result = ember.empty(shape, dtype=dtype)
        if high - low >= _bounds(dtype)[1]:      # the span overflows: draw half, double it
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        if integral:
            result[result == 0] = 1
        else:
            result[result == 0] = float(xp.finfo(xp.float32 if name == "bfloat16"
                                                 else dtype.np).tiny)
    if not integral:
        result.requires_grad = requires_grad
    return result
