"""Pooling: max, average, adaptive, power-average and max-unpooling, vectorised.

Max and average pooling read the kernel windows as one strided view (see ``conv.windows``).
Max pooling takes the maximum tap by tap (one ufunc per kernel offset) and records each
maximum's flat input index; its backward scatters through those indices. Average pooling's
backward writes back with ``conv.col2im`` (a loop over kernel offsets only). Each
linear backward map is an op whose own backward is the forward map again, so higher-order
gradients work. The 1-d forms run the 2-d ops on an unsqueezed input, as PyTorch does.
"""

from __future__ import annotations

import itertools
import math

from ..._ops._util import Op, Tensor, _make, saved_arrays, xp
from .conv import col2im, crop_array, ntuple, pad_array, windows

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d", "max_unpool1d",
           "max_unpool2d"]


# -- geometry --------------------------------------------------------------------------------
def _geometry(x: Tensor, n: int, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate pooling arguments; return kernel, stride, pads, dilation, output size."""
    K = ntuple(kernel_size, n, "kernel_size")
    S = K if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else ntuple(stride, n, "stride")
    P = ntuple(padding, n, "padding")
    D = ntuple(dilation, n, "dilation")
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for "
                           f"input")
    if any(s <= 0 for s in S):
        raise RuntimeError("stride should be greater than zero, but got "
                           + " ".join(f"s{i}: {s}" for i, s in enumerate(S)))
    for p, k, d in zip(P, K, D):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    size = x.shape[-n:]
    out = []
    for L, k, s, p, d in zip(size, K, S, P, D):
        o = (L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= L + p:
            o -= 1
        out.append(o)
    if any(o <= 0 for o in out):
        lead = "x".join(map(str, x.shape[-n - 1:-n] + tuple(size)))
        raise RuntimeError(f"Given input size: ({lead}). Calculated output size: "
                           f"({'x'.join(map(str, x.shape[-n - 1:-n] + tuple(out)))}). "
                           f"Output size is too small")
    pads = tuple((p, max(0, (o - 1) * s + d * (k - 1) + 1 - L - p))
                 for L, k, s, p, d, o in zip(size, K, S, P, D, out))
    return K, S, pads, D, tuple(out)


def _fill_value(dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


# -- max pooling -----------------------------------------------------------------------------
class _MaxPool(Op):
    """y = max over each window;  dx = g scattered to each window's argmax"""

    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geo):
        K, S, pads, D, out = geo
        a = x._data
        n = len(K)
        v = windows(pad_array(a, pads, _fill_value(a.dtype)), K, S, D, out)  # (..., *P, *K)
        taps = list(itertools.product(*map(range, K)))
        padded = any(lo or hi for lo, hi in pads)
        y, arg = _window_max([v[(Ellipsis,) + t] for t in taps],
                             (lambda: _tap_masks(taps, geo, a.shape[-n:])) if padded else None)
        # Flat input index of each maximum (PyTorch's ``indices``): the window's origin
        # plus the winning tap's offset, both over the flattened trailing n dims.
        size = a.shape[-n:]
        mult = [math.prod(size[i + 1:]) for i in range(n)]
        tap_flat = xp.asarray([sum(t[i] * D[i] * mult[i] for i in range(n)) for t in taps])
        idx = tap_flat[arg]
        for i in range(n):
            shape = (out[i],) + (1,) * (n - i - 1)
            idx += ((xp.arange(out[i]) * S[i] - pads[i][0]) * mult[i]).reshape(shape)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
            # Windows that overlap may pick one input twice: then the scatter must add.
            ctx.n, ctx.size, ctx.overlap = n, a.shape, any(s < d * (k - 1) + 1
                                                 for k, s, d in zip(K, S, D))
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return _FlatScatter.apply(g, idx, ctx.size, ctx.overlap, ctx.n), None

    @staticmethod
    def jvp(inputs, out, tangents):
        # The tangent at each window's argmax (the indices output is not differentiable).
        return _FlatGather.apply(tangents[0], out[1], len(inputs[1][0])), None


def _window_max(taps: list, valid):
    """Max over the taps (views of one shape) and the index of the winning tap, by PyTorch's
    rule: start from the first in-bounds tap with value -inf; an in-bounds tap wins if it is
    greater than the best so far or is NaN (ties go to the first, NaN to the last).

    The fast path takes the maximum, then the first tap equal to it. It is exact unless a
    NaN is present or (with padding, ``valid`` set) a window's maximum is the fill value."""
    y = xp.maximum(taps[0], taps[1]) if len(taps) > 1 else taps[0].copy()
    for t in taps[2:]:
        xp.maximum(y, t, out=y)
    arg = xp.zeros(y.shape, dtype=xp.int64)
    fill = _fill_value(y.dtype)
    if (y.dtype.kind == "f" and xp.isnan(y).any()) or (valid is not None and (y == fill).any()):
        masks = valid() if valid is not None else [True] * len(taps)
        best = xp.full(y.shape, fill, dtype=y.dtype)
        xp.copyto(arg, xp.argmax(xp.broadcast_arrays(*masks), axis=0) if valid else 0)
        for k, (t, ok) in enumerate(zip(taps, masks)):
            win = t > best
            if y.dtype.kind == "f":
                win |= xp.isnan(t)
            win &= ok
            xp.copyto(best, t, where=win)
            xp.copyto(arg, k, where=win)
        return best, arg
    if len(taps) > 1:
        for k in range(len(taps) - 1, -1, -1):     # the last write is the first maximum
            xp.copyto(arg, k, where=taps[k] == y)
    return y, arg


def _tap_masks(taps: list, geo, size: tuple):
    """Per tap, which output positions it reads in bounds (broadcastable to the output)."""
    K, S, pads, D, out = geo
    n = len(K)
    inside = []
    for i in range(n):
        pos = (xp.arange(out[i])[:, None] * S[i] - pads[i][0] + xp.arange(K[i]) * D[i])
        inside.append((pos >= 0) & (pos < size[i]))          # (out_i, K_i)
    masks = []
    for t in taps:
        m = True
        for i in range(n):
            m = m & inside[i][:, t[i]].reshape((out[i],) + (1,) * (n - i - 1))
        masks.append(m)
    return masks


class _MaxPool3d(_MaxPool):
    node_name = "MaxPool3DWithIndicesBackward0"


def _max_poolnd(input, n, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geo = _geometry(input, n, kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = (_MaxPool3d if n == 3 else _MaxPool).apply(input, geo)
    return (y, idx) if return_indices else y


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-d max pooling over ``(N, C, H, W)`` or ``(C, H, W)``; ``stride`` defaults to the
    kernel size. With ``return_indices`` also the flat ``H*W`` index of each maximum."""
    return _max_poolnd(input, 2, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-d max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _max_poolnd(input, 3, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-d max pooling over ``(N, C, L)`` or ``(C, L)`` (the 2-d op on a unit height)."""
    k = ntuple(kernel_size, 1, "kernel_size")
    s = k if stride is None or stride == () else ntuple(stride, 1, "stride")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"max_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{list(input.shape)}")
    res = _max_poolnd(input.unsqueeze(-2), 2, (1,) + k, (1,) + s,
                      (0,) + ntuple(padding, 1, "padding"), (1,) + ntuple(dilation, 1),
                      ceil_mode, True)
    y, idx = res[0].squeeze(-2), _make(res[1]._data[..., 0, :])
    return (y, idx) if return_indices else y


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# -- average pooling -------------------------------------------------------------------------
def _divisor(size, geo, count_include_pad, dtype):
    """The per-window divisor: an outer product of per-dim element counts."""
    K, S, pads, _, out = geo
    div = xp.ones((), dtype=dtype)
    for L, k, s, (p, _), o in zip(size, K, S, pads, out):
        start = xp.arange(o) * s - p
        if count_include_pad:
            cnt = xp.minimum(start + k, L + p) - start
        else:
            cnt = xp.minimum(start + k, L) - xp.maximum(start, 0)
        div = xp.multiply.outer(div, cnt.astype(dtype))
    return div


class _AvgPool(Op):
    """y = window sums / divisor;  dx = (g / divisor) spread over each window"""

    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, geo, div, size, adjoint):
        K, S, pads, D, out = geo
        a = x._data
        ctx.geo, ctx.size, ctx.adjoint = geo, a.shape[-len(K):], adjoint
        ctx.save_for_backward(div)  # a number, or the per-window divisors (an array)
        n = len(K)
        if not adjoint:
            v = windows(pad_array(a, pads), K, S, D, out)
            return v.sum(tuple(range(a.ndim, a.ndim + n))) / div
        cols = xp.broadcast_to((a / div)[(Ellipsis,) + (None,) * n], a.shape + tuple(K))
        full = tuple(s + lo + hi for s, (lo, hi) in zip(size, pads))
        return xp.ascontiguousarray(crop_array(col2im(cols, full, S, D), pads))

    @staticmethod
    def backward(ctx, g):
        div, = saved_arrays(ctx)
        return _AvgPool.apply(g, ctx.geo, div, ctx.size, not ctx.adjoint), None, None, None, \
            None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], *inputs[1:])  # linear


class _AvgPool3d(_AvgPool):
    node_name = "AvgPool3DBackward0"


def _avg_poolnd(input, n, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    geo = _geometry(input, n, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        div = divisor_override
    else:
        div = _divisor(input.shape[-n:], geo, count_include_pad, input._data.dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f'"avg_pool{n}d" not implemented for '
                           f"'{str(input.dtype).split('.')[-1].capitalize()}'")
    return (_AvgPool3d if n == 3 else _AvgPool).apply(input, geo, div, None, False)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-d average pooling; ``count_include_pad`` counts zero padding in the divisor,
    ``divisor_override`` replaces the divisor."""
    return _avg_poolnd(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-d average pooling."""
    return _avg_poolnd(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling (the 2-d op on a unit height)."""
    k = ntuple(kernel_size, 1, "kernel_size")
    s = k if stride is None or stride == () else ntuple(stride, 1, "stride")
    return _avg_poolnd(input.unsqueeze(-2), 2, (1,) + k, (1,) + s,
                       (0,) + ntuple(padding, 1, "padding"), ceil_mode, count_include_pad,
                       None).squeeze(-2)


# -- adaptive pooling ------------------------------------------------------------------------
def _bins(L: int, o: int):
    """PyTorch's adaptive bins: ``[floor(i*L/o), ceil((i+1)*L/o))``."""
    i = xp.arange(o)
    return (i * L) // o, -((-(i + 1) * L) // o)


def _out_size(input: Tensor, output_size, n: int) -> tuple:
    sizes = (output_size,) * n if isinstance(output_size, int) or output_size is None \
        else tuple(output_size)
    if len(sizes) != n:
        raise ValueError(f"adaptive pool output_size must have {n} elements")
    return tuple(input.shape[-n + i] if s is None else int(s) for i, s in enumerate(sizes))


def _check_adaptive(input: Tensor, n: int, name: str):
    if input.ndim not in (n + 1, n + 2) or any(s == 0 for s in input.shape[-n:]):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got "
                           f"{list(input.shape)}")


class _AdaptiveAvgPool(Op):
    """y = A_h x A_w^T (A: bin-averaging matrices);  dx = A_h^T g A_w"""

    node_name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, mats):
        ctx.save_for_backward(*mats)
        y = x._data
        n = len(mats)
        for i, m in enumerate(mats):          # contract trailing dim -n+i with m (o, L)
            y = xp.moveaxis(xp.matmul(xp.moveaxis(y, i - n, -1), m.T), -1, i - n)
        return xp.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        mats = ctx.saved_tensors
        n = len(mats)
        for i, m in enumerate(mats):
            g = (g.transpose(i - n, -1) @ m).transpose(i - n, -1)
        return g, None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], inputs[1])  # linear


def _avg_matrix(L: int, o: int, dtype):
    lo, hi = _bins(L, o)
    j = xp.arange(L)
    inside = (j >= lo[:, None]) & (j < hi[:, None])
    return (inside / (hi - lo)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive bins to ``output_size`` (int, pair, None = keep)."""
    _check_adaptive(input, 2, "adaptive_avg_pool2d")
    out = _out_size(input, output_size, 2)
    dtype = input._data.dtype
    mats = tuple(_avg_matrix(L, o, dtype) for L, o in zip(input.shape[-2:], out))
    return _AdaptiveAvgPool.apply(input, mats)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """1-d adaptive average pooling over ``(N, C, L)`` or ``(C, L)``."""
    _check_adaptive(input, 1, "adaptive_avg_pool1d")
    o = ntuple(output_size, 1, "output_size")
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1,) + o).squeeze(-2)


class _AdaptiveMaxPool(Op):
    """y = max over each adaptive bin;  dx = g added at each bin's argmax"""

    node_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x, out):
        a = x._data
        (H, W), (oh, ow) = a.shape[-2:], out
        rows, cols = [], []
        for L, o, acc in ((H, oh, rows), (W, ow, cols)):
            lo, hi = _bins(L, o)
            k = int((hi - lo).max())
            acc.append(xp.minimum(lo[:, None] + xp.arange(k), hi[:, None] - 1))  # (o, k)
        r, c = rows[0], cols[0]
        v = a[..., r[:, None, :, None], c[None, :, None, :]]   # (..., oh, ow, kh, kw)
        v = v.reshape(v.shape[:-2] + (-1,))
        arg = v.argmax(-1)
        y = xp.take_along_axis(v, arg[..., None], -1)[..., 0]
        kw = c.shape[1]
        ri = r[xp.arange(oh)[:, None], arg // kw]
        ci = c[xp.arange(ow), arg % kw]
        idx = (ri * W + ci).astype(xp.int64)
        ctx.save_for_backward(idx)
        ctx.size = a.shape
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return _FlatScatter.apply(g, idx, ctx.size, True), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _FlatGather.apply(tangents[0], out[1], 2), None


class _FlatScatter(Op):
    """out[..., idx] (+)= g over the flattened trailing ``nd`` dims;  its adjoint gathers"""

    node_name = "MaxUnpool2DBackward0"

    @staticmethod
    def forward(ctx, g, idx, size, accumulate, nd=2):
        a, ix = g._data, idx._data
        ctx.save_for_backward(idx)
        ctx.nd = nd
        lead = a.shape[:-nd]
        rows = math.prod(lead)
        plane = math.prod(size[-nd:])
        flat_ix = ix.reshape(rows, -1)
        if accumulate:
            pos = (xp.arange(rows)[:, None] * plane + flat_ix).ravel()
            out = xp.bincount(pos, a.reshape(-1), rows * plane).astype(a.dtype)
        else:
            out = xp.zeros((rows, plane), dtype=a.dtype)
            xp.put_along_axis(out, flat_ix, a.reshape(rows, -1), -1)
        return out.reshape(lead + tuple(size[-nd:]))

    @staticmethod
    def backward(ctx, gg):
        idx, = ctx.saved_tensors
        return _FlatGather.apply(gg, idx, ctx.nd), None, None, None, None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], *inputs[1:])  # linear in g


class _FlatGather(Op):
    """y = x[..., idx] over the flattened trailing ``nd`` dims;  dx = scatter-add of g"""

    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x, idx, nd=2):
        a, ix = x._data, idx._data
        ctx.save_for_backward(idx)
        ctx.size, ctx.nd = a.shape, nd
        flat = a.reshape(a.shape[:-nd] + (-1,))
        return xp.take_along_axis(flat, ix.reshape(ix.shape[:-nd] + (-1,)), -1).reshape(ix.shape)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        return _FlatScatter.apply(g, idx, ctx.size, True, ctx.nd), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _FlatGather.apply(tangents[0], *inputs[1:])  # linear


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over PyTorch's adaptive bins; with ``return_indices`` also the flat indices."""
    _check_adaptive(input, 2, "adaptive_max_pool2d")
    y, idx = _AdaptiveMaxPool.apply(input, _out_size(input, output_size, 2))
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """1-d adaptive max pooling over ``(N, C, L)`` or ``(C, L)``."""
    _check_adaptive(input, 1, "adaptive_max_pool1d")
    o = ntuple(output_size, 1, "output_size")
    y, idx = adaptive_max_pool2d(input.unsqueeze(-2), (1,) + o, True)
    y, idx = y.squeeze(-2), _make(idx._data[..., 0, :])
    return (y, idx) if return_indices else y


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


# -- power-average pooling and unpooling -----------------------------------------------------
def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """``(sum over each window of x**p) ** (1/p)``."""
    kh, kw = ntuple(kernel_size, 2, "kernel_size")
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """1-d power-average pooling."""
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kernel_size).pow(1.0 / norm_type)


def _unpool_size(input, n, kernel_size, stride, padding, output_size):
    K = ntuple(kernel_size, n, "kernel_size")
    S = K if stride is None else ntuple(stride, n, "stride")
    P = ntuple(padding, n, "padding")
    default = tuple((i - 1) * s - 2 * p + k
                    for i, s, p, k in zip(input.shape[-n:], S, P, K))
    if output_size is None:
        return default
    out = tuple(int(v) for v in output_size)[-n:]
    if len(out) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} "
                         f"elements, but it has a length of '{len(tuple(output_size))}'")
    return out


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Place ``input`` at the flat ``indices`` (from ``max_pool2d``) of a zero map."""
    size = _unpool_size(input, 2, kernel_size, stride, padding, output_size)
    return _FlatScatter.apply(input, indices, size, False)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """1-d max unpooling."""
    (L,) = _unpool_size(input, 1, kernel_size, stride, padding, output_size)
    idx = _make(indices._data[..., None, :])
    return _FlatScatter.apply(input.unsqueeze(-2), idx, (1, L), False).squeeze(-2)
