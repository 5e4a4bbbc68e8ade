"""Resampling and rearrangement: ``interpolate``/``upsample``, ``pixel_shuffle``,
``pixel_unshuffle``, ``unfold`` (im2col), ``fold`` (col2im), and spatial transformers
``affine_grid`` and ``grid_sample``.

Resizing is separable: along each spatial dim an output sample is a weighted sum of one
(nearest), two (linear) or four (cubic) input samples, computed in the input's dtype from
PyTorch's source-index rules, and applied by ``padding.axis_map``.
"""

from __future__ import annotations

import math
import warnings

from ..._ops._jvp import refuse, unsupported
from ..._ops._util import Op, Tensor, _make, xp
from .conv import col2im, crop_array, ntuple, pad_array, windows
from .padding import axis_map

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "unfold", "fold", "affine_grid", "grid_sample"]

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
    if input._data.dtype == xp.uint8 and mode in ("bilinear", "bicubic"):
        return _interpolate_uint8(input, maps)
    return axis_map(input, tuple(maps), _NAME[mode].format(n))


def _interpolate_uint8(input: Tensor, maps) -> Tensor:
    """uint8 images are resampled one dim at a time, last dim first, each pass rounded
    (half up) and clamped to [0, 255] as PyTorch's separable uint8 kernel does."""
    a = input._data
    for axis, idx, w, _ in sorted(maps, key=lambda m: -m[0]):
        shape = [1] * a.ndim
        shape[axis] = -1
        if w is None:
            a = xp.take(a, idx[:, 0], axis)
            continue
        # Fixed-point taps: the most bits that keep the largest weight within int16.
        wf = w.astype(xp.float64)
        w_max = float(xp.abs(wf).max())
        bits = 0
        while bits < 22 and int(0.5 + w_max * (1 << (bits + 1))) < (1 << 15):
            bits += 1
        wi = xp.trunc(wf * (1 << bits) + xp.where(wf < 0, -0.5, 0.5)).astype(xp.int64)
        acc = xp.full(1, 1 << (bits - 1) if bits else 0, dtype=xp.int64)
        for t in range(idx.shape[1]):
            acc = acc + xp.take(a, idx[:, t], axis).astype(xp.int64) * wi[:, t].reshape(shape)
        a = xp.clip(acc >> bits, 0, 255).astype(xp.uint8)
    return _make(xp.ascontiguousarray(a))


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
        return (_unshuffle if inverse else _shuffle)(x._data, r)

    @staticmethod
    def backward(ctx, g):
        return (_PixelShuffle if ctx.inverse else _PixelUnshuffle).apply(
            g, ctx.r, not ctx.inverse), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, r, inverse = inputs
        return (_PixelUnshuffle if inverse else _PixelShuffle).apply(tangents[0], r, inverse)


class _PixelUnshuffle(_PixelShuffle):
    """The inverse permutation (``inverse=True``)."""

    node_name = "PixelUnshuffleBackward0"


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
    return _PixelUnshuffle.apply(input, r, True)


class _ChannelShuffle(Op):
    """A permutation of channels;  dx = g shuffled back (with C / groups groups)"""

    node_name = "ChannelShuffleBackward0"

    @staticmethod
    def forward(ctx, x, groups):
        a = x._data
        N, C = a.shape[:2]
        ctx.back = C // groups
        a = a.reshape((N, groups, C // groups) + a.shape[2:]).swapaxes(1, 2)
        return xp.ascontiguousarray(a).reshape(x._data.shape)

    @staticmethod
    def backward(ctx, g):
        return _ChannelShuffle.apply(g, ctx.back), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _ChannelShuffle.apply(tangents[0], inputs[1])


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``(N, C, *)``: ``groups`` blocks of ``C // groups``
    channels become ``C // groups`` blocks of ``groups`` (ShuffleNet)."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    C = input.shape[1]
    if C % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {C} channels "
                           f"and {groups} groups.")
    return _ChannelShuffle.apply(input, groups)


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
        ctx.size = size
        full = tuple(s + 2 * p for s, p in zip(size, P))
        blocks = tuple((f - d * (k - 1) - 1) // s + 1 for f, k, s, d in zip(full, K, S, D))
        N = a.shape[0]
        cols = a.reshape((N, -1) + tuple(K) + blocks).transpose(0, 1, 4, 5, 2, 3)
        return xp.ascontiguousarray(crop_array(col2im(cols, full, S, D), pads))

    @staticmethod
    def backward(ctx, g):
        return (_Col2Im if ctx.to_cols else _Im2Col).apply(
            g, ctx.geo, ctx.size, not ctx.to_cols), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, geo, size, to_cols = inputs
        return (_Im2Col if to_cols else _Col2Im).apply(tangents[0], geo, size, to_cols)


class _Col2Im(_Im2Col):
    """fold (``to_cols=False``)."""

    node_name = "Col2ImBackward0"


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
        return _Col2Im.apply(input.unsqueeze(0), geo, size, False).squeeze(0)
    return _Col2Im.apply(input, geo, size, False)


# -- affine_grid / grid_sample ---------------------------------------------------------------
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _base_coords(n: int, align_corners: bool, dtype):
    """The normalised sample positions along one dim: ``n`` points spanning [-1, 1] (pixel
    corners) or their pixel centres (``align_corners=False``)."""
    if n <= 1:
        return xp.zeros(n, dtype=dtype)
    c = xp.linspace(-1, 1, n, dtype=dtype)
    return c if align_corners else c * dtype.type((n - 1) / n)


class _AffineGrid(Op):
    """grid = base @ theta^T (base: rows ``[x, y, (z,) 1]``);  dtheta = g^T @ base"""

    node_name = "AffineGridGeneratorBackward0"

    @staticmethod
    def forward(ctx, theta, spatial, align_corners):
        t = theta._data
        axes = [_base_coords(s, align_corners, t.dtype) for s in reversed(spatial)]  # x, y, z
        mesh = xp.meshgrid(*axes, indexing="xy") if len(axes) == 2 else \
            [m.transpose(2, 0, 1) for m in xp.meshgrid(*axes, indexing="xy")]
        ones = xp.ones_like(mesh[0])
        base = xp.stack([m.reshape(-1) for m in mesh] + [ones.reshape(-1)], 1)   # (P, k+1)
        ctx.save_for_backward(base)
        ctx.shape = (t.shape[0],) + tuple(spatial) + (len(spatial),)
        return (base @ t.swapaxes(1, 2)).reshape(ctx.shape)

    @staticmethod
    def backward(ctx, g):
        N, k = ctx.shape[0], ctx.shape[-1]
        base, = ctx.saved_tensors
        return g.reshape(N, -1, k).transpose(1, 2) @ base, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _AffineGrid.apply(tangents[0], *inputs[1:])  # linear in theta


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid ``(N, H, W, 2)`` (or ``(N, D, H, W, 3)``) of the affine maps
    ``theta`` ``(N, 2, 3)`` (``(N, 3, 4)``) for an output of ``size``, for :func:`grid_sample`."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) in (4, 5):
        k = len(size) - 2
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (k, k + 1):
            raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} "
                             f"for size {size}. Got {theta.shape}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {k + 1}] but got: [{theta.shape[0]}, {k + 1}].")
    return _AffineGrid.apply(theta, spatial, bool(align_corners))


def _source_index(coord, size: int, padding: str, align_corners: bool):
    """Pixel coordinates of normalised ``coord`` along a dim of ``size``, after padding, and
    d(pixel)/d(coord) (torch's unnormalize, clip and reflect rules)."""
    dt = coord.dtype.type
    scale = dt((size - 1) / 2) if align_corners else dt(size / 2)
    x = (coord + dt(1)) * scale if align_corners else (coord + dt(1)) * scale - dt(0.5)
    grad = xp.full(x.shape, scale, dtype=coord.dtype)
    if padding == "reflection":
        lo, hi = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        if lo == hi:
            x, grad = xp.zeros_like(x), xp.zeros_like(grad)
        else:
            low, span = dt(lo / 2), dt((hi - lo) / 2)
            d = x - low
            grad = xp.where(d < 0, -grad, grad)
            d = xp.abs(d)
            extra = xp.fmod(d, span)
            odd = xp.floor(d / span) % 2 == 1
            x = xp.where(odd, span - extra + low, extra + low)
            grad = xp.where(odd, -grad, grad)
    if padding != "zeros":
        inside = (x > 0) & (x < size - 1)
        x = xp.clip(x, dt(0), dt(size - 1))
        grad = grad * inside
    return x, grad


def _taps2d(grid, H: int, W: int, mode: str, padding: str, align_corners: bool):
    """Per output point: flat input indices (N, T, P), weights (N, T, P) (zero for taps
    outside the input), and for bilinear d(weight)/d(ix), d(weight)/d(iy) and the coordinate
    chain factors."""
    N = grid.shape[0]
    ix, gx = _source_index(grid[..., 0].reshape(N, -1), W, padding, align_corners)
    iy, gy = _source_index(grid[..., 1].reshape(N, -1), H, padding, align_corners)
    if mode == "nearest":
        cx, cy = xp.rint(ix), xp.rint(iy)
        xs, ys, w = cx[:, None], cy[:, None], xp.ones((N, 1) + ix.shape[1:], ix.dtype)
        dwx = dwy = None
    else:
        x0, y0 = xp.floor(ix), xp.floor(iy)
        fx, fy = ix - x0, iy - y0
        one = ix.dtype.type(1)
        xs = xp.stack([x0, x0 + 1, x0, x0 + 1], 1)                     # nw, ne, sw, se
        ys = xp.stack([y0, y0, y0 + 1, y0 + 1], 1)
        wx = xp.stack([one - fx, fx, one - fx, fx], 1)
        wy = xp.stack([one - fy, one - fy, fy, fy], 1)
        w = wx * wy
        sx = xp.asarray([-1, 1, -1, 1], dtype=ix.dtype)[None, :, None]
        sy = xp.asarray([-1, -1, 1, 1], dtype=ix.dtype)[None, :, None]
        dwx, dwy = sx * wy, sy * wx
    valid = (xs >= 0) & (xs <= W - 1) & (ys >= 0) & (ys <= H - 1)
    flat = (xp.clip(ys, 0, H - 1).astype(xp.int64) * W + xp.clip(xs, 0, W - 1).astype(xp.int64))
    flat += (xp.arange(N) * (H * W))[:, None, None]
    return flat, w * valid, valid, dwx, dwy, gx, gy


class _GridSampler2D(Op):
    """out[n, c, p] = sum_t w_t(p) in[n, c, idx_t(p)];  d input = scatter-add of g w_t,
    d grid = sum_c g sum_t in[idx_t] dw_t/d(ix, iy) * d(ix, iy)/d grid"""

    node_name = "GridSampler2DBackward0"
    jvp = unsupported("grid_sampler_2d")

    @staticmethod
    def forward(ctx, input, grid, mode, padding, align_corners):
        a = input._data
        N, C, H, W = a.shape
        Ho, Wo = grid.shape[1:3]
        ctx.args = (mode, padding, align_corners)
        ctx.save_for_backward(input, grid)
        if a.size == 0 or Ho * Wo == 0:
            return xp.zeros((N, C, Ho, Wo), dtype=a.dtype)
        flat, w, *_ = _taps2d(grid._data, H, W, mode, padding, align_corners)
        cl = xp.ascontiguousarray(a.transpose(0, 2, 3, 1)).reshape(N * H * W, C)
        out = xp.einsum("ntp,ntpc->npc", w, cl[flat])
        return xp.ascontiguousarray(out.transpose(0, 2, 1)).reshape(N, C, Ho, Wo)

    @staticmethod
    def backward(ctx, g):
        input, grid = ctx.saved_tensors
        return _GridSampler2DBackward.apply(g, input, grid, ctx.args,
                                            ctx.needs_input_grad[:2]) + (None,) * 3


class _GridSampler2DBackward(Op):
    """The gradients of grid_sample (not differentiable again in ember)."""

    node_name = "GridSampler2DBackwardBackward0"
    jvp = unsupported("grid_sampler_2d_backward")

    @staticmethod
    def forward(ctx, g, input, grid, args, needs):
        mode, padding, align_corners = args
        a, gr, go = input._data, grid._data, g._data
        N, C, H, W = a.shape
        dt = a.dtype
        grad_in = xp.zeros_like(a) if needs[0] else None
        grad_grid = xp.zeros_like(gr) if needs[1] else None
        if a.size == 0 or go.size == 0:
            return grad_in, grad_grid
        flat, w, valid, dwx, dwy, gx, gy = _taps2d(gr, H, W, mode, padding, align_corners)
        gcl = go.reshape(N, C, -1).transpose(0, 2, 1)                   # (N, P, C)
        if needs[0]:
            contrib = w[..., None] * gcl[:, None]                       # (N, T, P, C)
            idx = flat[..., None] * C + xp.arange(C)
            acc = xp.bincount(idx.reshape(-1), contrib.reshape(-1), minlength=N * H * W * C)
            grad_in = xp.ascontiguousarray(
                acc.astype(dt).reshape(N, H, W, C).transpose(0, 3, 1, 2))
        if needs[1] and mode == "bilinear":
            cl = xp.ascontiguousarray(a.transpose(0, 2, 3, 1)).reshape(N * H * W, C)
            s = xp.einsum("ntpc,npc->ntp", cl[flat], gcl) * valid        # (N, T, P)
            gix = (s * dwx).sum(1) * gx
            giy = (s * dwy).sum(1) * gy
            grad_grid = xp.stack([gix, giy], -1).reshape(gr.shape).astype(dt, copy=False)
        return grad_in, grad_grid

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("ember: double backward of grid_sample is not supported")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` ``(N, C, H, W)`` at the normalised ``(x, y)`` positions of ``grid``
    ``(N, Ho, Wo, 2)`` (-1 and 1 are the input's edges), by bilinear or nearest
    interpolation; positions outside read zeros, the border, or the reflected input."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.shape[:1] != grid.shape[:1]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got {sizes}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in "
                           f"last dimension, but got grid with sizes {list(grid.shape)}")
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got {sizes}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"expected scalar type {_type_name(input)} but found "
                           f"{_type_name(grid)}")
    if input.ndim == 5 or mode == "bicubic":
        raise NotImplementedError(f"ember's grid_sample supports 4-D inputs with mode "
                                  f"'bilinear' or 'nearest' (got {input.ndim}-D, '{mode}')")
    if not input.is_floating_point():
        raise RuntimeError(f"\"grid_sampler_2d_cpu\" not implemented for '{_type_name(input)}'")
    refuse("grid_sampler_2d", input, grid)  # PyTorch's kernel has no forward-mode formula
    return _GridSampler2D.apply(input, grid, mode, padding_mode, bool(align_corners))


def _type_name(t: Tensor) -> str:
    from ..._dtype import _FROM_NP
    return _FROM_NP[t._data.dtype]._legacy_name.replace("Tensor", "")
