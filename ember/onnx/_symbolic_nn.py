"""ONNX translations of matmul/linear, reductions, normalisation, convolution, pooling and
resampling ops (see ``_symbolic_ops``)."""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ._symbolic_ops import _dims, _dt, _nd, _shape, op
from ._symbolic_shapes import reshape
from .errors import UnsupportedOperatorError


# ------------------------------------------------------------------------------ matmul/linear
@op("MmBackward0", "BmmBackward0", "MmBackward", "MatmulBackward0", "DotBackward0",
    "MvBackward0")
def _matmul(tr, a, b, *rest, out):
    dt = _dt(out)
    return tr.g.node("MatMul", [tr.value(a, dt), tr.value(b, dt)], dtype=dt)


@op("UnsafeViewBackward0", "ViewBackward0", "ReshapeAliasBackward0", "_UnsafeViewBackward0")
def _view_or_matmul(tr, x, shape, *rest, out):
    if isinstance(shape, Tensor):  # matmul of batched operands records UnsafeViewBackward0
        return _matmul(tr, x, shape, out=out)
    return reshape(tr, tr.value(x), _shape(x), _shape(out))


@op("AddmmBackward0", "LinearBackward0")
def _addmm(tr, x, w, b=None, *rest, out):
    """F.linear: x @ w.T + b (ember records addmm with the (out, in) weight)."""
    dt = _dt(out)
    return linear(tr, tr.value(x, dt), tr.value(w, dt), tr.value(b, dt) if b is not None
                  else None, _nd(x), dt)


def linear(tr, x: str, w: str, b: str | None, ndim: int, dt) -> str:
    if ndim == 2:
        return tr.g.node("Gemm", [x, w] + ([b] if b else []), transB=1, dtype=dt)
    y = tr.g.node("MatMul", [x, tr.g.transpose(w, [1, 0])], dtype=dt)
    return tr.g.node("Add", [y, b], dtype=dt) if b else y


@op("BaddbmmBackward0", "AddbmmBackward0")
def _baddbmm(tr, x, a, b, beta=1, alpha=1, *, out):
    dt = _dt(out)
    prod = tr.g.node("MatMul", [tr.value(a, dt), tr.value(b, dt)], dtype=dt)
    if alpha != 1:
        prod = tr.g.node("Mul", [prod, tr.value(alpha, dt)], dtype=dt)
    base = tr.value(x, dt)
    if beta != 1:
        base = tr.g.node("Mul", [base, tr.value(beta, dt)], dtype=dt)
    return tr.g.node("Add", [base, prod], dtype=dt)


# ------------------------------------------------------------------------------ reductions
def _reduce(onnx_op: str):
    def emit(tr, x, dims=None, keepdim=False, *rest, out):
        dt = _dt(out)
        n = _nd(x)
        if n == 0:
            return tr.value(x, dt)
        return tr.g.reduce(onnx_op, tr.value(x, dt), _dims(dims, n), bool(keepdim), dtype=dt)
    return emit


op("SumBackward0", "SumBackward1")(_reduce("ReduceSum"))
op("MeanBackward0", "MeanBackward1")(_reduce("ReduceMean"))
op("AmaxBackward0", "MaxBackward1")(_reduce("ReduceMax"))
op("AminBackward0", "MinBackward1")(_reduce("ReduceMin"))
op("ProdBackward0", "ProdBackward1")(_reduce("ReduceProd"))
op("LogsumexpBackward0")(_reduce("ReduceLogSumExp"))


@op("MaxBackward0", "MinBackward0")
def _max_dim(tr, x, dim, keepdim=False, *rest, out):
    is_max = tr.current == "MaxBackward0"
    v = tr.value(x)
    d = int(dim) % max(_nd(x), 1)
    values = tr.g.reduce("ReduceMax" if is_max else "ReduceMin", v, [d], bool(keepdim),
                         dtype=_dt(out))
    idx = tr.g.node("ArgMax" if is_max else "ArgMin", [v], axis=d, keepdims=int(keepdim),
                    dtype=np.int64)
    return [values, idx]


@op("VarBackward0", "StdBackward0")
def _var(tr, x, dims=None, correction=1, keepdim=False, *rest, out):
    dt = _dt(out)
    n = _nd(x)
    axes = _dims(dims, n)
    v = tr.value(x, dt)
    mean = tr.g.reduce("ReduceMean", v, axes, True, dtype=dt)
    diff = tr.g.node("Sub", [v, mean], dtype=dt)
    sq = tr.g.reduce("ReduceSum", tr.g.node("Mul", [diff, diff], dtype=dt), axes,
                     bool(keepdim), dtype=dt)
    count = int(np.prod([_shape(x)[a] for a in axes])) - (correction or 0)
    var = tr.g.node("Div", [sq, tr.value(float(max(count, 0)), dt)], dtype=dt)
    return tr.g.node("Sqrt", [var], dtype=dt) if tr.current == "StdBackward0" else var


@op("LinalgVectorNormBackward0", "NormBackward1", "NormBackward0")
def _norm(tr, x, ord=2.0, dims=None, keepdim=False, *rest, out):
    dt = _dt(out)
    n = _nd(x)
    v = tr.value(x, dt)
    axes = _dims(dims, n)
    if ord == 2:
        return tr.g.reduce("ReduceL2", v, axes, bool(keepdim), dtype=dt)
    if ord == 1:
        return tr.g.reduce("ReduceL1", v, axes, bool(keepdim), dtype=dt)
    if ord == math.inf:
        return tr.g.reduce("ReduceMax", tr.g.node("Abs", [v], dtype=dt), axes, bool(keepdim),
                           dtype=dt)
    p = tr.value(float(ord), dt)
    s = tr.g.reduce("ReduceSum", tr.g.node("Pow", [tr.g.node("Abs", [v], dtype=dt), p],
                                           dtype=dt), axes, bool(keepdim), dtype=dt)
    return tr.g.node("Pow", [s, tr.value(1.0 / ord, dt)], dtype=dt)


@op("CumsumBackward0")
def _cumsum(tr, x, dim, *rest, out):
    dt = _dt(out)
    return tr.g.node("CumSum", [tr.value(x, dt), tr.g.const(np.int64(int(dim) % _nd(x)))],
                     dtype=dt)


# ------------------------------------------------------------------------------ nn ops
@op("NativeLayerNormBackward0", "NativeGroupNormBackward0")
def _layer_norm(tr, x, w, b, group_shape, axes, affine_shape, eps, *rest, out):
    """layer_norm (normalise the trailing dims ``w`` covers) as LayerNormalization; group_norm
    and instance_norm (normalise over ``axes`` of x viewed as ``group_shape``) decomposed."""
    dt = _dt(out)
    shape = _shape(x)
    k = _nd(w) if w is not None else next(
        (k for k in range(1, len(shape) + 1) if int(np.prod(shape[-k:])) == group_shape[-1]),
        0)
    layer_like = (k and tuple(group_shape) == (int(np.prod(shape[:-k] or (1,))),
                                               int(np.prod(shape[-k:])))
                  and tuple(axes) == (1,) and (w is None or _shape(w) == shape[-k:]))
    if layer_like:
        scale = tr.value(w, dt) if w is not None else tr.g.const(np.ones(shape[-k:], dt))
        bias = tr.value(b, dt) if b is not None else None
        return layer_norm(tr, tr.value(x, dt), scale, bias, -k, float(eps), dt)
    g = tr.g
    v = tr.value(x, dt)
    grouped = reshape(tr, v, shape, tuple(group_shape))
    red = [int(a) for a in axes]
    mean = g.reduce("ReduceMean", grouped, red, True, dtype=dt)
    diff = g.node("Sub", [grouped, mean], dtype=dt)
    var = g.reduce("ReduceMean", g.node("Mul", [diff, diff], dtype=dt), red, True, dtype=dt)
    std = g.node("Sqrt", [g.node("Add", [var, tr.value(float(eps), dt)], dtype=dt)], dtype=dt)
    y = g.node("Div", [diff, std], dtype=dt)
    y = g.node("Reshape", [y, g.node("Shape", [v], dtype=np.int64)], dtype=dt)
    if w is not None:
        y = g.node("Mul", [y, g.reshape(tr.value(w, dt), list(affine_shape))], dtype=dt)
    if b is not None:
        y = g.node("Add", [y, g.reshape(tr.value(b, dt), list(affine_shape))], dtype=dt)
    return y


def layer_norm(tr, x: str, scale: str, bias: str | None, axis: int, eps: float, dt) -> str:
    if tr.g.opset >= 17:
        return tr.g.node("LayerNormalization", [x, scale] + ([bias] if bias else []),
                         axis=axis, epsilon=eps, dtype=dt)
    n = len(tr.g.shapes.get(x, ())) or -axis
    axes = list(range(n + axis if axis < 0 else axis, n)) if n else [-1]
    mean = tr.g.reduce("ReduceMean", x, axes, True, dtype=dt)
    diff = tr.g.node("Sub", [x, mean], dtype=dt)
    var = tr.g.reduce("ReduceMean", tr.g.node("Mul", [diff, diff], dtype=dt), axes, True,
                      dtype=dt)
    std = tr.g.node("Sqrt", [tr.g.node("Add", [var, tr.value(eps, dt)], dtype=dt)], dtype=dt)
    y = tr.g.node("Mul", [tr.g.node("Div", [diff, std], dtype=dt), scale], dtype=dt)
    return tr.g.node("Add", [y, bias], dtype=dt) if bias else y


@op("NativeBatchNormBackward0")
def _batch_norm(tr, x, w, b, mean, var, *rest, out):
    dt = _dt(out)
    c = _shape(x)[1]
    eps = next((r for r in rest if isinstance(r, float)), 1e-5)
    if mean is None or var is None:
        raise UnsupportedOperatorError(tr.current, "batch statistics (training mode) cannot "
                                       "be exported; call model.eval()")
    scale = tr.value(w, dt) if w is not None else tr.g.const(np.ones(c, dt))
    bias = tr.value(b, dt) if b is not None else tr.g.const(np.zeros(c, dt))
    return tr.g.node("BatchNormalization", [tr.value(x, dt), scale, bias, tr.value(mean, dt),
                                            tr.value(var, dt)], epsilon=float(eps), dtype=dt)


# ------------------------------------------------------------------------------ conv / pool
@op("ConvolutionBackward0")
def _convolution(tr, x, w, b, geometry, kind="C", out_size=None, *rest, out):
    """F.conv{1,2,3}d and F.conv_transpose{1,2,3}d: (stride, pads, dilation, groups)."""
    stride, pads, dilation, groups = geometry
    n = len(stride)
    dt = _dt(out)
    v = tr.value(x, dt)
    unbatched = _nd(x) == n + 1
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    ins = [v, tr.value(w, dt)] + ([tr.value(b, dt)] if b is not None else [])
    attrs = dict(kernel_shape=list(_shape(w)[2:]), strides=[int(s) for s in stride],
                 pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                 dilations=[int(d) for d in dilation], group=int(groups))
    if kind == "T":
        spatial_in, spatial_out = _shape(x)[-n:], _shape(out)[-n:]
        attrs["output_padding"] = [
            o - ((i - 1) * s - p[0] - p[1] + d * (k - 1) + 1) for o, i, s, p, d, k in
            zip(spatial_out, spatial_in, stride, pads, dilation, _shape(w)[2:])]
        y = tr.g.node("ConvTranspose", ins, dtype=dt, **attrs)
    else:
        y = tr.g.node("Conv", ins, dtype=dt, **attrs)
    return tr.g.squeeze(y, [0]) if unbatched else y


def _ceil_mode(spatial_in, spatial_out, kernel, stride, pads, dilation) -> int:
    floor = [(i + p[0] + p[1] - d * (k - 1) - 1) // s + 1 for i, k, s, p, d in
             zip(spatial_in, kernel, stride, pads, dilation)]
    return int(list(floor) != list(spatial_out))


@op("MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0",
    "MaxPool1DWithIndicesBackward0")
def _max_pool(tr, x, geometry, *rest, out):
    kernel, stride, pads, dilation = geometry[:4]
    n = len(kernel)
    values = out[0] if isinstance(out, (tuple, list)) else out
    unbatched = _nd(x) == n + 1
    v = tr.value(x)
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    spatial = _shape(x)[-n:]
    y, idx = tr.g.node("MaxPool", [v], 2, kernel_shape=[int(k) for k in kernel],
                       strides=[int(s) for s in stride],
                       pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                       dilations=[int(d) for d in dilation],
                       ceil_mode=_ceil_mode(spatial, _shape(values)[-n:], kernel, stride, pads,
                                            dilation))
    tr.g.dtypes[y] = _dt(values)
    # ONNX indexes the whole flattened input; PyTorch each channel's spatial plane.
    idx = tr.g.node("Mod", [idx, tr.g.const(np.int64(np.prod(spatial)))], fmod=0,
                    dtype=np.int64)
    if unbatched:
        y, idx = tr.g.squeeze(y, [0]), tr.g.squeeze(idx, [0])
    return [y, idx] if isinstance(out, (tuple, list)) else y


@op("AvgPool2DBackward0", "AvgPool3DBackward0", "AvgPool1DBackward0")
def _avg_pool(tr, x, geometry, divisor=None, divisor_override=None, *rest, out):
    kernel, stride, pads, dilation = geometry[:4]
    if divisor_override:
        raise UnsupportedOperatorError(tr.current, "divisor_override")
    n = len(kernel)
    unbatched = _nd(x) == n + 1
    v = tr.value(x)
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    full = int(np.prod([int(k) for k in kernel]))
    include = int(divisor is None or bool(np.all(np.asarray(divisor) == full)))
    y = tr.g.node("AveragePool", [v], kernel_shape=[int(k) for k in kernel],
                  strides=[int(s) for s in stride],
                  pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                  count_include_pad=include,
                  ceil_mode=_ceil_mode(_shape(x)[-n:], _shape(out)[-n:], kernel, stride, pads,
                                       dilation), dtype=_dt(out))
    return tr.g.squeeze(y, [0]) if unbatched else y


@op("AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool1DBackward0", "AdaptiveAvgPool3DBackward0")
def _adaptive_avg(tr, x, mats, *rest, out):
    """Adaptive average pooling is a fixed linear map per spatial axis: global pooling when
    the output is 1, otherwise a MatMul with each axis's averaging matrix."""
    dt = _dt(out)
    n = len(mats)
    v = tr.value(x, dt)
    if all(_shape(out)[-n:][i] == 1 for i in range(n)) and _nd(x) == n + 2:
        return tr.g.node("GlobalAveragePool", [v], dtype=dt)
    nd = _nd(x)
    for i, m in enumerate(mats):
        axis = nd - n + i
        m = np.asarray(m, dtype=dt)  # (out, in)
        # Move ``axis`` last, multiply by m.T, move it back.
        perm = [d for d in range(nd) if d != axis] + [axis]
        inv = list(np.argsort(perm))
        t = tr.g.transpose(v, perm)
        t = tr.g.node("MatMul", [t, tr.g.const(np.ascontiguousarray(m.T))], dtype=dt)
        v = tr.g.transpose(t, inv)
    return v


@op("AdaptiveMaxPool2DBackward0", "AdaptiveMaxPool1DBackward0", "AdaptiveMaxPool3DBackward0")
def _adaptive_max(tr, x, out_size, *rest, out):
    values = out[0] if isinstance(out, (tuple, list)) else out
    n = len(out_size)
    spatial_in, spatial_out = _shape(x)[-n:], _shape(values)[-n:]
    if _nd(x) != n + 2 or not all(i % o == 0 for i, o in zip(spatial_in, spatial_out)):
        raise UnsupportedOperatorError(tr.current, "batched input whose size the output size "
                                       "divides")
    k = [i // o for i, o in zip(spatial_in, spatial_out)]
    y, idx = tr.g.node("MaxPool", [tr.value(x)], 2, kernel_shape=k, strides=k)
    tr.g.dtypes[y] = _dt(values)
    idx = tr.g.node("Mod", [idx, tr.g.const(np.int64(np.prod(spatial_in)))], fmod=0,
                    dtype=np.int64)
    return [y, idx] if isinstance(out, (tuple, list)) else y


@op("UpsampleNearest1DBackward0", "UpsampleNearest2DBackward0", "UpsampleNearest3DBackward0",
    "UpsampleNearestExact1DBackward0", "UpsampleNearestExact2DBackward0",
    "UpsampleNearestExact3DBackward0", "UpsampleLinear1DBackward0",
    "UpsampleBilinear2DBackward0", "UpsampleBicubic2DBackward0",
    "UpsampleTrilinear3DBackward0")
def _axis_map(tr, x, maps, *rest, out):
    """Resampling as recorded by ember: per axis, gather source positions (``idx``, one column
    per tap) and blend them with weights ``w`` (None for nearest)."""
    dt = _dt(out)
    v = tr.value(x, dt)
    nd = _nd(x)
    for axis, idx, w, _ in maps:
        idx = np.asarray(idx, dtype=np.int64)
        idx = idx.reshape(idx.shape[0], -1)
        acc = None
        for j in range(idx.shape[1]):
            g = tr.g.node("Gather", [v, tr.g.const(idx[:, j])], axis=int(axis), dtype=dt)
            if w is not None:
                wj = np.asarray(w, dtype=dt).reshape(idx.shape[0], -1)[:, j]
                g = tr.g.node("Mul", [g, tr.g.const(wj.reshape((-1,) + (1,) * (nd - 1 - axis)))],
                              dtype=dt)
            acc = g if acc is None else tr.g.node("Add", [acc, g], dtype=dt)
        v = acc
    return v


@op("PixelShuffleBackward0")
def _pixel_shuffle(tr, x, r, *rest, out):
    if _nd(x) != 4:
        raise UnsupportedOperatorError(tr.current, "only 4-d input")
    return tr.g.node("DepthToSpace", [tr.value(x)], blocksize=int(r), mode="CRD",
                     dtype=_dt(out))
