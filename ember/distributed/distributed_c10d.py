"""Collectives and point-to-point operations on tensors, with PyTorch's signatures.

Each call first exchanges a small signature (which collective, dtype, shape) among the
group's ranks, so a collective called with mismatched shapes, or different collectives on
different ranks, raises the same ``RuntimeError`` on every rank instead of corrupting data or
hanging. The data then moves with a non-blocking MPI call; ``async_op=True`` returns its
``Work``, otherwise the call waits (bounded by the group's timeout).
"""

from __future__ import annotations

import zlib

from .._backend import xp
from .._tensor import Tensor
from ._mpi import mpi
from ._types import ReduceOp
from ._work import Work
from ._world import ProcessGroup, _default, get_group_rank, not_member

__all__ = ["all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "gather", "scatter", "reduce_scatter", "reduce_scatter_tensor", "all_to_all",
           "all_to_all_single", "barrier", "monitored_barrier", "send", "recv", "isend",
           "irecv", "P2POp", "batch_isend_irecv"]

_SIG = 16   # ints in a collective's signature: kind, dtype, ndim, shape...


# -- helpers ---------------------------------------------------------------------------------

def _group(group) -> ProcessGroup | None:
    """The group to use, or None when this rank is not a member (the call is then a no-op)."""
    if not_member(group):
        return None
    return _default() if group is None else group


def _root(pg: ProcessGroup, rank, group_rank, name: str) -> int:
    """The group rank of a ``src``/``dst`` given as a global rank or a group rank."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"Can not specify both {name} and group_{name}")
        r = group_rank
    else:
        r = get_group_rank(pg, 0 if rank is None else rank)
    if not 0 <= r < pg.size():
        raise RuntimeError(f"invalid root rank: {r}")
    return r


def _check_tensor(t, name: str = "tensor") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"torch.Tensor\n             but got {type(t)} instead.")


def _buffer(t: Tensor):
    """A C-contiguous array MPI can work on: the tensor's own storage when possible."""
    a = t._data
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        return xp.ascontiguousarray(a, dtype=xp.float32)     # MPI has no portable half
    if a.flags.c_contiguous and a.flags.writeable:
        return a
    return xp.ascontiguousarray(a).copy()


def _store(t: Tensor, arr) -> None:
    """Make ``arr`` the tensor's value (in place, as PyTorch's collectives do)."""
    a = t._data
    if arr is not a:
        a[...] = arr.reshape(a.shape).astype(a.dtype, copy=False)
    t._bump_version()


def _mpi_op(op, dtype):
    MPI = mpi()
    red = op.op if isinstance(op, ReduceOp) else op
    name = getattr(red, "name", None)
    if name is None or name == "PREMUL_SUM":
        raise ValueError(f"Unsupported ReduceOp {op}")
    if dtype.kind == "b":
        return {"SUM": MPI.LOR, "AVG": MPI.LOR, "MAX": MPI.LOR, "BOR": MPI.LOR,
                "PRODUCT": MPI.LAND, "MIN": MPI.LAND, "BAND": MPI.LAND,
                "BXOR": MPI.LXOR}[name]
    if name in ("BAND", "BOR", "BXOR") and dtype.kind not in "iu":
        raise RuntimeError(f"Cannot use ReduceOp.{name} with non-integral dtype")
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN,
            "MAX": MPI.MAX, "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[name]


def _is_avg(op) -> bool:
    red = op.op if isinstance(op, ReduceOp) else op
    return getattr(red, "name", None) == "AVG"


def _signature(kind: str, t: Tensor | None, extra: tuple = ()) -> list[int]:
    sig = [zlib.crc32(kind.encode()) & 0x7FFFFFFF]
    if t is None:
        sig += [-1, -1]
    else:
        sig += [zlib.crc32(t._data.dtype.str.encode()) & 0x7FFFFFFF, t._data.ndim]
        sig += list(t._data.shape)[:_SIG - 3]
    sig += list(extra)
    return (sig + [-2] * _SIG)[:_SIG]


def _describe(row) -> str:
    ndim = int(row[2])
    if ndim < 0:
        return "no tensor"
    return "shape " + str([int(s) for s in row[3:3 + ndim]])


def _agree(pg: ProcessGroup, kind: str, t: Tensor | None, extra: tuple = ()) -> None:
    """Raise the same error on every rank unless all ranks call ``kind`` on like tensors."""
    if pg.size() == 1:
        return
    from ._world import wait_requests
    mine = xp.asarray(_signature(kind, t, extra), dtype=xp.int64)
    rows = xp.empty((pg.size(), _SIG), dtype=xp.int64)
    wait_requests([pg._comm.Iallgather(mine, rows)], pg, kind)
    if (rows == rows[0]).all():
        return
    if (rows[:, 0] != rows[0, 0]).any():
        raise RuntimeError(f"{kind}: the ranks of group {pg._ranks} called different "
                           f"collectives at the same point")
    if (rows[:, 1] != rows[0, 1]).any():
        raise RuntimeError(f"{kind}: the ranks' tensors have different dtypes")
    per_rank = ", ".join(f"rank {pg._ranks[r]}: {_describe(rows[r])}"
                         for r in range(pg.size()))
    raise RuntimeError(f"{kind}: the ranks' tensors do not match ({per_rank})")


def _agree_counts(pg: ProcessGroup, kind: str, scounts: list, rcounts: list) -> None:
    """Check that what each rank sends to each other rank is what that rank expects; raise
    on every rank if not."""
    from ._world import wait_requests
    MPI = mpi()
    sent = xp.asarray(scounts, dtype=xp.int64)
    arriving = xp.empty_like(sent)
    wait_requests([pg._comm.Ialltoall(sent, arriving)], pg, kind)
    bad = xp.asarray([int((arriving != xp.asarray(rcounts)).any())], dtype=xp.int64)
    wait_requests([pg._comm.Iallreduce(MPI.IN_PLACE, bad, MPI.MAX)], pg, kind)
    if bad[0]:
        raise RuntimeError(f"{kind}: the sizes the ranks send do not match the sizes the "
                           f"receiving ranks expect (rank {pg._ranks[pg.rank()]} expects "
                           f"{list(rcounts)} elements, is sent {arriving.tolist()})")


def _run(reqs: list, pg: ProcessGroup, what: str, finish, async_op: bool, result=None):
    work = Work(reqs, pg, what, finish, result)
    if async_op:
        return work
    work.wait()
    return None


# -- collectives -----------------------------------------------------------------------------

def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across all ranks in place, so every rank ends with the result.

    Example::

        t = ember.tensor([1., 2.]) * (dist.get_rank() + 1)
        dist.all_reduce(t)                     # on 2 ranks: tensor([3., 6.]) everywhere
    """
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    _agree(pg, "all_reduce", tensor)
    buf = _buffer(tensor)
    mop = _mpi_op(op, buf.dtype)
    req = pg._comm.Iallreduce(mpi().IN_PLACE, buf, mop)

    def finish():
        _store(tensor, _averaged(buf, pg, op))
    return _run([req], pg, "all_reduce", finish, async_op, [tensor])


def _averaged(buf, pg: ProcessGroup, op):
    if not _is_avg(op) or buf.dtype.kind == "b":
        return buf
    if buf.dtype.kind in "iu":
        return buf // pg.size()
    buf /= pg.size()
    return buf


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group=None,
           async_op: bool = False, group_dst: int | None = None):
    """Reduce ``tensor`` across all ranks into rank ``dst``'s tensor."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    _agree(pg, "reduce", tensor, (root,))
    buf = _buffer(tensor)
    MPI = mpi()
    mop = _mpi_op(op, buf.dtype)
    if pg.rank() == root:
        req = pg._comm.Ireduce(MPI.IN_PLACE, buf, mop, root)
    else:
        req = pg._comm.Ireduce(buf, None, mop, root)

    def finish():
        if pg.rank() == root:
            _store(tensor, _averaged(buf, pg, op))
    return _run([req], pg, "reduce", finish, async_op, [tensor])


def broadcast(tensor: Tensor, src: int | None = None, group=None, async_op: bool = False,
              group_src: int | None = None):
    """Copy rank ``src``'s tensor into ``tensor`` on every rank."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    _agree(pg, "broadcast", tensor, (root,))
    buf = _buffer(tensor)
    req = pg._comm.Ibcast(buf, root)

    def finish():
        if pg.rank() != root:
            _store(tensor, buf)
    return _run([req], pg, "broadcast", finish, async_op, [tensor])


def _check_list(tensors: list, like: Tensor, n: int, what: str) -> None:
    if len(tensors) != n:
        raise RuntimeError(f"{what}: invalid output tensor list at index 0 (expected length "
                           f"{n}, got {len(tensors)})")
    for i, t in enumerate(tensors):
        _check_tensor(t, "tensor_list")
        if tuple(t.shape) != tuple(like.shape):
            raise RuntimeError(f"{what}: invalid tensor size at index {i} (expected "
                               f"{tuple(like.shape)}, got {tuple(t.shape)})")
        if t._data.dtype != like._data.dtype:
            raise RuntimeError(f"{what}: invalid tensor type at index {i} (expected "
                               f"{like.dtype}, got {t.dtype})")


def _stacked(like: Tensor, n: int):
    a = _buffer(like)
    return xp.empty((n,) + a.shape, dtype=a.dtype)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Gather every rank's ``tensor`` into ``tensor_list`` (one entry per rank) on all ranks."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    _check_list(tensor_list, tensor, pg.size(), "all_gather")
    _agree(pg, "all_gather", tensor)
    send = _buffer(tensor)
    recv = _stacked(tensor, pg.size())
    req = pg._comm.Iallgather(send, recv)

    def finish():
        for t, part in zip(tensor_list, recv):
            _store(t, part)
    return _run([req], pg, "all_gather", finish, async_op, tensor_list)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None,
                           async_op: bool = False):
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated along dim 0
    (or stacked, when ``output_tensor`` has shape ``(world_size, *input.shape)``)."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _group(group)
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise ValueError("output tensor size must be equal to world_size times input tensor "
                         "size")
    if output_tensor.dtype != input_tensor.dtype:
        raise ValueError("output tensor must have the same type as input tensor")
    _agree(pg, "all_gather_into_tensor", input_tensor)
    send = _buffer(input_tensor)
    recv = _stacked(input_tensor, pg.size())
    req = pg._comm.Iallgather(send, recv)
    return _run([req], pg, "all_gather_into_tensor", lambda: _store(output_tensor, recv),
                async_op, [output_tensor])


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group=None, async_op: bool = False, group_dst: int | None = None):
    """Gather every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    is_root = pg.rank() == root
    if is_root:
        _check_list(gather_list or [], tensor, pg.size(), "gather")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    _agree(pg, "gather", tensor, (root,))
    send = _buffer(tensor)
    recv = _stacked(tensor, pg.size()) if is_root else None
    req = pg._comm.Igather(send, recv, root)

    def finish():
        if is_root:
            for t, part in zip(gather_list, recv):
                _store(t, part)
    return _run([req], pg, "gather", finish, async_op, gather_list or [])


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group=None, async_op: bool = False, group_src: int | None = None):
    """Send ``scatter_list[i]`` of rank ``src`` to rank ``i``'s ``tensor``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    is_root = pg.rank() == root
    if is_root:
        _check_list(scatter_list or [], tensor, pg.size(), "scatter")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _agree(pg, "scatter", tensor, (root,))
    send = xp.stack([_buffer(t) for t in scatter_list]) if is_root else None
    recv = _buffer(tensor)
    if recv is tensor._data:
        recv = xp.empty_like(recv)      # the root's own tensor may be in scatter_list
    req = pg._comm.Iscatter(send, recv, root)
    return _run([req], pg, "scatter", lambda: _store(tensor, recv), async_op, [tensor])


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None,
                   async_op: bool = False):
    """Reduce ``input_list[i]`` across ranks into rank ``i``'s ``output``."""
    _check_tensor(output, "output")
    pg = _group(group)
    if pg is None:
        return None
    _check_list(input_list, output, pg.size(), "reduce_scatter")
    _agree(pg, "reduce_scatter", output)
    send = xp.stack([_buffer(t) for t in input_list])
    return _reduce_scatter(pg, send, output, op, "reduce_scatter", async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group=None,
                          async_op: bool = False):
    """Reduce ``input`` across ranks and give rank ``i`` the ``i``-th chunk along dim 0."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _group(group)
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size():
        raise ValueError("input tensor must be the same size as output size times world size")
    _agree(pg, "reduce_scatter_tensor", output)
    send = _buffer(input).reshape(pg.size(), -1)
    return _reduce_scatter(pg, send, output, op, "reduce_scatter_tensor", async_op)


def _reduce_scatter(pg, send, output, op, what, async_op):
    recv = xp.empty(send.shape[1:], dtype=send.dtype)
    req = pg._comm.Ireduce_scatter_block(xp.ascontiguousarray(send), recv,
                                         _mpi_op(op, send.dtype))
    return _run([req], pg, what, lambda: _store(output, _averaged(recv, pg, op)), async_op,
                [output])


def all_to_all(output_tensor_list: list, input_tensor_list: list, group=None,
               async_op: bool = False):
    """Send ``input_tensor_list[i]`` to rank ``i``; receive rank ``i``'s into
    ``output_tensor_list[i]`` (the sizes may differ between pairs)."""
    pg = _group(group)
    if pg is None:
        return None
    n = pg.size()
    if len(input_tensor_list) != n or len(output_tensor_list) != n:
        raise ValueError(f"all_to_all: expected lists of {n} tensors (one per rank)")
    dtype = _buffer(input_tensor_list[0]).dtype
    send = xp.concatenate([_buffer(t).reshape(-1).astype(dtype) for t in input_tensor_list])
    rcounts = [t.numel() for t in output_tensor_list]
    recv = xp.empty(sum(rcounts), dtype=dtype)

    def finish():
        start = 0
        for t, c in zip(output_tensor_list, rcounts):
            _store(t, recv[start:start + c])
            start += c
    scounts = [t.numel() for t in input_tensor_list]
    return _alltoallv(pg, send, scounts, recv, rcounts, finish, "all_to_all", async_op,
                      output_tensor_list)


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None,
                      input_split_sizes=None, group=None, async_op: bool = False):
    """Split ``input`` along dim 0, send piece ``i`` to rank ``i``, and concatenate what
    arrives into ``output`` (equal pieces unless split sizes are given)."""
    pg = _group(group)
    if pg is None:
        return None
    n = pg.size()
    row_in = input[0].numel() if input.ndim and input.shape[0] else 1
    row_out = output[0].numel() if output.ndim and output.shape[0] else 1
    ins = list(input_split_sizes) if input_split_sizes else [input.shape[0] // n] * n
    outs = list(output_split_sizes) if output_split_sizes else [output.shape[0] // n] * n
    send = _buffer(input).reshape(-1)
    recv = xp.empty(output.numel(), dtype=send.dtype)
    return _alltoallv(pg, send, [s * row_in for s in ins], recv, [s * row_out for s in outs],
                      lambda: _store(output, recv), "all_to_all_single", async_op, [output])


def _alltoallv(pg, send, scounts, recv, rcounts, finish, what, async_op, result):
    _agree(pg, what, None, (zlib.crc32(send.dtype.str.encode()) & 0x7FFFFFFF,))
    _agree_counts(pg, what, scounts, rcounts)
    sdispl = [sum(scounts[:i]) for i in range(len(scounts))]
    rdispl = [sum(rcounts[:i]) for i in range(len(rcounts))]
    req = pg._comm.Ialltoallv([send, (scounts, sdispl)], [recv, (rcounts, rdispl)])
    return _run([req], pg, what, finish, async_op, result)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group has reached this call."""
    pg = _group(group)
    if pg is None:
        return None
    return _run([pg._comm.Ibarrier()], pg, "barrier", None, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks: bool = False) -> None:
    """A barrier bounded by ``timeout`` (the group's by default)."""
    pg = _group(group)
    if pg is None:
        return None
    Work([pg._comm.Ibarrier()], pg, "monitored_barrier").wait(timeout)


# -- point to point --------------------------------------------------------------------------

def _peer(pg: ProcessGroup, rank, group_rank, name: str) -> int:
    r = _root(pg, rank, group_rank, name)
    if r == pg.rank():
        which = "destination" if name == "dst" else "source"
        raise ValueError(f"Invalid {which} rank: {which} rank should not be the same as the "
                         f"rank of the current process.")
    return r


def isend(tensor: Tensor, dst: int | None = None, group=None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Send ``tensor`` to rank ``dst`` without waiting; returns a ``Work``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    peer = _peer(pg, dst, group_dst, "dst")
    buf = xp.ascontiguousarray(tensor._data).copy()     # later writes must not race the send
    return Work([pg._comm.Isend(buf, peer, tag)], pg, "send")


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns a ``Work``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    MPI = mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else \
        _peer(pg, src, group_src, "src")
    buf = _buffer(tensor)
    status = MPI.Status()
    work = Work([pg._comm.Irecv(buf, peer, tag)], pg, "recv", None, [tensor], [status])

    def finish():
        work._source = pg._ranks[status.Get_source()]
        got = status.Get_count(MPI.BYTE)
        if got != buf.nbytes:
            raise RuntimeError(f"recv: expected {buf.nbytes} bytes from rank {work._source}, "
                               f"it sent {got}")
        _store(tensor, buf)
    work._finish = finish
    return work


def send(tensor: Tensor, dst: int | None = None, group=None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is sent."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's
    rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work._source


class P2POp:
    """One operation of ``batch_isend_irecv``: ``P2POp(dist.isend, tensor, peer)``."""

    def __init__(self, op, tensor: Tensor, peer: int | None = None, group=None, tag: int = 0,
                 group_peer: int | None = None) -> None:
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``torch.distributed.isend`` or ``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag = op, tensor, peer, group, tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list: list) -> list:
    """Start every send and receive of the list; returns their ``Work`` handles."""
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]

