"""The autocast state and the casting hook the autocast-eligible ops call first.

The state lives in a context variable (per thread and per asyncio task, as PyTorch's is per
thread). ``_CPU`` holds ``None`` while CPU autocast is off, so the hook costs one lookup on
the float32 path; while on it holds a ``_Region`` (the dtype, and the cast cache).
"""

from __future__ import annotations

from contextvars import ContextVar

from .. import _dtype
from .._tensor import Tensor

__all__ = ["lower_precision", "full_precision"]


class _Region:
    """One enabled CPU autocast state: the lower-precision dtype and the weight-cast cache."""

    __slots__ = ("dtype", "cache")

    def __init__(self, dtype: _dtype.dtype, cache: dict | None) -> None:
        self.dtype = dtype
        self.cache = cache


_CPU: ContextVar[_Region | None] = ContextVar("ember_cpu_autocast", default=None)
# PyTorch keeps a separate (always disabled on a CPU build) state per other device type.
_OFF_DEVICES = ("cuda", "xpu", "mps", "hpu", "ipu", "xla", "mtia", "privateuseone")


def _eligible(t) -> bool:
    # PyTorch's CPU rule: floating tensors other than float64 are cast.
    return isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype is not _dtype.float64


def _cast(t: Tensor, dt: _dtype.dtype, region: _Region) -> Tensor:
    if t.dtype is dt:
        return t
    cache = region.cache
    # Leaf tensors that require grad (the weights) are cast once per autocast region.
    if cache is not None and t.requires_grad and t.grad_fn is None:
        hit = cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1].dtype is dt:
            return hit[1]
        out = t.to(dt)
        cache[id(t)] = (t, out)
        return out
    return t.to(dt)


def lower_precision(*args):
    """``args`` as an op on autocast's lower-precision list computes them: eligible tensors
    cast to the autocast dtype while CPU autocast is on, unchanged otherwise."""
    region = _CPU.get()
    if region is None:
        return args
    dt = region.dtype
    return tuple(_cast(a, dt, region) if _eligible(a) else a for a in args)


def full_precision(*args):
    """``args`` as an op on autocast's float32 list computes them: eligible lower-precision
    tensors cast up to float32 while CPU autocast is on."""
    region = _CPU.get()
    if region is None:
        return args
    return tuple(_cast(a, _dtype.float32, region) if _eligible(a) else a for a in args)
