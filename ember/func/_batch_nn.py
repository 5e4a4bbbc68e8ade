"""Batching rules for the matmul family, ``linear``, losses, layer norm and embedding.

Matrix products follow ``matmul``'s logical semantics on the physical values: 1-D operands
become matrices (and the added dim is squeezed out after), and batched operands get size-1
dims after the batch dim so the logical batch dims broadcast right-aligned. A batched
weight (per-sample gradients expand the parameters) turns ``linear`` into a batched
product. Losses run with ``reduction='none'`` on the whole batch and reduce per sample.
"""

from __future__ import annotations

import importlib

from .._ops._util import Op, _make, xp
from .._tensor import Tensor
from ..autograd import forward_ad as _forward_ad
from ..autograd.function import apply_below
from ..autograd.grad_mode import _grad_enabled, no_grad
from ._batch_rules import _is_b, _lnd, expand_b, pad
from ._batching import _wrap_out, register, wrap

_la = importlib.import_module("ember._ops.linalg")
_lin = importlib.import_module("ember.nn._functional.linear")
_loss = importlib.import_module("ember.nn._functional.loss")
_norm = importlib.import_module("ember.nn._functional.normalization")
_emb = importlib.import_module("ember.nn._functional.embedding")


def _phys(a, lvl):
    return a._value if _is_b(a, lvl) else a


def matmul_phys(lvl, a, b) -> Tensor:
    """The physical result (batch first) of the logical ``a @ b`` (either may be batched)."""
    from .._ops import matmul
    ab, bb = _is_b(a, lvl), _is_b(b, lvl)
    na, nb = _lnd(a, lvl), _lnd(b, lvl)
    av, bv = _phys(a, lvl), _phys(b, lvl)
    if na == 1 and nb == 1:
        return (av * bv).sum(-1)
    squeeze = None
    if na == 1:
        av, na, squeeze = av.unsqueeze(-2), 2, -2
    if nb == 1:
        bv, nb, squeeze = bv.unsqueeze(-1), 2, -1
    nd = max(na, nb)
    if ab:
        av = pad(av, nd)
    if bb:
        bv = pad(bv, nd)
    out = matmul(av, bv)
    return out if squeeze is None else out.squeeze(squeeze)


@register(_la.Matmul, _la.Dot, _la.VecMat, _la.MatVec, _la.BatchedMatmul, _la.Bmm)
def _matmul(lvl, index, cls, args, kwargs):
    return wrap(matmul_phys(lvl, *args), lvl)


@register(_la.Vdot)
def _vdot(lvl, index, cls, args, kwargs):
    a, b = args
    return wrap(matmul_phys(lvl, a.conj(), b), lvl)


def _add_scaled(out: Tensor, nd: int, c, beta, alpha, lvl, out_batched: bool) -> Tensor:
    if alpha != 1:
        out = out * alpha
    if beta == 0:
        if not out_batched:  # only ``c`` is batched, and beta = 0 drops it: still batched
            out = out.unsqueeze(0).expand((lvl.size,) + tuple(out.shape))
        return out
    cv = pad(c._value, nd) if _is_b(c, lvl) else c
    return out + (cv if beta == 1 else cv * beta)


@register(_la.Addmm, _la.Addmv, _la.Baddbmm)
def _addmm(lvl, index, cls, args, kwargs):
    c, a, b, beta, alpha = args
    nd = 1 if cls is _la.Addmv else 3 if cls is _la.Baddbmm else 2
    return wrap(_add_scaled(matmul_phys(lvl, a, b), nd, c, beta, alpha, lvl,
                            _is_b(a, lvl) or _is_b(b, lvl)), lvl)


@register(_la.Addbmm)
def _addbmm(lvl, index, cls, args, kwargs):
    c, a, b, beta, alpha = args
    prod = matmul_phys(lvl, a, b)
    batched = _is_b(a, lvl) or _is_b(b, lvl)
    prod = prod.sum(1) if batched else prod.sum(0)
    return wrap(_add_scaled(prod, 2, c, beta, alpha, lvl, batched), lvl)


@register(_la.Addr)
def _addr(lvl, index, cls, args, kwargs):
    c, a, b, beta, alpha = args
    outer = _phys(a, lvl).unsqueeze(-1) * _phys(b, lvl).unsqueeze(-2)
    return wrap(_add_scaled(outer, 2, c, beta, alpha, lvl, _is_b(a, lvl) or _is_b(b, lvl)),
                lvl)


@register(_la.Trace)
def _trace(lvl, index, cls, args, kwargs):
    return wrap(args[0]._value.diagonal(0, -2, -1).sum(-1), lvl)


@register(_lin.Linear, _lin.LinearMm, _lin.LinearView, _lin.LinearSqueeze,
          _lin.LinearUnsafeView)
def _linear(lvl, index, cls, args, kwargs):
    from ..nn.functional import linear
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    if not _is_b(w, lvl) and not _is_b(bias, lvl):
        return wrap(linear(x._value, w, bias), lvl)
    # A batched weight (per-sample gradients expand the parameters): one batched product,
    # x @ w^T per sample. einsum, because its backward's w-gradient (an outer product per
    # sample when each sample has one row) is ~4x faster than a matmul with inner size 1.
    if (_is_b(w, lvl) and _is_b(x, lvl) and (bias is None or _is_b(bias, lvl))
            and _forward_ad._current() is None):
        b = bias._value if bias is not None else None
        return wrap(SampleLinear.apply(x._value, w._value, b), lvl)
    if _is_b(w, lvl) and _is_b(x, lvl):
        from .. import einsum
        out = einsum("b...i,boi->b...o", x._value, w._value)
    else:
        out = matmul_phys(lvl, x, w.transpose(0, 1))
    if bias is not None:
        nd = max(_lnd(x, lvl), 1)
        out = out + (pad(bias._value, nd) if _is_b(bias, lvl) else bias)
    return wrap(out, lvl)


class SampleLinear(Op):
    """``x @ w^T + b`` with its own weight for each sample: x (B, ..., in), w (B, out, in),
    b (B, out) or None. One node instead of einsum + bias add; dx = g w, dw = g^T x per
    sample, db = g summed over each sample's rows."""

    node_name = "SampleLinearBackward0"

    @staticmethod
    def forward(ctx, x, w, b):
        a, wa = x._data, w._data
        a3 = a.reshape(a.shape[0], -1, a.shape[-1])
        out = a3 @ wa.transpose(0, 2, 1)
        if b is not None:
            out += b._data[:, None, :]
        ctx.save_for_backward(x, w)
        return out.reshape(a.shape[:-1] + (wa.shape[1],))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = (ctx.needs_input_grad + (False,))[:3]
        if _grad_enabled.get():  # recorded (create_graph): differentiable Tensor ops
            from .. import einsum
            return _sample_linear_grads(g, x, w, need, einsum, lambda t: t.transpose(1, 2))
        grads = _sample_linear_grads(g._data, x._data, w._data, need, xp.einsum,
                                     lambda a: a.transpose(0, 2, 1))
        return tuple(_make(r) if r is not None else None for r in grads)

    @staticmethod
    def jvp(inputs, out, tangents):
        """Bilinear: d(x w^T + b) = dx w^T + x dw^T + db, per sample."""
        x, w, b = inputs
        tx, tw, tb = tangents
        terms = [SampleLinear.apply(t, v, None) for t, v in ((tx, w), (x, tw)) if t is not None]
        if tb is not None:
            terms.append(tb.reshape((tb.shape[0],) + (1,) * (out.dim() - 2) + (tb.shape[1],)))
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total.expand(out.shape) if tuple(total.shape) != tuple(out.shape) else total


def _sample_linear_grads(g, x, w, need, einsum, mt) -> tuple:
    b = x.shape[0]
    g3 = g.reshape(b, -1, w.shape[1])
    gx = (g3 @ w).reshape(x.shape) if need[0] else None
    # dw as an einsum: a matmul with inner size 1 (one row per sample) is ~4x slower.
    gw = einsum("bno,bni->boi", g3, x.reshape(b, -1, w.shape[2])) if need[1] else None
    gb = g3.sum(1) if need[2] else None
    return gx, gw, gb


# -- losses ---------------------------------------------------------------------------------
def _per_sample(out: Tensor, reduction: str) -> Tensor:
    if reduction == "none" or out.dim() == 1:
        return out
    dims = tuple(range(1, out.dim()))
    return out.sum(dims) if reduction == "sum" else out.mean(dims)


def _pointwise_loss(red_at: int):
    def rule(lvl, index, cls, args, kwargs):
        reduction = args[red_at]
        nd = max(_lnd(a, lvl) for a in args if isinstance(a, Tensor))
        new = [pad(a._value, nd) if _is_b(a, lvl) else a for a in args]
        if any(isinstance(a, Tensor) and not _is_b(a, lvl) and a.dim() > nd for a in args):
            return NotImplemented
        new[red_at] = "none"
        out = apply_below(index, cls, tuple(new), kwargs)
        if out.dim() == 0:
            return NotImplemented
        return wrap(_per_sample(out, reduction), lvl)
    return rule


register(_loss.MseLoss, _loss.SmoothL1Loss, _loss.HuberLoss)(_pointwise_loss(2))
register(_loss.BinaryCrossEntropy)(_pointwise_loss(3))
register(_loss.BCEWithLogits)(_pointwise_loss(4))


@register(_loss.CrossEntropy, _loss.CrossEntropySoft, _loss.CrossEntropySoftMean)
def _cross_entropy(lvl, index, cls, args, kwargs):
    x, target, weight, opts = args
    ignore_index, reduction, smoothing, log_input, soft = opts
    if _is_b(weight, lvl):
        return NotImplemented
    xv, tv = expand_b(x, lvl), expand_b(target, lvl)
    b = xv.shape[0]
    if _lnd(x, lvl) > 1:  # (B, N, C, d...): the samples' rows side by side
        xv = xv.reshape((-1,) + tuple(xv.shape[2:]))
        tv = tv.reshape((-1,) + tuple(tv.shape[2:]))
    none = (ignore_index, "none", smoothing, log_input, soft)
    node = _loss.CrossEntropySoft if soft else _loss.CrossEntropy
    loss = apply_below(index, node, (xv, tv, weight, none), kwargs).reshape(b, -1)
    if reduction == "none":
        return wrap(loss.reshape((b,) + _none_shape(x, lvl)), lvl)
    total = loss.sum(1)
    if reduction == "sum":
        return wrap(total, lvl)
    if soft:
        return wrap(total / loss.shape[1], lvl)
    with no_grad():
        # The denominator: each row's class weight (0 where ignored), read off the loss of
        # log-probabilities -1 everywhere.
        ones = xv.new_full(tuple(xv.shape), -1.0)
        den = apply_below(index, _loss.CrossEntropy,
                          (ones, tv, weight, (ignore_index, "none", 0.0, True, False)), {})
        den = den.reshape(b, -1).sum(1)
    return wrap(total / den, lvl)


def _none_shape(x, lvl) -> tuple:
    shape = tuple(x.shape)
    return () if len(shape) == 1 else (shape[0],) + shape[2:]


# -- normalisation and embedding ------------------------------------------------------------
@register(_norm.NativeNorm)
def _layer_norm(lvl, index, cls, args, kwargs):
    x, weight, bias, group, axes, affine_shape, eps = args[:7]
    if not _is_b(x, lvl) or _is_b(weight, lvl) or _is_b(bias, lvl) or tuple(axes) != (1,):
        return NotImplemented
    v = x._value
    new = (v, weight, bias, (v.shape[0] * group[0], group[1]), axes, (1,) + tuple(affine_shape),
           eps) + tuple(args[7:])
    return _wrap_out(apply_below(index, cls, new, kwargs), lvl)


@register(_emb.Gather)
def _embedding(lvl, index, cls, args, kwargs):
    weight, idx = args[:2]
    if _is_b(weight, lvl):
        return NotImplemented
    return wrap(apply_below(index, cls, (weight, idx._value) + tuple(args[2:]), kwargs), lvl)


# -- linear algebra over the last two dims (leading dims are batch dims already) --------------
def _matrix_rule(lvl, index, cls, args, kwargs):
    x = args[0]
    if (not _is_b(x, lvl) or _lnd(x, lvl) < 2
            or any(isinstance(a, Tensor) and _is_b(a, lvl) for a in args[1:])):
        return NotImplemented
    return _wrap_out(apply_below(index, cls, (x._value,) + tuple(args[1:]), kwargs), lvl)


def _register_linalg() -> None:
    from ._batch_rules import dim_rule
    solve = importlib.import_module("ember.linalg._solve")
    spectral = importlib.import_module("ember.linalg._spectral")
    mexp = importlib.import_module("ember.linalg._matrix_exp")
    lu = importlib.import_module("ember.linalg._lu")
    norms = importlib.import_module("ember.linalg._norms")
    register(solve.Inv, solve.Det, solve.Slogdet, solve.Cholesky, solve.CholeskyLegacy,
             spectral.QR, spectral.SVD, spectral.Eigh, mexp.MatrixExp, lu.LuFactor, lu.Lu,
             lu.CholeskyInverse, spectral.Pinv)(_matrix_rule)
    register(norms.VectorNorm)(dim_rule(dims=(2,)))


_register_linalg()


# -- convolution: the samples' batches side by side -------------------------------------------
_conv = importlib.import_module("ember.nn._functional.conv")


@register(_conv.Convolution)
def _convolution(lvl, index, cls, args, kwargs):
    a, w, bias, geo, mode = args[:5]
    if mode == "C" and (_is_b(w, lvl) or _is_b(bias, lvl)) and _lnd(a, lvl) == _lnd(w, lvl):
        return _grouped_conv(lvl, index, cls, args, kwargs)
    if (mode not in ("C", "T") or not _is_b(a, lvl) or _is_b(w, lvl) or _is_b(bias, lvl)
            or _lnd(a, lvl) != w.dim()):
        return NotImplemented
    v = a._value
    b, n = v.shape[0], v.shape[1]
    flat = v.reshape((b * n,) + tuple(v.shape[2:]))
    out = apply_below(index, cls, (flat, w, bias) + tuple(args[3:]), kwargs)
    return wrap(out.reshape((b, n) + tuple(out.shape[1:])), lvl)


def _grouped_conv(lvl, index, cls, args, kwargs):
    """Per-sample weights: the samples become groups of one convolution (channels of sample
    b are input group b), as functorch does."""
    a, w, bias, geo = args[:4]
    stride, pads, dilation, groups = geo
    x, wv = expand_b(a, lvl), expand_b(w, lvl)          # (B, N, C, ...), (B, O, C/g, ...)
    b, n = x.shape[0], x.shape[1]
    xg = x.movedim(0, 1).reshape((n, b * x.shape[2]) + tuple(x.shape[3:]))
    wg = wv.reshape((b * wv.shape[1],) + tuple(wv.shape[2:]))
    bg = None if bias is None else expand_b(bias, lvl).reshape(-1)
    out = apply_below(index, cls, (xg, wg, bg, (stride, pads, dilation, groups * b))
                      + tuple(args[4:]), kwargs)
    out = out.reshape((n, b, wv.shape[1]) + tuple(out.shape[2:])).movedim(1, 0)
    return wrap(out, lvl)
