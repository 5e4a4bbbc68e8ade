"""Collectives on picklable Python objects (pickled to bytes, moved by MPI)."""

from __future__ import annotations

import pickle
import time

from .._backend import xp
from ._mpi import mpi
from ._types import DistBackendError
from ._world import ProcessGroup, check_notices, wait_requests
from .distributed_c10d import _agree, _group, _peer, _root

_P2P_TAG = 0x5EED

__all__ = ["broadcast_object_list", "all_gather_object", "gather_object",
           "scatter_object_list", "send_object_list", "recv_object_list"]


def _bytes(obj):
    return xp.frombuffer(pickle.dumps(obj), dtype=xp.uint8)


def _gather_bytes(pg: ProcessGroup, data, root: int | None, what: str) -> list:
    """Every rank's byte array (at ``root`` only, or everywhere when root is None)."""
    comm = pg._comm
    n = pg.size()
    size = xp.asarray([data.size], dtype=xp.int64)
    sizes = xp.empty(n, dtype=xp.int64)
    wait_requests([comm.Iallgather(size, sizes)], pg, what)
    counts = [int(s) for s in sizes]
    displ = [sum(counts[:i]) for i in range(n)]
    out = xp.empty(sum(counts), dtype=xp.uint8)
    if root is None:
        req = comm.Iallgatherv(data, [out, (counts, displ)])
    else:
        req = comm.Igatherv(data, [out, (counts, displ)] if pg.rank() == root else None, root)
    wait_requests([req], pg, what)
    return [out[d:d + c] for d, c in zip(displ, counts)]


def broadcast_object_list(object_list: list, src: int | None = None, group=None, device=None,
                          group_src: int | None = None) -> None:
    """Replace ``object_list``'s entries on every rank by those of rank ``src``."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    _agree(pg, "broadcast_object_list", None, (root, len(object_list)))
    comm = pg._comm
    data = _bytes(list(object_list)) if pg.rank() == root else None
    size = xp.asarray([data.size if data is not None else 0], dtype=xp.int64)
    wait_requests([comm.Ibcast(size, root)], pg, "broadcast_object_list")
    if data is None:
        data = xp.empty(int(size[0]), dtype=xp.uint8)
    wait_requests([comm.Ibcast(data, root)], pg, "broadcast_object_list")
    if pg.rank() != root:
        object_list[:] = pickle.loads(data.tobytes())


def all_gather_object(object_list: list, obj, group=None) -> None:
    """Fill ``object_list`` (one entry per rank) with every rank's ``obj``."""
    pg = _group(group)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: expected a list of {pg.size()} entries, got "
                         f"{len(object_list)}")
    _agree(pg, "all_gather_object", None)
    parts = _gather_bytes(pg, _bytes(obj), None, "all_gather_object")
    for i, p in enumerate(parts):
        object_list[i] = pickle.loads(p.tobytes())


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group=None, group_dst: int | None = None) -> None:
    """Gather every rank's ``obj`` into ``object_gather_list`` on rank ``dst``."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, dst, group_dst, "dst")
    _agree(pg, "gather_object", None, (root,))
    parts = _gather_bytes(pg, _bytes(obj), root, "gather_object")
    if pg.rank() == root:
        for i, p in enumerate(parts):
            object_gather_list[i] = pickle.loads(p.tobytes())


def scatter_object_list(scatter_object_output_list: list, scatter_object_input_list=None,
                        src: int | None = None, group=None, group_src: int | None = None):
    """Give rank ``i`` the entry ``i`` of rank ``src``'s input list (in its output list's
    first entry)."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    holder = [list(scatter_object_input_list) if pg.rank() == root else None]
    broadcast_object_list(holder, group_src=root, group=pg)
    scatter_object_output_list[0] = holder[0][pg.rank()]


def send_object_list(object_list: list, dst: int | None = None, group=None, device=None,
                     group_dst: int | None = None) -> None:
    """Send ``object_list`` to rank ``dst`` (received by ``recv_object_list``)."""
    pg = _group(group)
    if pg is None:
        return
    peer = _peer(pg, dst, group_dst, "dst")
    req = pg._comm.isend(list(object_list), dest=peer, tag=_P2P_TAG)
    wait_requests([req], pg, "send_object_list")


def recv_object_list(object_list: list, src: int | None = None, group=None, device=None,
                     group_src: int | None = None) -> int:
    """Fill ``object_list`` with the objects a ``send_object_list`` sent; returns the
    sender's rank."""
    pg = _group(group)
    if pg is None:
        return -1
    MPI = mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else \
        _peer(pg, src, group_src, "src")
    status = MPI.Status()
    deadline = time.monotonic() + pg._timeout.total_seconds()
    while not pg._comm.Iprobe(source=peer, tag=_P2P_TAG, status=status):
        check_notices()
        if time.monotonic() > deadline:
            raise DistBackendError(f"recv_object_list timed out after "
                                   f"{pg._timeout.total_seconds() * 1000:.0f} ms")
        time.sleep(1e-4)
    sender = status.Get_source()
    object_list[:] = pg._comm.recv(source=sender, tag=_P2P_TAG)
    return pg._ranks[sender]
