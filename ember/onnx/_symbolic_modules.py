"""Module-level ONNX translations: layers whose ONNX form is one op (Conv, LSTM, ...) or reads
better from the module's configuration than from the ops its forward runs. Each gets the
tracer, the module, the forward's arguments and its output; it returns the output value
name(s), flattened in the order of the module's (nested) outputs."""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from .._tensor import Tensor
from ._symbolic_nn import layer_norm, linear
from .errors import UnsupportedOperatorError

MODULES: dict = {}


def module(*names: str):
    """Register for the ``ember.nn`` classes of these names (those ember has)."""
    def register(fn):
        for n in names:
            cls = getattr(nn, n, None)
            if cls is not None:
                MODULES[cls] = fn
        return fn
    return register


def _dt(x):
    return x._data.dtype


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


@module("Linear")
def _linear(tr, m, x, *, out):
    dt = _dt(out)
    b = tr.value(m.bias, dt) if m.bias is not None else None
    return linear(tr, tr.value(x, dt), tr.value(m.weight, dt), b, x.ndim, dt)


def _batched(tr, x, n_spatial):
    """Unbatched conv/pool input (C, *spatial) gets a batch dim of 1."""
    v = tr.value(x)
    unbatched = x.ndim == n_spatial + 1
    return (tr.g.unsqueeze(v, [0]) if unbatched else v), unbatched


def _conv_pads(m, n, weight_shape):
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return [0] * 2 * n
        dil = _tuple(m.dilation, n)
        total = [d * (k - 1) for d, k in zip(dil, weight_shape[2:])]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    p = _tuple(m.padding, n)
    return list(p) + list(p)


@module("Conv1d", "Conv2d", "Conv3d")
def _conv(tr, m, x, *, out):
    n = len(m.weight.shape) - 2
    dt = _dt(out)
    v, unbatched = _batched(tr, x, n)
    pads = _conv_pads(m, n, m.weight.shape)
    if m.padding_mode != "zeros" and any(pads):
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[m.padding_mode]
        if mode == "wrap" and tr.g.opset < 19:
            raise UnsupportedOperatorError("Conv", "circular padding needs opset_version >= 19")
        full = [0, 0] + pads[:n] + [0, 0] + pads[n:]
        v = tr.g.node("Pad", [v, tr.g.ints(full)], mode=mode, dtype=dt)
        pads = [0] * 2 * n
    ins = [v, tr.value(m.weight, dt)]
    if m.bias is not None:
        ins.append(tr.value(m.bias, dt))
    y = tr.g.node("Conv", ins, kernel_shape=list(m.weight.shape[2:]), pads=pads,
                  strides=list(_tuple(m.stride, n)), dilations=list(_tuple(m.dilation, n)),
                  group=int(m.groups), dtype=dt)
    return tr.g.squeeze(y, [0]) if unbatched else y


@module("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _conv_transpose(tr, m, x, output_size=None, *, out):
    n = len(m.weight.shape) - 2
    dt = _dt(out)
    v, unbatched = _batched(tr, x, n)
    # The output padding that gives ember's output size (also when output_size was asked).
    stride, dil = _tuple(m.stride, n), _tuple(m.dilation, n)
    pad = _tuple(m.padding, n)
    spatial_in, spatial_out = x.shape[-n:], out.shape[-n:]
    extra = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in
             zip(spatial_out, spatial_in, stride, pad, dil, m.weight.shape[2:])]
    ins = [v, tr.value(m.weight, dt)] + ([tr.value(m.bias, dt)] if m.bias is not None else [])
    y = tr.g.node("ConvTranspose", ins, kernel_shape=list(m.weight.shape[2:]),
                  pads=list(pad) * 2, strides=list(stride), dilations=list(dil),
                  group=int(m.groups), output_padding=extra, dtype=dt)
    return tr.g.squeeze(y, [0]) if unbatched else y


@module("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _batch_norm(tr, m, x, *, out):
    dt = _dt(out)
    if m.training or m.running_mean is None:
        raise UnsupportedOperatorError(type(m).__name__, "only inference-mode batch norm "
                                       "(eval() with running statistics) is supported")
    c = x.shape[1]
    scale = tr.value(m.weight, dt) if m.weight is not None else tr.g.const(np.ones(c, dt))
    bias = tr.value(m.bias, dt) if m.bias is not None else tr.g.const(np.zeros(c, dt))
    return tr.g.node("BatchNormalization", [tr.value(x, dt), scale, bias,
                                            tr.value(m.running_mean, dt),
                                            tr.value(m.running_var, dt)],
                     epsilon=float(m.eps), dtype=dt)


@module("LayerNorm")
def _layer_norm(tr, m, x, *, out):
    dt = _dt(out)
    k = len(m.normalized_shape)
    shape = tuple(m.normalized_shape)
    scale = tr.value(m.weight, dt) if m.weight is not None else tr.g.const(np.ones(shape, dt))
    bias = tr.value(m.bias, dt) if getattr(m, "bias", None) is not None else None
    return layer_norm(tr, tr.value(x, dt), scale, bias, -k, float(m.eps), dt)


@module("GroupNorm")
def _group_norm(tr, m, x, *, out):
    dt = _dt(out)
    g = tr.g
    v = tr.value(x, dt)
    grouped = g.reshape(v, [0, m.num_groups, -1])
    mean = g.reduce("ReduceMean", grouped, [2], True, dtype=dt)
    diff = g.node("Sub", [grouped, mean], dtype=dt)
    var = g.reduce("ReduceMean", g.node("Mul", [diff, diff], dtype=dt), [2], True, dtype=dt)
    std = g.node("Sqrt", [g.node("Add", [var, tr.value(float(m.eps), dt)], dtype=dt)], dtype=dt)
    y = g.node("Reshape", [g.node("Div", [diff, std], dtype=dt),
                           g.node("Shape", [v], dtype=np.int64)], dtype=dt)
    if m.affine:
        axes = list(range(1, x.ndim - 1))
        w = g.unsqueeze(tr.value(m.weight, dt), axes) if axes else tr.value(m.weight, dt)
        b = g.unsqueeze(tr.value(m.bias, dt), axes) if axes else tr.value(m.bias, dt)
        y = g.node("Add", [g.node("Mul", [y, w], dtype=dt), b], dtype=dt)
    return y


@module("Embedding")
def _embedding(tr, m, idx, *, out):
    if m.max_norm is not None:
        raise UnsupportedOperatorError("Embedding", "max_norm renormalises the weight in place")
    return tr.g.node("Gather", [tr.value(m.weight), tr.value(idx, np.int64)], axis=0,
                     dtype=_dt(out))


@module("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity")
def _dropout(tr, m, x, *args, out, **kwargs):
    if getattr(m, "training", False) and getattr(m, "p", 0) > 0:
        raise UnsupportedOperatorError(type(m).__name__, "dropout in training mode")
    return tr.value(x)


@module("Flatten")
def _flatten(tr, m, x, *, out):
    n = x.ndim
    start, end = m.start_dim % max(n, 1), m.end_dim % max(n, 1)
    if n == 0 or start >= end:
        return tr.value(x) if tuple(out.shape) == tuple(x.shape) else tr.g.reshape(
            tr.value(x), list(out.shape))
    spec = [0] * start + [-1] + list(x.shape[end + 1:])
    return tr.g.reshape(tr.value(x), spec)


def _pool_common(m, n):
    k = _tuple(m.kernel_size, n)
    s = _tuple(m.stride if m.stride else m.kernel_size, n)
    p = _tuple(m.padding, n)
    return k, s, p


@module("MaxPool1d", "MaxPool2d", "MaxPool3d")
def _max_pool(tr, m, x, *, out):
    n = int(type(m).__name__[-2])
    if m.return_indices:
        raise UnsupportedOperatorError(type(m).__name__, "return_indices=True")
    k, s, p = _pool_common(m, n)
    v, unbatched = _batched(tr, x, n)
    y = tr.g.node("MaxPool", [v], kernel_shape=list(k), strides=list(s), pads=list(p) * 2,
                  dilations=list(_tuple(m.dilation, n)), ceil_mode=int(m.ceil_mode),
                  dtype=_dt(x))
    return tr.g.squeeze(y, [0]) if unbatched else y


@module("AvgPool1d", "AvgPool2d", "AvgPool3d")
def _avg_pool(tr, m, x, *, out):
    n = int(type(m).__name__[-2])
    if getattr(m, "divisor_override", None):
        raise UnsupportedOperatorError(type(m).__name__, "divisor_override")
    k, s, p = _pool_common(m, n)
    v, unbatched = _batched(tr, x, n)
    y = tr.g.node("AveragePool", [v], kernel_shape=list(k), strides=list(s),
                  pads=list(p) * 2, ceil_mode=int(m.ceil_mode),
                  count_include_pad=int(m.count_include_pad), dtype=_dt(x))
    return tr.g.squeeze(y, [0]) if unbatched else y


@module("AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def _adaptive_pool(tr, m, x, *, out):
    name = type(m).__name__
    n = int(name[-2])
    is_max = "Max" in name
    if is_max and m.return_indices:
        raise UnsupportedOperatorError(name, "return_indices=True")
    v, unbatched = _batched(tr, x, n)
    spatial_in, spatial_out = x.shape[-n:], out.shape[-n:]
    if all(o == 1 for o in spatial_out):
        y = tr.g.node("GlobalMaxPool" if is_max else "GlobalAveragePool", [v], dtype=_dt(x))
    elif all(i % o == 0 for i, o in zip(spatial_in, spatial_out)):
        k = [i // o for i, o in zip(spatial_in, spatial_out)]
        y = tr.g.node("MaxPool" if is_max else "AveragePool", [v], kernel_shape=k, strides=k,
                      dtype=_dt(x))
    else:
        raise UnsupportedOperatorError(name, "output size must divide the input size")
    return tr.g.squeeze(y, [0]) if unbatched else y


@module("Upsample")
def _upsample(tr, m, x, *, out):
    mode = {"nearest": ("nearest", "asymmetric"), "linear": ("linear", None),
            "bilinear": ("linear", None), "trilinear": ("linear", None),
            "bicubic": ("cubic", None)}.get(m.mode)
    if mode is None:
        raise UnsupportedOperatorError("Upsample", f"mode {m.mode!r}")
    onnx_mode, transform = mode
    if transform is None:
        transform = "align_corners" if m.align_corners else "pytorch_half_pixel"
    # Batch and channel sizes come from the input, so a dynamic batch still works.
    v = tr.value(x)
    lead = tr.g.slice(tr.g.node("Shape", [v], dtype=np.int64), [0], [2], [0])
    sizes = tr.g.node("Concat", [lead, tr.g.ints(out.shape[2:])], axis=0, dtype=np.int64)
    return tr.g.node("Resize", [v, "", "", sizes], mode=onnx_mode,
                     coordinate_transformation_mode=transform,
                     nearest_mode="floor" if onnx_mode == "nearest" else None,
                     cubic_coeff_a=-0.75 if onnx_mode == "cubic" else None, dtype=_dt(x))


# ------------------------------------------------------------------------------ recurrent
_GATE_ORDER = {"LSTM": [0, 3, 1, 2],  # PyTorch i f g o -> ONNX i o f c
               "GRU": [1, 0, 2]}       # PyTorch r z n -> ONNX z r h


def _gates(w: np.ndarray, mode: str) -> np.ndarray:
    order = _GATE_ORDER.get(mode)
    if order is None:
        return w
    return np.concatenate([c for c in (np.split(w, len(order), axis=0)[i] for i in order)])


@module("LSTM", "GRU", "RNN")
def _rnn(tr, m, x, hx=None, *, out):
    kind = type(m).__name__
    if not isinstance(x, Tensor):
        raise UnsupportedOperatorError(kind, "packed sequences")
    if getattr(m, "proj_size", 0):
        raise UnsupportedOperatorError(kind, "proj_size > 0")
    g = tr.g
    dt = _dt(x)
    H = m.hidden_size
    dirs = 2 if m.bidirectional else 1
    unbatched = x.ndim == 2
    v = tr.value(x, dt)
    if unbatched:
        v = g.unsqueeze(v, [1])
    elif m.batch_first:
        v = g.transpose(v, [1, 0, 2])
    states = []  # initial (h, c) values, (layers * dirs, batch, H)
    for s in (hx if isinstance(hx, (tuple, list)) else (hx,)) if hx is not None else ():
        sv = tr.value(s, dt)
        states.append(g.unsqueeze(sv, [1]) if unbatched else sv)
    h_out, c_out = [], []
    for layer in range(m.num_layers):
        sfx = [f"_l{layer}", f"_l{layer}_reverse"][:dirs]
        W = np.stack([_gates(getattr(m, "weight_ih" + s)._data, kind) for s in sfx])
        R = np.stack([_gates(getattr(m, "weight_hh" + s)._data, kind) for s in sfx])
        ins = [v, g.const(W.astype(dt)), g.const(R.astype(dt))]
        if m.bias:
            B = np.stack([np.concatenate([_gates(getattr(m, "bias_ih" + s)._data, kind),
                                          _gates(getattr(m, "bias_hh" + s)._data, kind)])
                          for s in sfx])
            ins.append(g.const(B.astype(dt)))
        else:
            ins.append("")
        ins.append("")  # sequence_lens
        for st in states:
            ins.append(g.slice(st, [layer * dirs], [(layer + 1) * dirs], [0]))
        attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
        if kind == "GRU":
            attrs["linear_before_reset"] = 1
        if kind == "RNN":
            attrs["activations"] = ["Tanh" if m.nonlinearity == "tanh" else "Relu"] * dirs
        n_out = 3 if kind == "LSTM" else 2
        outs = g.node(kind, ins, n_out, **attrs)
        for o in outs:
            g.dtypes[o] = np.dtype(dt)
        y = outs[0]  # (seq, dirs, batch, H)
        h_out.append(outs[1])
        if kind == "LSTM":
            c_out.append(outs[2])
        y = g.transpose(y, [0, 2, 1, 3])
        v = g.reshape(y, [0, 0, -1])
    if unbatched:
        v = g.squeeze(v, [1])
    elif m.batch_first:
        v = g.transpose(v, [1, 0, 2])

    def final(parts):
        cat = parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=0, dtype=dt)
        return g.squeeze(cat, [1]) if unbatched else cat

    if kind == "LSTM":
        return [v, final(h_out), final(c_out)]
    return [v, final(h_out)]


# ------------------------------------------------------------------------------ attention
@module("MultiheadAttention")
def _mha(tr, m, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
         average_attn_weights=True, is_causal=False, *, out):
    if m.bias_k is not None or m.add_zero_attn:
        raise UnsupportedOperatorError("MultiheadAttention", "add_bias_kv / add_zero_attn")
    g = tr.g
    dt = _dt(query)
    E, Hn = m.embed_dim, m.num_heads
    D = E // Hn
    unbatched = query.ndim == 2

    def batch_major(t):
        v = tr.value(t, dt)
        if unbatched:
            return g.unsqueeze(v, [0])
        return v if m.batch_first else g.transpose(v, [1, 0, 2])

    q_in, k_in, v_in = batch_major(query), batch_major(key), batch_major(value)
    if m._qkv_same_embed_dim:
        w = m.in_proj_weight._data
        ws = [w[:E], w[E:2 * E], w[2 * E:]]
    else:
        ws = [m.q_proj_weight._data, m.k_proj_weight._data, m.v_proj_weight._data]
    bs = ([m.in_proj_bias._data[i * E:(i + 1) * E] for i in range(3)]
          if m.in_proj_bias is not None else [None] * 3)

    def project(x, w, b):  # (B, L, e) -> (B, heads, L, D)
        y = g.node("MatMul", [x, g.const(np.ascontiguousarray(w.T).astype(dt))], dtype=dt)
        if b is not None:
            y = g.node("Add", [y, g.const(b.astype(dt))], dtype=dt)
        return g.transpose(g.reshape(y, [0, 0, Hn, D]), [0, 2, 1, 3])

    q, k, v = (project(x, w, b) for x, w, b in zip((q_in, k_in, v_in), ws, bs))
    scores = g.node("MatMul", [q, g.transpose(k, [0, 1, 3, 2])], dtype=dt)
    scores = g.node("Mul", [scores, g.const(np.asarray(1 / math.sqrt(D), dt))], dtype=dt)
    L, S = query.shape[-2 if m.batch_first or unbatched else 0], key.shape[
        -2 if m.batch_first or unbatched else 0]
    neg_inf = g.const(np.asarray(-np.inf, dt))
    if attn_mask is None and is_causal:
        attn_mask = np.triu(np.ones((L, S), bool), 1)
    if attn_mask is not None:
        am = tr.value(attn_mask)
        if attn_mask.ndim == 3:
            am = g.reshape(am, [-1, Hn, L, S])
        mask_dtype = attn_mask._data.dtype if isinstance(attn_mask, Tensor) else attn_mask.dtype
        if mask_dtype.kind == "b":
            scores = g.node("Where", [am, neg_inf, scores], dtype=dt)
        else:
            scores = g.node("Add", [scores, g.cast(am, dt)], dtype=dt)
    if key_padding_mask is not None:
        kpm = tr.value(key_padding_mask)
        kpm = g.unsqueeze(kpm, [0, 1, 2] if unbatched else [1, 2])
        if key_padding_mask._data.dtype.kind == "b":
            scores = g.node("Where", [kpm, neg_inf, scores], dtype=dt)
        else:
            scores = g.node("Add", [scores, g.cast(kpm, dt)], dtype=dt)
    attn = g.node("Softmax", [scores], axis=-1, dtype=dt)
    ctx = g.node("MatMul", [attn, v], dtype=dt)  # (B, heads, L, D)
    ctx = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, E])
    ob = tr.value(m.out_proj.bias, dt) if m.out_proj.bias is not None else None
    y = linear(tr, ctx, tr.value(m.out_proj.weight, dt), ob, 3, dt)
    if unbatched:
        y = g.squeeze(y, [0])
    elif not m.batch_first:
        y = g.transpose(y, [1, 0, 2])
    if not need_weights:
        return [y, None]
    weights = g.reduce("ReduceMean", attn, [1], False, dtype=dt) if average_attn_weights \
        else attn
    if unbatched:
        weights = g.squeeze(weights, [0])
    return [y, weights]

