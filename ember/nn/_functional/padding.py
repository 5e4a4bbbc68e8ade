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
    """y = M x with M separable (per-dim taps);  dx = M^T g (``cls.adjoint``, the matching
    ``_AxisScatter`` subclass below)"""

    adjoint: type

    @staticmethod
    def forward(ctx, x, maps):
        ctx.save_for_backward(maps)  # the tap arrays
        a = x._data
        for axis, idx, w, _ in maps:
            a = _gather_axis(a, axis, idx, w)
        return xp.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        maps, = ctx.saved_tensors
        return type(ctx).adjoint.apply(g, maps), None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], inputs[1])  # linear


class _AxisScatter(Op):
    """dx = M^T g (the adjoint of ``_AxisGather``);  its backward is M G"""

    adjoint: type

    @staticmethod
    def forward(ctx, g, maps):
        ctx.save_for_backward(maps)
        a = g._data
        for axis, idx, w, size in reversed(maps):
            a = _scatter_axis(a, axis, idx, w, size)
        return a

    @staticmethod
    def backward(ctx, gg):
        maps, = ctx.saved_tensors
        return type(ctx).adjoint.apply(gg, maps), None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], inputs[1])  # linear


# One node class per PyTorch name: the map applied forward, and its adjoint (the map's
# backward, whose own backward is the map again: double backward).


class ReflectionPad1D(_AxisGather):
    node_name = "ReflectionPad1DBackward0"


class ReflectionPad1DBackward(_AxisScatter):
    node_name = "ReflectionPad1DBackwardBackward0"
    adjoint = ReflectionPad1D



class ReplicationPad1D(_AxisGather):
    node_name = "ReplicationPad1DBackward0"


class ReplicationPad1DBackward(_AxisScatter):
    node_name = "ReplicationPad1DBackwardBackward0"
    adjoint = ReplicationPad1D



class CircularPad1D(_AxisGather):
    node_name = "CircularPad1DBackward0"


class CircularPad1DBackward(_AxisScatter):
    node_name = "CircularPad1DBackwardBackward0"
    adjoint = CircularPad1D



class ReflectionPad2D(_AxisGather):
    node_name = "ReflectionPad2DBackward0"


class ReflectionPad2DBackward(_AxisScatter):
    node_name = "ReflectionPad2DBackwardBackward0"
    adjoint = ReflectionPad2D



class ReplicationPad2D(_AxisGather):
    node_name = "ReplicationPad2DBackward0"


class ReplicationPad2DBackward(_AxisScatter):
    node_name = "ReplicationPad2DBackwardBackward0"
    adjoint = ReplicationPad2D



class CircularPad2D(_AxisGather):
    node_name = "CircularPad2DBackward0"


class CircularPad2DBackward(_AxisScatter):
    node_name = "CircularPad2DBackwardBackward0"
    adjoint = CircularPad2D



class ReflectionPad3D(_AxisGather):
    node_name = "ReflectionPad3DBackward0"


class ReflectionPad3DBackward(_AxisScatter):
    node_name = "ReflectionPad3DBackwardBackward0"
    adjoint = ReflectionPad3D



class ReplicationPad3D(_AxisGather):
    node_name = "ReplicationPad3DBackward0"


class ReplicationPad3DBackward(_AxisScatter):
    node_name = "ReplicationPad3DBackwardBackward0"
    adjoint = ReplicationPad3D



class CircularPad3D(_AxisGather):
    node_name = "CircularPad3DBackward0"


class CircularPad3DBackward(_AxisScatter):
    node_name = "CircularPad3DBackwardBackward0"
    adjoint = CircularPad3D



class UpsampleNearest1D(_AxisGather):
    node_name = "UpsampleNearest1DBackward0"


class UpsampleNearest1DBackward(_AxisScatter):
    node_name = "UpsampleNearest1DBackwardBackward0"
    adjoint = UpsampleNearest1D



class UpsampleNearestExact1D(_AxisGather):
    node_name = "UpsampleNearestExact1DBackward0"


class UpsampleNearestExact1DBackward(_AxisScatter):
    node_name = "UpsampleNearestExact1DBackwardBackward0"
    adjoint = UpsampleNearestExact1D



class UpsampleNearest2D(_AxisGather):
    node_name = "UpsampleNearest2DBackward0"


class UpsampleNearest2DBackward(_AxisScatter):
    node_name = "UpsampleNearest2DBackwardBackward0"
    adjoint = UpsampleNearest2D



class UpsampleNearestExact2D(_AxisGather):
    node_name = "UpsampleNearestExact2DBackward0"


class UpsampleNearestExact2DBackward(_AxisScatter):
    node_name = "UpsampleNearestExact2DBackwardBackward0"
    adjoint = UpsampleNearestExact2D



class UpsampleNearest3D(_AxisGather):
    node_name = "UpsampleNearest3DBackward0"


class UpsampleNearest3DBackward(_AxisScatter):
    node_name = "UpsampleNearest3DBackwardBackward0"
    adjoint = UpsampleNearest3D



class UpsampleNearestExact3D(_AxisGather):
    node_name = "UpsampleNearestExact3DBackward0"


class UpsampleNearestExact3DBackward(_AxisScatter):
    node_name = "UpsampleNearestExact3DBackwardBackward0"
    adjoint = UpsampleNearestExact3D



class UpsampleLinear1D(_AxisGather):
    node_name = "UpsampleLinear1DBackward0"


class UpsampleLinear1DBackward(_AxisScatter):
    node_name = "UpsampleLinear1DBackwardBackward0"
    adjoint = UpsampleLinear1D



class UpsampleBilinear2D(_AxisGather):
    node_name = "UpsampleBilinear2DBackward0"


class UpsampleBilinear2DBackward(_AxisScatter):
    node_name = "UpsampleBilinear2DBackwardBackward0"
    adjoint = UpsampleBilinear2D



class UpsampleBicubic2D(_AxisGather):
    node_name = "UpsampleBicubic2DBackward0"


class UpsampleBicubic2DBackward(_AxisScatter):
    node_name = "UpsampleBicubic2DBackwardBackward0"
    adjoint = UpsampleBicubic2D



class UpsampleTrilinear3D(_AxisGather):
    node_name = "UpsampleTrilinear3DBackward0"


class UpsampleTrilinear3DBackward(_AxisScatter):
    node_name = "UpsampleTrilinear3DBackwardBackward0"
    adjoint = UpsampleTrilinear3D


_AXIS_NODES = {cls.node_name: cls for cls in _AxisGather.__subclasses__()}
for _cls in _AxisScatter.__subclasses__():
    _cls.adjoint.adjoint = _cls
del _cls


def axis_map(x: Tensor, maps: tuple, name: str) -> Tensor:
    """Apply separable per-dim tap maps ``((axis, idx, w, in_size), ...)`` to ``x``, recorded
    as the node class named ``name`` (one of those above)."""
    return _AXIS_NODES[name].apply(x, maps)


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

    @staticmethod
    def jvp(inputs, out, tangents):
        return _ConstantPad.apply(tangents[0], inputs[1], 0)  # the fill value is constant


def _source_index(L: int, lo: int, hi: int, mode: str):
    """For each padded position along one dim, the input position it copies."""
    j = xp.arange(-lo, L + hi)
    if mode == "replicate":
        return xp.clip(j, 0, L - 1)
    if mode == "circular":
        # Negative pads crop first; positive ones then wrap around the cropped range.
        c0, c1 = max(-lo, 0), L - max(-hi, 0)
        k = xp.arange(-max(lo, 0), c1 - c0 + max(hi, 0))
        return c0 + k % (c1 - c0)
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
        if lo or hi:
            maps.append((axis, _source_index(L, lo, hi, mode)[:, None], None, L))
    return axis_map(input, tuple(maps), _NAMES[mode].format(n))
