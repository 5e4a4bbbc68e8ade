"""SyncBatchNorm: batch normalisation with statistics over the whole distributed batch."""

from __future__ import annotations

from ..._ops._util import Op, Tensor, _make, xp
from ...autograd.grad_mode import no_grad
from .._functional import normalization as F
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class _AllReduceSum(Op):
    """y = Σ_ranks x (every rank gets the sum). Each rank's loss depends on every rank's x,
    so dx = Σ_ranks dy: the backward is the same all-reduce."""

    node_name = "SyncBatchNormBackward"

    @staticmethod
    def forward(ctx, x, pg):
        ctx.pg = pg
        return _allreduce(x._data.copy(), pg)

    @staticmethod
    def backward(ctx, g):
        return _make(_allreduce(xp.array(g._data, copy=True), ctx.pg)), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _AllReduceSum.apply(tangents[0], inputs[1])  # linear


def _allreduce(a, pg):
    from ...distributed._mpi import mpi
    from ...distributed._world import wait_requests
    MPI = mpi()
    a = xp.ascontiguousarray(a)
    wait_requests([pg._comm.Iallreduce(MPI.IN_PLACE, a, MPI.SUM)], pg, "SyncBatchNorm")
    return a


class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics (mean and variance per channel) are computed over
    the batches of all ranks of ``process_group``, forward and backward. Outside training, or
    without an initialised process group, it is an ordinary BatchNorm.

    Example::

        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = DistributedDataParallel(model)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        from ... import distributed as dist
        pg = None
        if self.training and dist.is_initialized():
            pg = self.process_group if self.process_group is not None else dist.group.WORLD
        if pg is None or pg.size() == 1:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        return _sync_batch_norm(input, self, pg, factor)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every ``BatchNorm*d`` layer replaced by a ``SyncBatchNorm``
        that shares its parameters and running statistics."""
        return _convert(module, process_group)


def _sync_batch_norm(x: Tensor, m: SyncBatchNorm, pg, momentum: float) -> Tensor:
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    count = _allreduce(xp.asarray([x.numel() // x.shape[1]], dtype=xp.float64), pg)[0]
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {x.size()}")
    mean = _AllReduceSum.apply(x.sum(axes), pg) / count
    d = x - mean.reshape(shape)
    # Two passes (mean, then squared deviations) keep the variance accurate.
    var = _AllReduceSum.apply((d * d).sum(axes), pg) / count
    out = d * (var.reshape(shape) + m.eps).rsqrt()
    if m.weight is not None:
        out = out * m.weight.reshape(shape)
    if m.bias is not None:
        out = out + m.bias.reshape(shape)
    if m.track_running_stats and m.running_mean is not None:
        F._update_running(m.running_mean, mean.detach()._data, momentum)
        F._update_running(m.running_var, var.detach()._data * (count / (count - 1)), momentum)
    return out


def _convert(module, process_group):
    from .module import Module
    out: Module = module
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
        if module.affine:
            with no_grad():
                out.weight = module.weight
                out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
        if hasattr(module, "qconfig"):
            out.qconfig = module.qconfig
    for name, child in module.named_children():
        out.add_module(name, _convert(child, process_group))
    del module
    return out

