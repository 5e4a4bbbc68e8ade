"""The gradient reducer behind DistributedDataParallel: buckets, hooks, non-blocking MPI.

Parameters are grouped into buckets in reverse registration order (the order in which
backward usually produces their gradients) and by dtype. A hook on each parameter's
AccumulateGrad node copies the fresh gradient into its bucket; when a bucket is full it is
all-reduced with a non-blocking MPI call, so the transfer overlaps the rest of backward.
A large parameter (1 MiB or more) is a bucket of its own, reduced in place in its ``.grad``:
copying it into a bucket and back would cost two passes over memory for nothing.
Buckets start strictly in index order on every rank (MPI needs the same collective order
everywhere). When the last bucket has started, the reducer waits for all of them, averages,
and writes the result back into ``.grad``.
"""

from __future__ import annotations

from ..._backend import xp
from ...autograd.function import AccumulateGrad, _accumulator

_FIRST_BUCKET_BYTES = 1024 * 1024   # a small first bucket gets communication going early

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \n"
    "Parameter indices which did not receive grad for rank {rank}: {missing}")


_SOLO_BYTES = 1024 * 1024


class _Bucket:
    __slots__ = ("params", "offsets", "flat", "pending", "req", "buf")

    def __init__(self, params: list, dtype, solo: bool = False) -> None:
        self.params = params
        self.offsets = []
        n = 0
        for _, p in params:
            self.offsets.append(n)
            n += p.numel()
        # A solo bucket reduces its parameter's gradient array itself (no flat buffer).
        self.flat = None if solo else xp.zeros(n, dtype=dtype)
        self.pending = len(params)
        self.req = None
        self.buf = None       # what is being all-reduced


class Reducer:
    """Averages the gradients of ``params`` across the ranks of ``pg`` during backward."""

    def __init__(self, params: list, pg, bucket_bytes: int, find_unused: bool) -> None:
        from ...distributed._mpi import mpi
        self._MPI = mpi()
        self.pg = pg
        # A communicator of its own: gradient buckets never interleave with the user's
        # collectives (or SyncBatchNorm's) in MPI's per-communicator ordering.
        self.comm = pg._comm.Dup()
        self.world = pg.size()
        self.params = params
        self.find_unused = find_unused
        self.buckets, self.where = self._assign(params, bucket_bytes)
        self.armed = False          # between a synced forward and the end of its reduction
        self.started = False        # some gradient of this iteration has arrived
        self.ready = [False] * len(params)
        self.used = [True] * len(params)
        self.next_bucket = 0
        self.handles = [_accumulator(p).register_hook(self._hook(i))
                        for i, p in enumerate(params)]

    @staticmethod
    def _assign(params: list, bucket_bytes: int):
        buckets, where = [], {}
        open_: dict = {}        # dtype -> (list of (index, param), bytes so far)
        cap = min(_FIRST_BUCKET_BYTES, bucket_bytes)

        def close(dt, solo=False):
            members, _ = open_.pop(dt)
            for slot, (i, _) in enumerate(members):
                where[i] = (len(buckets), slot)
            buckets.append(_Bucket(members, dt, solo))

        for i in reversed(range(len(params))):
            p = params[i]
            dt = p._data.dtype
            if p._data.nbytes >= _SOLO_BYTES:
                if dt in open_:
                    close(dt)       # keep the launch order the gradients' order
                open_[dt] = ([(i, p)], p._data.nbytes)
                close(dt, solo=True)
                cap = bucket_bytes
                continue
            members, size = open_.setdefault(dt, ([], 0))
            members.append((i, p))
            size += p._data.nbytes
            open_[dt] = (members, size)
            if size >= cap:
                close(dt)
                cap = bucket_bytes
        for dt in list(open_):
            close(dt)
        return buckets, where

    def prepare(self, rank: int) -> None:
        """Arm the hooks for the backward of the forward that is starting."""
        if self.armed and self.started:
            missing = [i for i, r in enumerate(self.ready) if not r]
            raise RuntimeError(_UNFINISHED.format(rank=rank, missing=missing))
        self.armed = True
        self.started = False
        self.ready = [False] * len(self.params)
        self.used = [True] * len(self.params)
        self.next_bucket = 0
        for b in self.buckets:
            b.pending = len(b.params)
            b.req = None
            b.buf = None

    def disarm(self) -> None:
        """The coming backward accumulates locally (``no_sync``); a reduction already under
        way is left to fail at the next synced forward, as in PyTorch."""
        if not self.started:
            self.armed = False

    def mark_unused(self, outputs) -> None:
        """find_unused_parameters: parameters the forward's graph cannot reach are ready now."""
        reachable = _reachable_leaves(outputs)
        for i, p in enumerate(self.params):
            if id(p) not in reachable:
                self.used[i] = False
                b, slot = self.where[i]
                bucket = self.buckets[b]
                if bucket.flat is None:
                    bucket.buf = xp.zeros(p.numel(), dtype=p._data.dtype)
                else:
                    off = bucket.offsets[slot]
                    bucket.flat[off:off + p.numel()] = 0
                self._ready(i)

    def _hook(self, i: int):
        def hook(grad_inputs, grad_outputs):
            if not self.armed:
                return
            if self.ready[i]:
                raise RuntimeError(
                    f"Expected to mark a variable ready only once. This error is caused by "
                    f"one of the following reasons: 1) Use of a module parameter outside the "
                    f"`forward` function, 2) Reused parameters in multiple reentrant backward "
                    f"passes. Parameter at index {i} has been marked as ready twice.")
            p = self.params[i]
            b, slot = self.where[i]
            bucket = self.buckets[b]
            g = p.grad._data
            if bucket.flat is None:
                ok = g.flags.c_contiguous and g.flags.writeable and g.dtype == p._data.dtype
                bucket.buf = g.reshape(-1) if ok else xp.array(g, dtype=p._data.dtype).ravel()
            else:
                off = bucket.offsets[slot]
                bucket.flat[off:off + p.numel()] = g.reshape(-1)
            self._ready(i)
        return hook

    def _ready(self, i: int) -> None:
        self.started = True
        self.ready[i] = True
        b, _ = self.where[i]
        self.buckets[b].pending -= 1
        MPI = self._MPI
        # Start every bucket that is complete and whose predecessors have started.
        while self.next_bucket < len(self.buckets) and \
                self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            if bucket.flat is not None:
                bucket.buf = bucket.flat
            bucket.req = self.comm.Iallreduce(MPI.IN_PLACE, bucket.buf, MPI.SUM)
            self.next_bucket += 1
        started = [bk.req for bk in self.buckets[:self.next_bucket]]
        MPI.Request.Testall(started)   # lets MPI progress the transfers already under way
        if self.next_bucket == len(self.buckets):
            self._finish(started)

    def _finish(self, reqs: list) -> None:
        from ...distributed._world import wait_requests
        wait_requests(reqs, self.pg, "DistributedDataParallel gradient all_reduce")
        globally_used = None
        if self.find_unused:
            local = xp.asarray(self.used, dtype=xp.int32)
            globally_used = xp.empty_like(local)
            wait_requests([self.comm.Iallreduce(local, globally_used, self._MPI.SUM)],
                          self.pg, "DistributedDataParallel unused-parameter map")
        for bucket in self.buckets:
            for (i, p), off in zip(bucket.params, bucket.offsets):
                if globally_used is not None and globally_used[i] == 0:
                    continue        # unused everywhere: its .grad stays as it was
                part = bucket.buf[off:off + p.numel()].reshape(p._data.shape)
                if p.grad is None:
                    from ..._tensor import _make
                    p.grad = _make(part / self.world)
                else:
                    # Averaging and copying back in one pass (in place for a solo bucket).
                    xp.divide(part, self.world, out=p.grad._data)
                    p.grad._bump_version()
        self.armed = False

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.comm.Free()


def _reachable_leaves(outputs) -> set:
    """ids of the leaf tensors whose AccumulateGrad the outputs' graph reaches."""
    from ..._tensor import Tensor
    stack, seen, leaves = [], set(), set()

    def collect(o):
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                stack.append(o.grad_fn)
            elif o.requires_grad:
                leaves.add(id(o))
        elif isinstance(o, (list, tuple)):
            for x in o:
                collect(x)
        elif isinstance(o, dict):
            for x in o.values():
                collect(x)
    collect(outputs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        var = node.variable if type(node) is AccumulateGrad else None
        if var is not None:
            leaves.add(id(var))
        for edge in node._edges:
            if edge is not None:
                stack.append(edge[0])
    return leaves
