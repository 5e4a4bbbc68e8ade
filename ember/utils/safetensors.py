"""``ember.utils.safetensors``: read and write ``.safetensors`` files (the ``safetensors``
package's ``torch`` API, for ember tensors).

Files written here load in PyTorch through ``safetensors.torch.load_file`` and the reverse,
so ``model.state_dict()`` moves between ember and PyTorch. Reading validates the header
(dtypes, shapes, byte ranges covering the data exactly) against the file's size before it
reads the data, so memory stays bounded by the data really in the file.
BF16 tensors load as float32 (exactly: ember has no bfloat16 storage); complex128 has no
safetensors dtype and is refused. Non-contiguous tensors are written contiguously.
"""

from __future__ import annotations

import os

from .._serialization import CheckpointError, _array_of, _layout, _write_to, parse
from .._serialization._format import Source, read_safetensors
from .._tensor import Tensor, _make

__all__ = ["save_file", "load_file", "save", "load", "CheckpointError"]


def _arrays(tensors: dict[str, Tensor]) -> dict:
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of str to Tensor, got {type(tensors).__name__}")
    out = {}
    for k, t in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"tensor names must be str, got {type(k).__name__} ({k!r})")
        if k == "__metadata__":
            raise ValueError("'__metadata__' is reserved and cannot name a tensor")
        if not isinstance(t, Tensor):
            raise TypeError(f"value of {k!r} is a {type(t).__name__}, not a Tensor")
        out[k] = _array_of(t)
    return out


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors image of ``tensors`` (with optional str-to-str ``metadata``)."""
    header, arrays = _layout(_arrays(tensors), metadata)
    return header + b"".join(a.tobytes() for a in arrays)


def save_file(tensors: dict[str, Tensor], filename: str | os.PathLike,
              metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to ``filename`` atomically (temporary file, fsync, rename)."""
    header, arrays = _layout(_arrays(tensors), metadata)
    _write_to(os.fspath(filename), header, arrays)


def load(data: bytes) -> dict[str, Tensor]:
    """The tensors of a safetensors image, in file order."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    arrays, _ = parse(bytearray(data), "<bytes>")
    return {k: _make(a) for k, a in arrays.items()}


def load_file(filename: str | os.PathLike, device: str = "cpu") -> dict[str, Tensor]:
    """The tensors of the safetensors file ``filename``, in file order."""
    if str(device) != "cpu":
        raise RuntimeError(f"ember tensors live on the CPU; cannot load to device {device!r}")
    src = Source(os.fspath(filename))
    try:
        arrays, _ = read_safetensors(src, src.read(8))
    finally:
        src.close()
    return {k: _make(a) for k, a in arrays.items()}

