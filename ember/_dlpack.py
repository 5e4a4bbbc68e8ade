"""The DLPack protocol: tensors move to and from PyTorch, JAX, NumPy (any DLPack library)
without copying.

``Tensor.__dlpack__``/``__dlpack_device__`` (attached to ``ember.Tensor`` on import) export
the backing NumPy array through NumPy's own DLPack support; :func:`from_dlpack` imports any
object exporting the protocol (or a legacy ``dltensor`` capsule) through ``numpy.from_dlpack``.
Either way the result shares memory with its source.
"""

from __future__ import annotations

from typing import Any

from . import _dtype
from ._backend import xp
from ._tensor import Tensor, _make, device

__all__ = ["from_dlpack"]


def _tensor_dlpack(self: Tensor, *, stream: Any = None, max_version: tuple[int, int] | None = None,
                   dl_device: tuple[int, int] | None = None, copy: bool | None = None):
    """Export as a DLPack capsule sharing this tensor's memory (consumed by ``from_dlpack``)."""
    if self._requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kwargs = {}
    # Pass only what the consumer set, so NumPy versions without a keyword still work.
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    return self._data.__dlpack__(stream=stream, **kwargs)


def _tensor_dlpack_device(self: Tensor) -> tuple[int, int]:
    """``(device_type, device_id)`` in DLPack's codes: ``(1, 0)``, the CPU."""
    return self._data.__dlpack_device__()


Tensor.__dlpack__ = _tensor_dlpack
Tensor.__dlpack_device__ = _tensor_dlpack_device


class _Capsule:
    """Presents a bare DLPack capsule (``torch.utils.dlpack.to_dlpack``'s result) as an
    exporter, which is the only form ``numpy.from_dlpack`` takes."""

    def __init__(self, capsule) -> None:
        self._capsule = capsule

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # a capsule is only consumable here if it is on the CPU


def from_dlpack(ext_tensor: Any, *, device: str | device | None = None,
                copy: bool | None = None) -> Tensor:
    """A tensor sharing memory with ``ext_tensor``: any object with ``__dlpack__`` (a PyTorch
    or JAX array on the CPU, a NumPy array, an ember tensor) or a DLPack capsule.

    ``copy=True`` copies instead; ``copy=False`` refuses to copy. ember computes on the CPU,
    so ``device`` may only name it, and arrays on other devices are refused.
    """
    if device is not None and _device(device).type != "cpu":
        raise RuntimeError(f"ember tensors live on the CPU; from_dlpack cannot place one on "
                           f"{device}")
    if not hasattr(ext_tensor, "__dlpack__"):
        if type(ext_tensor).__name__ != "PyCapsule":
            raise TypeError(f"from_dlpack expects an object with __dlpack__ or a DLPack "
                            f"capsule, got {type(ext_tensor).__name__}")
        ext_tensor = _Capsule(ext_tensor)
    array = xp.from_dlpack(ext_tensor, copy=copy) if copy is not None else xp.from_dlpack(
        ext_tensor)
    _dtype.from_numpy_dtype(array.dtype)  # a dtype ember has no name for raises TypeError
    return _make(array)


_device = device
