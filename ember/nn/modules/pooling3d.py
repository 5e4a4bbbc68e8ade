"""3-d pooling layers: ``AdaptiveAvgPool3d``, ``AdaptiveMaxPool3d``, ``MaxUnpool3d`` and
``LPPool3d``."""

from __future__ import annotations

from ..._tensor import Tensor
from .._functional import pooling3d as F
from .pooling import _AdaptiveMaxPool, _AdaptivePool, _LPPool, _MaxUnpool

__all__ = ["AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "MaxUnpool3d", "LPPool3d"]


class AdaptiveAvgPool3d(_AdaptivePool):
    """Average over adaptive bins to a fixed ``(D, H, W)`` output (``None`` keeps a dim)."""

    _fn = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Max over adaptive bins to a fixed ``(D, H, W)`` output."""

    _fn = staticmethod(F.adaptive_max_pool3d)


class MaxUnpool3d(_MaxUnpool):
    """Inverse of ``MaxPool3d`` (zeros where the maxima were not)."""

    _n = 3

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class LPPool3d(_LPPool):
    """3-d power-average pooling."""

    _fn = staticmethod(F.lp_pool3d)
