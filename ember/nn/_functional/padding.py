"""``pad`` (constant, reflect, replicate, circular) and the axis-gather op pair it shares with
``interpolate``.

A non-constant pad, a nearest or (bi/tri)linear resize are all separable linear maps: along
each affected dim, output ``i`` is ``sum_t w[i, t] * x[idx[i, t]]``. ``_AxisGather`` applies
such maps with ``take``; ``_AxisScatter`` is its adjoint (a sorted segment sum with
``add.reduceat``, so no scatter loops). Each is the other's backward.
"""

from __future__ import annotations

from ..._ops._util import Op, Tensor, xp
from .conv import crop_array, pad_array

__all__ = ["pad"]


def _gather_axis(a, axis, idx, w):
    """``sum_t w[:, t] * take(a, idx[:, t], axis)`` (w None: a single unit tap)."""
    if w is None:
        return xp.take(a, idx[:, 0], axis)
    shape = [1] * a.ndim
    shape[axis] = -1
    out = None
    for t in range(idx.shape[1]):
        term = xp.take(a, idx[:, t], axis) * w[:, t].astype(a.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


def _scatter_axis(g, axis, idx, w, size):
    """The adjoint of :func:`_gather_axis`: segment sums into ``size`` entries."""
    shape = [1] * g.ndim
    shape[axis] = -1
    moved_shape = list(g.shape)
    moved_shape[axis] = size
    out = xp.zeros(moved_shape, dtype=g.dtype)
    for t in range(idx.shape[1]):
        vals = g if w is None else g * w[:, t].astype(g.dtype).reshape(shape)
        order = xp.argsort(idx[:, t], kind="stable")
        sorted_idx = idx[order, t]
        uniq, starts = xp.unique(sorted_idx, return_index=True)
        sums = xp.add.reduceat(xp.take(vals, order, axis), starts, axis)
        key = [slice(None)] * g.ndim
        key[axis] = uniq
        out[tuple(key)] += sums
    return out


class _AxisGather(Op):
    """y = M x with M separable (per-dim taps);  dx = M^T g"""

    @staticmethod
    def forward(ctx, x, maps, name):
        ctx.maps, ctx.node_name = maps, name
        a = x._data
        for axis, idx, w, _ in maps:
            a = _gather_axis(a, axis, idx, w)
        return xp.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        name = ctx.node_name.replace("Backward0", "BackwardBackward0")
        return _AxisScatter.apply(g, ctx.maps, name), None, None


class _AxisScatter(Op):
    """dx = M^T g (the adjoint of ``_AxisGather``);  its backward is M G"""

    @staticmethod
    def forward(ctx, g, maps, name):
        ctx.maps, ctx.node_name = maps, name
        a = g._data
        for axis, idx, w, size in reversed(maps):
            a = _scatter_axis(a, axis, idx, w, size)
        return a

    @staticmethod
    def backward(ctx, gg):
        return _AxisGather.apply(gg, ctx.maps, ctx.node_name), None, None


def axis_map(x: Tensor, maps: tuple, name: str) -> Tensor:
    """Apply separable per-dim tap maps ``((axis, idx, w, in_size), ...)`` to ``x``."""
    return _AxisGather.apply(x, maps, name)


class _ConstantPad(Op):
    """y = pad(x, p, value);  dx = pad(g, -p, 0) (a crop)"""

    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x, pads, value):
        ctx.pads = pads
        a = x._data
        crop = tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in pads)
        a = crop_array(a, crop)
        a = pad_array(a, tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads), value)
        return xp.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return _ConstantPad.apply(g, tuple((-lo, -hi) for lo, hi in ctx.pads), 0), None, None


def _source_index(L: int, lo: int, hi: int, mode: str):
    """For each padded position along one dim, the input position it copies."""
    j = xp.arange(-lo, L + hi)
    if mode == "replicate":
        return xp.clip(j, 0, L - 1)
    if mode == "circular":
        return j % L
    period = 2 * (L - 1)                      # reflect (the edge itself is not repeated)
    j = xp.abs(j) % period if period else xp.zeros_like(j)
    return xp.where(j >= L, period - j, j)


_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
          "circular": "CircularPad{}DBackward0"}


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the trailing dims; ``pad = (left_last, right_last, left_prev, right_prev, ...)``.
    Modes: ``'constant'`` (negative pads crop), ``'reflect'``, ``'replicate'``,
    ``'circular'``."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    n = len(pad) // 2
    if n > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {input.ndim}")
    pads = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(n))[::-1]  # leading dim first
    if mode == "constant":
        for i, (lo, hi) in enumerate(pads):
            if input.shape[input.ndim - n + i] + lo + hi < 0:
                raise RuntimeError(f"The input size {input.shape[input.ndim - n + i]}, plus "
                                   f"negative padding {lo} and {hi} resulted in a negative "
                                   f"output size, which is invalid. Check dimension "
                                   f"{input.ndim - n + i} of your input.")
        return _ConstantPad.apply(input, pads, 0 if value is None else value)
    if mode not in _NAMES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value not in (None, 0):
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if not (n <= 3 and n + 1 <= input.ndim <= n + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    maps = []
    for i, (lo, hi) in enumerate(pads):
        axis = input.ndim - n + i
        L = input.shape[axis]
        if mode == "reflect" and (lo >= L or hi >= L):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {axis} of input {list(input.shape)}")
        if mode == "circular" and (lo > L or hi > L):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if min(lo, hi) < 0:
            raise RuntimeError(f"negative padding is not supported in {mode} mode")
        if lo or hi:
            maps.append((axis, _source_index(L, lo, hi, mode)[:, None], None, L))
    return _AxisGather.apply(input, tuple(maps), _NAMES[mode].format(n))
