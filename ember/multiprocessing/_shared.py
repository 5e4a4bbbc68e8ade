"""Tensors in shared memory: ``Tensor.share_memory_()`` and how shared tensors cross
process boundaries.

A shared tensor's array lives in a file-backed mapping under ``/dev/shm`` (the temp dir where
there is none). Pickling such a tensor for another process (``Process`` arguments, queues)
sends the file's path and the array's layout, and the receiver maps the same file, so writes
on either side are seen by both. The process that shares a tensor removes the file when its
array is freed. Tensors that were never shared cross by copy, as plain pickling does.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref

from .._backend import ndarray, xp

_SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()  # noqa: S108


class _SharedMap(mmap.mmap):
    """A mapping of a shared file that remembers the file's path."""

    path: str


def _map(path: str, size: int) -> _SharedMap:
    with open(path, "r+b") as fh:
        m = _SharedMap(fh.fileno(), size)
    m.path = path
    return m


def _owner_map(a: ndarray) -> _SharedMap | None:
    """The shared mapping holding ``a``'s memory, if any."""
    base = a
    while isinstance(base, ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, _SharedMap) else None


def is_shared(a: ndarray) -> bool:
    return _owner_map(a) is not None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def share_array(a: ndarray) -> ndarray:
    """A copy of ``a`` in a new shared mapping (``a`` itself if already shared)."""
    if is_shared(a):
        return a
    size = max(a.nbytes, 1)
    fd, path = tempfile.mkstemp(prefix="ember-shm-", dir=_SHM_DIR)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    m = _map(path, size)
    out = xp.frombuffer(m, dtype=a.dtype, count=a.size).reshape(a.shape)
    out[...] = a
    weakref.finalize(out, _unlink, path)
    return out


def _rebuild_shared(path: str, size: int, offset: int, dtype: str, shape: tuple,
                    strides: tuple, requires_grad: bool):
    from .._tensor import _make
    a = ndarray(shape, dtype=dtype, buffer=_map(path, size), offset=offset, strides=strides)
    t = _make(a)
    t._requires_grad = requires_grad
    return t


def reduce_tensor(t):
    """Pickle a tensor: by shared-file handle when its memory is shared, else by value."""
    a = t._data
    m = _owner_map(a)
    if m is None:
        return t.__reduce_ex__(2)
    start = xp.frombuffer(m, dtype=xp.uint8).ctypes.data
    offset = a.ctypes.data - start
    return (_rebuild_shared, (m.path, len(m), offset, a.dtype.str, a.shape, a.strides,
                              t._requires_grad))
