"""Padding layers: constant/zero, reflection, replication and circular, 1-d to 3-d."""

from __future__ import annotations

from ..._tensor import Tensor
from .._functional.padding import pad
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


def _expand(padding, n: int) -> tuple:
    """An int pads every side; a tuple gives ``(left, right, top, bottom, ...)``."""
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(padding)
    if len(padding) != 2 * n:
        raise ValueError(f"expected padding to be a single integer value or a list of "
                         f"{2 * n} values, but got {len(padding)}")
    return padding


class _Pad(Module):
    _n = 1
    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _expand(padding, self._n)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(Module):
    _n = 1

    def __init__(self, padding, value: float) -> None:
        super().__init__()
        self.padding = _expand(padding, self._n)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _make(base, n: int, name: str, doc: str, mode: str | None = None):
    attrs = {"_n": n, "__doc__": doc, "__module__": __name__, "__qualname__": name}
    if mode is not None:
        attrs["_mode"] = mode
    return type(name, (base,), attrs)


ConstantPad1d = _make(_ConstantPad, 1, "ConstantPad1d", "Pad the last dim with a constant.")
ConstantPad2d = _make(_ConstantPad, 2, "ConstantPad2d", "Pad the last 2 dims with a constant.")
ConstantPad3d = _make(_ConstantPad, 3, "ConstantPad3d", "Pad the last 3 dims with a constant.")
ZeroPad1d = _make(_ZeroPad, 1, "ZeroPad1d", "Pad the last dim with zeros.")
ZeroPad2d = _make(_ZeroPad, 2, "ZeroPad2d", "Pad the last 2 dims with zeros.")
ZeroPad3d = _make(_ZeroPad, 3, "ZeroPad3d", "Pad the last 3 dims with zeros.")
ReflectionPad1d = _make(_Pad, 1, "ReflectionPad1d", "Mirror-pad the last dim.", "reflect")
ReflectionPad2d = _make(_Pad, 2, "ReflectionPad2d", "Mirror-pad the last 2 dims.", "reflect")
ReflectionPad3d = _make(_Pad, 3, "ReflectionPad3d", "Mirror-pad the last 3 dims.", "reflect")
ReplicationPad1d = _make(_Pad, 1, "ReplicationPad1d", "Edge-pad the last dim.", "replicate")
ReplicationPad2d = _make(_Pad, 2, "ReplicationPad2d", "Edge-pad the last 2 dims.", "replicate")
ReplicationPad3d = _make(_Pad, 3, "ReplicationPad3d", "Edge-pad the last 3 dims.", "replicate")
CircularPad1d = _make(_Pad, 1, "CircularPad1d", "Wrap-pad the last dim.", "circular")
CircularPad2d = _make(_Pad, 2, "CircularPad2d", "Wrap-pad the last 2 dims.", "circular")
CircularPad3d = _make(_Pad, 3, "CircularPad3d", "Wrap-pad the last 3 dims.", "circular")
