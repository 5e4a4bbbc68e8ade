"""``set_default_device``/``get_default_device`` as PyTorch's CPU-only build has them.

ember creates every tensor on the CPU. The default device is recorded and read back; a CUDA
default is accepted (as torch accepts it) but asking for the current CUDA device raises the
CPU build's error, as torch's ``get_default_device()`` does.
"""

from __future__ import annotations

from typing import Any

from ._tensor import device

__all__ = ["set_default_device", "get_default_device"]

_default: list = [None]


def set_default_device(device: Any) -> None:
    """Set the device new tensors are meant for (``None`` resets it to the CPU)."""
    _default[0] = None if device is None else _as_device(device)


def get_default_device() -> device:
    """The default device of new tensors (``device('cpu')`` unless changed)."""
    d = _default[0]
    if d is None:
        return device("cpu")
    if d.type == "cuda" and d.index is None:
        from .cuda import current_device
        current_device()  # raises: a CPU build has no current CUDA device
    return d


def _as_device(value: Any) -> device:
    if isinstance(value, int) and not isinstance(value, bool):  # an accelerator index
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return value if isinstance(value, device) else device(value)
