"""3-d adaptive pooling, 3-d max-unpooling and 3-d power-average pooling.

Adaptive average pooling is the bin-averaging matrix contraction of ``pooling.py`` over three
trailing dims; adaptive max pooling gathers each bin's taps at once and keeps the flat
``d * H * W + h * W + w`` index of the maximum, whose backward scatters through it.
"""

from __future__ import annotations

from ..._ops._util import Op, Tensor, xp
from .conv import ntuple
from .pooling import (
    _AdaptiveAvgPool,
    _avg_matrix,
    _bins,
    _FlatGather,
    _FlatScatter,
    _out_size,
    _unpool_size,
    avg_pool3d,
)

__all__ = ["adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "max_unpool3d", "lp_pool3d"]


def _check_3d(input: Tensor, name: str) -> None:
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}(): Expected 4D or 5D tensor, but got: {list(input.shape)}")


class _AdaptiveAvgPool3d(_AdaptiveAvgPool):
    """y = A_d A_h A_w x (bin-averaging matrices per dim);  dx = the transposed contraction"""

    node_name = "AdaptiveAvgPool3DBackward0"


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive bins of the last three dims to ``output_size`` (an
    int or a triple; ``None`` keeps that dim)."""
    _check_3d(input, "adaptive_avg_pool3d")
    out = _out_size(input, output_size, 3)
    if out == (1, 1, 1):  # a global average: PyTorch takes the mean (MeanBackward1)
        return input.mean((-3, -2, -1), keepdim=True)
    dtype = input._data.dtype
    mats = tuple(_avg_matrix(L, o, dtype) for L, o in zip(input.shape[-3:], out))
    return _AdaptiveAvgPool3d.apply(input, mats)


def _bin_taps(L: int, o: int):
    """``(o, k)`` input positions of each adaptive bin, padded by repeating its last tap."""
    lo, hi = _bins(L, o)
    k = int((hi - lo).max()) if o else 0
    return xp.minimum(lo[:, None] + xp.arange(k), hi[:, None] - 1)


class _AdaptiveMaxPool3d(Op):
    """y = max over each adaptive bin;  dx = g added at each bin's argmax"""

    node_name = "AdaptiveMaxPool3DBackward0"

    @staticmethod
    def forward(ctx, x, out):
        a = x._data
        D, H, W = a.shape[-3:]
        td, th, tw = (_bin_taps(L, o) for L, o in zip((D, H, W), out))
        v = a[..., td[:, None, None, :, None, None], th[None, :, None, None, :, None],
              tw[None, None, :, None, None, :]]          # (..., od, oh, ow, kd, kh, kw)
        kh, kw = th.shape[1], tw.shape[1]
        v = v.reshape(v.shape[:-3] + (-1,))
        arg = v.argmax(-1)
        y = xp.take_along_axis(v, arg[..., None], -1)[..., 0]
        od, oh, ow = out
        di = td[xp.arange(od)[:, None, None], arg // (kh * kw)]
        hi = th[xp.arange(oh)[None, :, None], (arg // kw) % kh]
        wi = tw[xp.arange(ow)[None, None, :], arg % kw]
        idx = ((di * H + hi) * W + wi).astype(xp.int64)
        ctx.save_for_backward(idx)
        ctx.size = a.shape
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return _FlatScatter.apply(g, idx, ctx.size, True, 3), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _FlatGather.apply(tangents[0], out[1], 3), None


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max over PyTorch's adaptive bins of the last three dims; with ``return_indices`` also
    the flat indices into each ``D*H*W`` volume."""
    _check_3d(input, "adaptive_max_pool3d")
    y, idx = _AdaptiveMaxPool3d.apply(input, _out_size(input, output_size, 3))
    return (y, idx) if return_indices else y


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = True):
    return adaptive_max_pool3d(input, output_size, True)


class _MaxUnpool3d(_FlatScatter):
    """out[..., idx] = g over each flattened volume;  its adjoint gathers"""

    node_name = "MaxUnpool3DBackward0"


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Place ``input`` at the flat ``indices`` (from ``max_pool3d``) of a zero volume."""
    size = _unpool_size(input, 3, kernel_size, stride, padding, output_size)
    ix = indices._data
    bad = (ix < 0) | (ix >= size[0] * size[1] * size[2])
    if bad.any():
        raise RuntimeError(f"Found an invalid max index: {int(ix[bad].flat[0])} (output "
                           f"volumes are of size {size[0]}x{size[1]}x{size[2]})")
    return _MaxUnpool3d.apply(input, indices, size, False, 3)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """``(sum over each 3-d window of x**p) ** (1/p)``."""
    kd, kh, kw = ntuple(kernel_size, 3, "kernel_size")
    out = avg_pool3d(input.pow(norm_type), (kd, kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kd * kh * kw).pow(1.0 / norm_type)


