"""Batching rules for the elementwise, reduction, shape and indexing ops.

A rule gets ``(lvl, index, cls, args, kwargs)`` for an op with an argument batched at
``lvl`` and returns the batched result, computed on the physical values (batch dim first)
with one call of the op (``apply_below``), or ``NotImplemented`` to run the op per sample.
The patterns, as in functorch's batching rules:

- elementwise: batched values get size-1 dims after the batch dim up to the largest
  logical rank, so NumPy's right-aligned broadcasting lines the unbatched ones up;
- dim arguments (reductions, scans, shape ops) move up by one past the batch dim (negative
  dims count from the end and stay); "all dims" becomes every logical dim;
- ops that need equal shapes (``cat``, ``gather``) get their unbatched tensors expanded.
"""

from __future__ import annotations

import importlib

from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import apply_below
from ._batching import BatchedTensor, _StandIn, _wrap_out, register


def _mod(name: str):
    # ember._ops re-exports functions named like some modules (scatter): import by path.
    return importlib.import_module(f"ember._ops.{name}")


_act = _mod("activation")
_cx = _mod("complex")
_ew = _mod("elementwise")
_ix = _mod("indexing")
_jn = _mod("joining")
_pw = _mod("pointwise")
_rd = _mod("reduction")
_sc = _mod("scatter")
_sh = _mod("shape")
_so = _mod("sorting")
_sf = _mod("special_functions")
_st = _mod("statistics")
_sd = _mod("strided")
_un = _mod("unary")


def _is_b(a, lvl) -> bool:
    return type(a) is BatchedTensor and a._level is lvl


def _lnd(a, lvl) -> int:
    """The logical rank of a tensor argument."""
    return a._value.dim() - 1 if _is_b(a, lvl) else a.dim()


def pad(v: Tensor, nd: int) -> Tensor:
    """A physical value (batch first) with size-1 dims after the batch dim up to logical
    rank ``nd``."""
    n = v.dim() - 1
    if n >= nd:
        return v
    s = tuple(v.shape)
    return v.reshape(s[:1] + (1,) * (nd - n) + s[1:])


def expand_b(a, lvl) -> Tensor:
    """The physical value of ``a``, made batched (expanded) if it is not."""
    if _is_b(a, lvl):
        return a._value
    return a.unsqueeze(0).expand((lvl.size,) + tuple(a.shape))


def shift(d):
    return d + 1 if d >= 0 else d


def _max_nd(args, lvl) -> int:
    nd = 0
    for a in args:
        if isinstance(a, Tensor):
            n = _lnd(a, lvl)
            if n > nd:
                nd = n
    return nd


def elementwise(lvl, index, cls, args, kwargs):
    nd = _max_nd(args, lvl)
    new = tuple(pad(a._value, nd) if _is_b(a, lvl) else a for a in args)
    return _wrap_out(apply_below(index, cls, new, kwargs), lvl)


def _all_ops(module, *skip) -> list:
    from .._ops._util import Op
    return [c for c in vars(module).values()
            if isinstance(c, type) and issubclass(c, Op) and c.__module__ == module.__name__
            and c.__name__ not in skip and not c.__name__.startswith("_")]


register(*_all_ops(_ew), *_all_ops(_un), *_all_ops(_pw), *_all_ops(_cx),
         *[c for c in _all_ops(_sf)],
         _act.Hardtanh, _act.LeakyRelu, _act.Threshold, _act.Hardshrink, _act.Softshrink,
         _act.Hardsigmoid, _act.Hardswish, _act.Elu, _act.Celu, _act.Gelu, _act.Silu,
         _act.Mish, _act.Softplus, _act.LogSigmoid, _act.RreluEval,
         _act.EluInplace, _act.CeluInplace, _act.LeakyReluInplace, _act.ThresholdInplace,
         _act.RreluEvalInplace,
         _sh.Clone, _sh.ToDtype, _ix.Where, _sd.Tril, _sd.Triu, _mod("inplace").Copy,
         importlib.import_module("ember.autograd.forward_ad")._Alias)(elementwise)


def dim_rule(*, dim=(), dims=(), expand=False, zero_d=False):
    """A rule for ops with int dims at positions ``dim`` and dim tuples (or None: all) at
    ``dims``; with ``expand`` every tensor argument is made batched. ``zero_d``: the dims
    mean the same for 0-d inputs (else those run per sample)."""
    def rule(lvl, index, cls, args, kwargs):
        first = next(a for a in args if isinstance(a, Tensor))
        nd = _lnd(first, lvl)
        if nd == 0 and not zero_d:
            return NotImplemented  # 0-d: "dim 0" names the batch dim; run per sample
        new = list(args)
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                new[i] = expand_b(a, lvl) if expand else (a._value if _is_b(a, lvl) else a)
        for i in dim:
            new[i] = shift(new[i])
        for i in dims:
            d = new[i]
            if d is None:
                new[i] = tuple(range(1, nd + 1))
            elif isinstance(d, int):
                new[i] = shift(d)
            else:
                new[i] = tuple(shift(x) for x in d)
        return _wrap_out(apply_below(index, cls, tuple(new), kwargs), lvl)
    return rule


register(_rd.Sum, _rd.SumDim, _rd.Nansum, _rd.Mean, _rd.MeanDim, _rd.Prod, _rd.ProdDim,
         _rd.Var, _rd.Std, _rd.VarMean, _rd.StdMean, _rd.Logsumexp, _so.Aminmax)(
    dim_rule(dims=(1,)))
register(_rd.VectorNorm)(dim_rule(dims=(2,)))
register(_rd.Cumsum, _rd.Cumprod, _st.Logcumsumexp, _so.Cummax, _so.Cummin, _so.MaxDim,
         _so.MinDim, _so.Sort, _so.Topk, _so.Kthvalue, _so.MedianDim, _so.NanmedianDim,
         _so.Mode, _act.Softmax, _act.LogSoftmax, _act.Glu, _jn.Split, _jn.SplitWithSizes,
         _jn.Unbind)(dim_rule(dim=(1,)))
register(_sh.Unsqueeze, _sh.UnsqueezeInplace)(dim_rule(dim=(1,), zero_d=True))
register(_sh.Transpose, _sh.TransposeT, _sh.TransposeInplace, _sh.TransposeTInplace)(
    dim_rule(dim=(1, 2)))
register(_sh.Squeeze, _sh.SqueezeDim, _sh.SqueezeDims, _jn.Flip, *_sh._SQUEEZE345)(
    dim_rule(dims=(1,)))
register(_jn.Rot90)(dim_rule(dims=(2,)))
register(_sd.Diagonal, _sd.DiagonalCopy)(dim_rule(dim=(2, 3)))
register(_sc.Gather, _sc.Scatter, _sc.ScatterValue, _sc.ScatterAdd,
         _sc.ScatterReduce)(dim_rule(dim=(1,), expand=True))
register(_so.TakeAlong)(dim_rule(dim=(2,), expand=True))
register(_sd.Unfold)(dim_rule(dim=(1,)))


@register(_so.Amax, _so.Amin, _so.MaxAll, _so.MinAll)
def _extreme(lvl, index, cls, args, kwargs):
    x, dims, keepdim = args[:3]
    nd = _lnd(x, lvl)
    if nd == 0 or not _is_b(x, lvl):
        return NotImplemented
    dims = tuple(range(1, nd + 1)) if dims is None else tuple(shift(d) for d in dims)
    return _wrap_out(apply_below(index, cls, (x._value, dims, keepdim) + tuple(args[3:]),
                                 kwargs), lvl)


@register(_sc.IndexSelect, _sc.IndexFill, _sc.IndexFillTensor)
def _index_select(lvl, index, cls, args, kwargs):
    x, dim, idx = args[:3]
    if not _is_b(x, lvl) or any(_is_b(a, lvl) for a in args[2:]) or _lnd(x, lvl) == 0:
        return NotImplemented
    return _wrap_out(apply_below(index, cls, (x._value, shift(dim)) + tuple(args[2:]),
                                 kwargs), lvl)


@register(_sc.MaskedFill, _sc.MaskedFillTensor)
def _masked_fill(lvl, index, cls, args, kwargs):
    x, mask, value = args
    if _is_b(value, lvl):
        # A value per sample: ``where`` with it in the masked places (the same gradients:
        # the value gets the masked places' sum, x the rest).
        nd = _lnd(x, lvl)
        if _lnd(value, lvl) != 0 or _lnd(mask, lvl) > nd:
            return NotImplemented
        v = expand_b(x, lvl)
        m = pad(mask._value, nd) if _is_b(mask, lvl) else mask
        fill = value._value.to(v.dtype).reshape((lvl.size,) + (1,) * nd)
        return _wrap_out(_ix.where(m, fill, v), lvl)
    nd = _max_nd((x, mask), lvl)
    v = pad(expand_b(x, lvl), nd)
    m = pad(mask._value, nd) if _is_b(mask, lvl) else mask
    return _wrap_out(apply_below(index, cls, (v, m, value), kwargs), lvl)


# -- shape ops ----------------------------------------------------------------------------------
@register(_sh.View, _sh.ReshapeCopy, _sh.ViewT, _sh.ViewTInplace)
def _view(lvl, index, cls, args, kwargs):
    x, shape = args
    v = x._value
    new = (v.shape[0],) + tuple(shape)
    if lvl.size == 0 and -1 in shape:
        return NotImplemented
    try:
        out = apply_below(index, cls, (v, new), kwargs)
    except RuntimeError:
        out = v.reshape(new)  # not viewable with the batch dim in front: copy
    return _wrap_out(out, lvl)


@register(_sh.Permute)
def _permute(lvl, index, cls, args, kwargs):
    x, dims = args
    return _wrap_out(apply_below(index, cls, (x._value, (0,) + tuple(shift(d) for d in dims)),
                                 kwargs), lvl)


@register(_sh.Expand)
def _expand(lvl, index, cls, args, kwargs):
    x, shape = args
    v = pad(x._value, len(shape))
    return _wrap_out(apply_below(index, cls, (v, (v.shape[0],) + tuple(shape)), kwargs), lvl)


@register(_sh.SumToSize)
def _sum_to_size(lvl, index, cls, args, kwargs):
    x, shape = args
    v = x._value
    lead = v.dim() - 1 - len(shape)
    if lead > 0:
        v = v.sum(tuple(range(1, lead + 1)))
    return _wrap_out(apply_below(index, cls, (v, (v.shape[0],) + tuple(shape)), kwargs), lvl)


def _cat_rule(lvl, index, cls, args, kwargs):
    dim, tensors = args[0], args[1:]
    if cls is _jn.Cat and any(_lnd(t, lvl) != _lnd(tensors[0], lvl) for t in tensors):
        return NotImplemented  # legacy empty 1-D tensors mixed in: per sample
    new = tuple(expand_b(t, lvl) for t in tensors)
    return _wrap_out(apply_below(index, cls, (shift(dim),) + new, kwargs), lvl)


register(_jn.Cat, _jn.Stack)(_cat_rule)


@register(_jn.Repeat)
def _repeat(lvl, index, cls, args, kwargs):
    x, reps = args
    v = pad(x._value, len(reps))
    return _wrap_out(apply_below(index, cls, (v, (1,) + tuple(reps)), kwargs), lvl)


@register(_jn.Roll)
def _roll(lvl, index, cls, args, kwargs):
    x, shifts, dims = args
    if dims is None or dims == ():  # roll the flattened sample
        v = x._value
        if lvl.size == 0 or not _is_b(x, lvl):
            return NotImplemented
        flat = apply_below(index, cls, (v.reshape(lvl.size, -1), shifts, (1,)), kwargs)
        return _wrap_out(flat.reshape(tuple(v.shape)), lvl)
    if _lnd(x, lvl) == 0:
        return NotImplemented
    dims = (shift(dims),) if isinstance(dims, int) else tuple(shift(d) for d in dims)
    return _wrap_out(apply_below(index, cls, (x._value, shifts, dims), kwargs), lvl)


# -- indexing -----------------------------------------------------------------------------------
BOOL_MASK = ("vmap: We do not support batching operators that can support dynamic shape. "
             "Attempting to batch over indexing with a boolean mask.")


@register(_ix.IndexPut)
def _index_put(lvl, index, cls, args, kwargs):
    x, key, values = args[:3]
    key = key if isinstance(key, tuple) else (key,)
    stand = [k for k in key if type(k) is _StandIn and k._owner._level is lvl]
    if any(k.dtype == bool for k in stand):
        raise RuntimeError(BOOL_MASK)
    if stand or not _is_b(x, lvl) or _advanced_split(key):
        return NotImplemented  # batched indices, or a write into an unbatched tensor
    v = x._value
    if _is_b(values, lvl):
        # The values broadcast against one sample's indexed region: line their dims up with
        # its rank, after the batch dim (a zero-stride view: no memory for the dry run).
        region = xp.broadcast_to(xp.empty((), dtype=bool), tuple(v.shape[1:]))[key]
        values = pad(values._value, region.ndim)
    return _wrap_out(apply_below(index, cls, (v, (slice(None),) + key, values) + tuple(args[3:]),
                                 kwargs), lvl)


@register(_sc.MaskedSelect)
def _masked_select(lvl, index, cls, args, kwargs):
    if _is_b(args[1], lvl):
        raise RuntimeError("vmap: Attempted to vmap over `mask` in torch.masked_select(self, "
                           "mask) We cannot support this because for each batch this would "
                           "return a differently shaped Tensor. Please file an issue at "
                           "https://github.com/pytorch/pytorch/issues if you need this feature.")
    return NotImplemented

def _advanced_split(key) -> bool:
    """Whether the key's array indices are separated (NumPy then moves them first)."""
    pos = [i for i, k in enumerate(key) if not (k is None or k is Ellipsis
                                                 or isinstance(k, slice))]
    return bool(pos) and pos[-1] - pos[0] + 1 != len(pos)


@register(_ix.Index, _ix.BasicIndex, _ix.SelectIndex, _ix.SliceIndex, _ix.UnsqueezeIndex,
          _ix.AliasIndex)
def _index(lvl, index, cls, args, kwargs):
    x, key = args
    key = key if isinstance(key, tuple) else (key,)
    stand = [k for k in key if type(k) is _StandIn and k._owner._level is lvl]
    if any(k.dtype == bool for k in stand):
        raise RuntimeError(BOOL_MASK)
    if not stand:
        if not _is_b(x, lvl) or _advanced_split(key):
            return NotImplemented
        return _wrap_out(apply_below(index, cls, (x._value, (slice(None),) + key), kwargs), lvl)
    # A batched index into an unbatched tensor (a lookup table): index with the physical
    # index array, whose batch dim then leads the result.
    if (_is_b(x, lvl) or type(key[0]) is not _StandIn or key[0].dtype == bool
            or any(not (isinstance(k, slice) and k == slice(None)) for k in key[1:])):
        return NotImplemented
    phys = key[0]._owner._value._data
    return _wrap_out(apply_below(index, _ix.Index, (x, (phys,) + key[1:]), kwargs), lvl)


# Ops that fall back to the per-sample loop on purpose (data-dependent output shapes or
# whole-tensor semantics): MaskedSelect, Take, Unfold, AsStrided, ... (docs/func.md).


@register(_sd.DiagEmbed, _sd.DiagonalScatter)
def _diagonal_scatter(lvl, index, cls, args, kwargs):
    x, shape, offset, d1, d2 = args
    if not _is_b(x, lvl):
        return NotImplemented
    v = x._value
    return _wrap_out(apply_below(index, cls, (v, (v.shape[0],) + tuple(shape), offset,
                                              shift(d1), shift(d2)), kwargs), lvl)


@register(_sc.IndexAdd, _sc.IndexCopy)
def _index_add(lvl, index, cls, args, kwargs):
    x, dim, idx, source = args[:4]
    if _is_b(idx, lvl) or _lnd(x, lvl) == 0 or _lnd(source, lvl) != _lnd(x, lvl):
        return NotImplemented
    new = (expand_b(x, lvl), shift(dim), idx, expand_b(source, lvl)) + tuple(args[4:])
    return _wrap_out(apply_below(index, cls, new, kwargs), lvl)


@register(_mod("linalg").Cross)
def _cross(lvl, index, cls, args, kwargs):
    a, b, dim = args
    nd = _max_nd((a, b), lvl)
    new = tuple(pad(t._value, nd) if _is_b(t, lvl) else t for t in (a, b))
    # NumPy's cross takes the axis of each operand apart: count it from the end.
    return _wrap_out(apply_below(index, cls, new + (dim - nd if dim >= 0 else dim,), kwargs),
                     lvl)


@register(_act.Prelu)
def _prelu(lvl, index, cls, args, kwargs):
    x, weight = args
    nd = _lnd(x, lvl)
    if _is_b(weight, lvl):
        # Per-sample weights (as vmap(grad) over the weight makes them): prelu written out
        # with ops on the physical values, each sample's slopes on its own channel dim.
        w = weight._value
        shape = ((lvl.size, 1, w.shape[1]) + (1,) * (nd - 2) if w.shape[1] > 1 and nd >= 2
                 else (lvl.size,) + (1,) * nd)
        v = expand_b(x, lvl)
        return _wrap_out(_ix.where(v > 0, v, w.reshape(shape) * v), lvl)
    if not _is_b(x, lvl):
        return NotImplemented
    v = x._value
    if weight.numel() == 1:  # one slope: elementwise
        return _wrap_out(apply_below(index, cls, (v, weight), kwargs), lvl)
    if v.dim() < 3 or lvl.size == 0:
        return NotImplemented
    # The channel dim is the sample's dim 1: fold the batch into the sample's dim 0.
    s = tuple(v.shape)
    out = apply_below(index, cls, (v.reshape((s[0] * s[1],) + s[2:]), weight), kwargs)
    return _wrap_out(out.reshape(s), lvl)
