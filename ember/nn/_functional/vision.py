"""Resampling and rearrangement: ``interpolate``/``upsample``, ``pixel_shuffle``,
``pixel_unshuffle``, ``unfold`` (im2col) and ``fold`` (col2im).

Resizing is separable: along each spatial dim an output sample is a weighted sum of one
(nearest), two (linear) or four (cubic) input samples, computed in the input's dtype from
PyTorch's source-index rules, and applied by ``padding.axis_map``.
"""

from __future__ import annotations

import math

from ..._ops._util import Op, Tensor, xp
from .conv import col2im, crop_array, ntuple, pad_array, windows
from .padding import axis_map

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "unfold", "fold"]

_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "bicubic": 2,
          "trilinear": 3, "area": 0}


def _scale(L: int, o: int, sf, align_corners: bool, dtype):
    """PyTorch's source-per-destination scale, in the compute dtype."""
    if align_corners:
        return dtype.type((L - 1) / (o - 1)) if o > 1 else dtype.type(0)
    if sf is not None:
        return dtype.type(1.0 / sf)
    return dtype.type(L) / dtype.type(o)


def _taps(L: int, o: int, sf, mode: str, align_corners: bool, dtype):
    """(idx (o, T), weights (o, T) or None) for one dim."""
    dst = xp.arange(o).astype(dtype)
    if mode in ("nearest", "nearest-exact"):
        if o == L:
            return xp.arange(o)[:, None], None
        scale = dtype.type(1.0 / sf) if sf is not None else xp.float32(L) / xp.float32(o)
        scale = xp.float32(scale)
        d = dst.astype(xp.float32)
        src = xp.floor((d + xp.float32(0.5)) * scale if mode == "nearest-exact" else d * scale)
        return xp.minimum(src.astype(xp.int64), L - 1)[:, None], None
    scale = _scale(L, o, sf, align_corners, dtype)
    src = dst * scale if align_corners else (dst + dtype.type(0.5)) * scale - dtype.type(0.5)
    if mode == "bicubic":
        f = xp.floor(src)
        t = src - f
        A = dtype.type(-0.75)

        def near(z):
            return ((A + 2) * z - (A + 3)) * z * z + 1

        def far(z):
            return ((A * z - 5 * A) * z + 8 * A) * z - 4 * A
        w = xp.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], 1)
        idx = xp.clip(f.astype(xp.int64)[:, None] + xp.arange(-1, 3), 0, L - 1)
        return idx, w
    if not align_corners:
        src = xp.maximum(src, dtype.type(0))
    i0 = xp.minimum(src.astype(xp.int64), L - 1)
    i1 = xp.minimum(i0 + 1, L - 1)
    l1 = src - i0.astype(dtype)
    return xp.stack([i0, i1], 1), xp.stack([1 - l1, l1], 1)


_NAME = {"nearest": "UpsampleNearest{}DBackward0", "nearest-exact":
         "UpsampleNearestExact{}DBackward0", "linear": "UpsampleLinear1DBackward0",
         "bilinear": "UpsampleBilinear2DBackward0", "bicubic": "UpsampleBicubic2DBackward0",
         "trilinear": "UpsampleTrilinear3DBackward0"}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``(N, C, *spatial)`` to ``size`` or by ``scale_factor``.
    Modes: nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area."""
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError("antialias=True is not supported")
    n = input.ndim - 2
    if _MODES[mode] and _MODES[mode] != n:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODES[mode] + 2}D input")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        out = ntuple(size, n, "size")
        sfs = (None,) * n
    else:
        sfs = tuple(float(s) for s in (scale_factor if isinstance(scale_factor, (tuple, list))
                                       else (scale_factor,) * n))
        if len(sfs) != n:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(spatial)} and scale_factor of shape {list(scale_factor)}.")
        out = tuple(int(math.floor(L * s)) for L, s in zip(spatial, sfs))
        if recompute_scale_factor:
            sfs = (None,) * n
    if mode == "area":
        from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d
        return (adaptive_avg_pool1d if n == 1 else adaptive_avg_pool2d)(input, out)
    dtype = input._data.dtype if input._data.dtype.kind == "f" else xp.dtype(xp.float32)
    maps = []
    for i, (L, o, sf) in enumerate(zip(spatial, out, sfs)):
        if o <= 0:
            raise RuntimeError(f"Input and output sizes should be greater than 0, but got "
                               f"input ({', '.join(map(str, spatial))}) and output "
                               f"({', '.join(map(str, out))})")
        idx, w = _taps(L, o, sf, mode, align_corners, dtype)
        if o != L or w is not None:
            maps.append((2 + i, idx, w, L))
    return axis_map(input, tuple(maps), _NAME[mode].format(n))


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- pixel shuffle ---------------------------------------------------------------------------
def _shuffle(a, r: int):
    *lead, C, H, W = a.shape
    a = a.reshape(tuple(lead) + (C // (r * r), r, r, H, W))
    k = len(lead)
    a = a.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return xp.ascontiguousarray(a).reshape(tuple(lead) + (C // (r * r), H * r, W * r))


def _unshuffle(a, r: int):
    *lead, C, H, W = a.shape
    a = a.reshape(tuple(lead) + (C, H // r, r, W // r, r))
    k = len(lead)
    a = a.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return xp.ascontiguousarray(a).reshape(tuple(lead) + (C * r * r, H // r, W // r))


class _PixelShuffle(Op):
    """A permutation of entries;  dx = the inverse permutation of g"""

    node_name = "PixelShuffleBackward0"

    @staticmethod
    def forward(ctx, x, r, inverse):
        ctx.r, ctx.inverse = r, inverse
        if inverse:
            ctx.node_name = "PixelUnshuffleBackward0"
        return (_unshuffle if inverse else _shuffle)(x._data, r)

    @staticmethod
    def backward(ctx, g):
        return _PixelShuffle.apply(g, ctx.r, not ctx.inverse), None, None


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but "
                           f"input.size(-3)={input.shape[-3]} is not divisible by {r * r}")
    return _PixelShuffle.apply(input, r, False)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    for name, v in (("height", input.shape[-2]), ("width", input.shape[-1])):
        if v % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({-2 if name == 'height' else -1})"
                               f"={v} is not divisible by {r}")
    return _PixelShuffle.apply(input, r, True)


# -- unfold / fold ---------------------------------------------------------------------------
class _Im2Col(Op):
    """unfold: y = the kernel windows as columns;  dx = fold(g) (and vice versa)"""

    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, geo, size, to_cols):
        K, S, P, D = geo
        a = x._data
        ctx.geo, ctx.to_cols = geo, to_cols
        pads = tuple((p, p) for p in P)
        if to_cols:
            ctx.size = a.shape[2:]
            v = windows(pad_array(a, pads), K, S, D)              # (N, C, oh, ow, kh, kw)
            N, C, oh, ow = v.shape[:4]
            ctx.blocks = (oh, ow)
            v = v.transpose(0, 1, 4, 5, 2, 3)
            return xp.ascontiguousarray(v).reshape(N, C * K[0] * K[1], oh * ow)
        ctx.node_name = "Col2ImBackward0"
        ctx.size = size
        full = tuple(s + 2 * p for s, p in zip(size, P))
        blocks = tuple((f - d * (k - 1) - 1) // s + 1 for f, k, s, d in zip(full, K, S, D))
        N = a.shape[0]
        cols = a.reshape((N, -1) + tuple(K) + blocks).transpose(0, 1, 4, 5, 2, 3)
        return xp.ascontiguousarray(crop_array(col2im(cols, full, S, D), pads))

    @staticmethod
    def backward(ctx, g):
        return _Im2Col.apply(g, ctx.geo, ctx.size, not ctx.to_cols), None, None, None


def _fold_geo(kernel_size, dilation, padding, stride):
    return (ntuple(kernel_size, 2, "kernel_size"), ntuple(stride, 2, "stride"),
            ntuple(padding, 2, "padding"), ntuple(dilation, 2, "dilation"))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: ``(N, C, H, W) -> (N, C*kh*kw, L)``, one column per kernel position."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    geo = _fold_geo(kernel_size, dilation, padding, stride)
    if input.ndim == 3:
        return _Im2Col.apply(input.unsqueeze(0), geo, None, True).squeeze(0)
    return _Im2Col.apply(input, geo, None, True)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: ``(N, C*kh*kw, L) -> (N, C, *output_size)``, summing overlaps."""
    geo = _fold_geo(kernel_size, dilation, padding, stride)
    size = ntuple(output_size, 2, "output_size")
    K, S, P, D = geo
    blocks = [(s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in zip(size, P, D, K, S)]
    if input.ndim not in (2, 3) or input.shape[-2] % (K[0] * K[1]) or \
            input.shape[-1] != blocks[0] * blocks[1]:
        raise RuntimeError(f"Given output_size={tuple(size)}, kernel_size={K}, dilation={D}, "
                           f"padding={P}, stride={S}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={input.shape[-1]}.")
    if input.ndim == 2:
        return _Im2Col.apply(input.unsqueeze(0), geo, size, False).squeeze(0)
    return _Im2Col.apply(input, geo, size, False)
