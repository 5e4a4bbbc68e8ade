"""``DistributedDataParallel``: one model replica per process, gradients averaged by MPI."""

from __future__ import annotations

import zlib
from contextlib import contextmanager

from ..._backend import xp
from ...autograd.grad_mode import is_grad_enabled
from ..modules.module import Module
from ._reducer import Reducer

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model on every rank, feed each rank its
    share of the batch, and ``backward()`` leaves every rank with the gradients averaged over
    all ranks (so the optimizers keep the replicas identical).

    At construction rank 0's parameters and buffers are copied to every rank. During
    backward, gradients are all-reduced in buckets (about ``bucket_cap_mb`` MiB each) as soon
    as a bucket's gradients are ready, overlapping communication with the rest of backward.

    Example::

        dist.init_process_group("gloo")
        model = DistributedDataParallel(Net())
        loss_fn(model(x_shard), y_shard).backward()   # .grad averaged across ranks
        opt.step()
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params: bool = False) -> None:
        super().__init__()
        from ...distributed._world import _default
        pg = process_group if process_group is not None else _default()
        self.module = module
        self.process_group = pg
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb)
                                    * 1024 * 1024)
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._sync_states(list(module.parameters()) + list(module.buffers()), check=True)
        self.reducer = Reducer(params, pg, self.bucket_bytes_cap, find_unused_parameters)

    # -- state sync ------------------------------------------------------------------------
    def _sync_states(self, tensors: list, check: bool = False) -> None:
        """Copy rank 0's values of ``tensors`` to every rank (one broadcast per dtype)."""
        pg = self.process_group
        if pg.size() == 1 or not tensors:
            return
        if check:
            from ...distributed.distributed_c10d import _agree
            shapes = repr([(tuple(t.shape), str(t.dtype)) for t in tensors]).encode()
            try:
                _agree(pg, "DistributedDataParallel", None, (zlib.crc32(shapes),))
            except RuntimeError:
                raise RuntimeError("DDP expects same model across all ranks, but the ranks' "
                                   "parameters and buffers differ in number, shape or "
                                   "dtype") from None
        from ...distributed._world import wait_requests
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for dt, group in by_dtype.items():
            flat = xp.concatenate([t._data.reshape(-1) for t in group]) if pg.rank() == 0 \
                else xp.empty(sum(t.numel() for t in group), dtype=dt)
            wait_requests([pg._comm.Ibcast(flat, 0)], pg, "DistributedDataParallel broadcast")
            if pg.rank() != 0:
                off = 0
                for t in group:
                    n = t.numel()
                    t._data[...] = flat[off:off + n].reshape(t._data.shape)
                    t._bump_version()
                    off += n

    # -- forward and backward ----------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self.reducer.prepare(self.process_group.rank())
        elif is_grad_enabled():
            self.reducer.disarm()       # this forward's backward (no_sync) stays local
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._sync_states(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self.reducer.mark_unused(out)
        return out

    @contextmanager
    def no_sync(self):
        """Inside this context backward accumulates gradients locally without communication;
        the first synced backward afterwards averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _set_static_graph(self) -> None:
        self.static_graph = True

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled; save "
                           "model.module.state_dict() (or model.state_dict()) instead")
