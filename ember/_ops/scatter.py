"""The gather/scatter family: ``gather``/``take_along_dim``, ``scatter`` (with ``reduce``),
``scatter_add``, ``scatter_reduce``, ``index_select``/``index_add``/``index_copy``/
``index_fill`` and ``masked_fill``/``masked_select``/``masked_scatter``, with in-place twins.
Exported through ``indexing``. Repeated indices accumulate in every gradient."""

from __future__ import annotations

from .. import _dtype
from ._jvp import fit, or_zeros, primal
from ._util import Op, Tensor, _make, check_values, tensor_method, wrap_dim, xp
from .indexing import IndexGrad, where
from .inplace import register_inplace

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "masked_fill", "masked_select", "masked_scatter",
           "take_along_dim"]


# -- gather / scatter -------------------------------------------------------------------------
def _coords(index, dim: int) -> tuple:
    """The fancy key addressing, for every element of ``index``, its own position with the
    coordinate along ``dim`` replaced by the element's value."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _region(shape) -> tuple:
    return tuple(slice(0, s) for s in shape)


def _pad(t: Tensor, shape) -> Tensor:
    """``t`` in the leading corner of zeros of ``shape`` (for sources larger than the index)."""
    if t._data.shape == tuple(shape):
        return t
    return IndexGrad.apply(t, _region(t._data.shape), tuple(shape), False)


def _check_index(name: str, input: Tensor, dim: int, index: Tensor, src=None) -> int:
    """Validate a gather/scatter index like PyTorch; returns the wrapped dim."""
    a, i = input._data, index._data
    if i.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    d = wrap_dim(dim, a.ndim)
    if i.ndim != a.ndim and i.size and a.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    n = a.shape[d] if a.ndim else 1
    if i.size and a.ndim:
        big = [k for k in range(a.ndim) if k != d and i.shape[k] > a.shape[k]]
        big_src = src is not None and any(s > t for s, t in zip(i.shape, src.shape))
        sizes = f"index {_dims(i.shape)} to be no larger than self {_dims(a.shape)} apart from " \
                f"dimension {d}"
        if name == "gather" and big:
            raise RuntimeError(f"Size does not match at dimension {big[0]} expected {sizes}")
        if name != "gather" and (big or big_src):
            more = f" and to be no larger size than src {_dims(src.shape)}" if src is not None \
                else ""
            raise RuntimeError(f"Expected {sizes}{more}")
    if i.size:
        i = check_values(index)
        bad = i[(i < 0) | (i >= n)]
        if bad.size:
            raise RuntimeError(f"index {bad.flat[0]} is out of bounds for dimension {d} with "
                               f"size {n}")
    if src is not None and src._data.dtype != a.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    return d


def _dims(shape) -> str:
    return f"[{', '.join(map(str, shape))}]"


def _flat0d(a):
    return a.reshape(1) if a.ndim == 0 else a


class Gather(Op):
    """out[i][j] = x[i][index[i][j]] (along ``dim``); d = the gradient scatter-added back."""

    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.in_shape = dim, x._data.shape
        ctx.save_for_backward(index)
        i = index._data
        return _flat0d(x._data)[_coords(_flat0d(i), dim)].reshape(i.shape)

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return g.new_zeros(ctx.in_shape).scatter_add(ctx.dim, index, g), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Gather.apply(tangents[0], *inputs[1:])


@tensor_method()
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False,
           out=None) -> Tensor:
    """Pick values along ``dim`` at the positions in ``index``: out[i][j] = input[i][index[i][j]]
    for dim=1."""
    return Gather.apply(input, _check_index("gather", input, dim, index), index)


def _scatter_into(out, dim: int, index, values, reduce: str | None) -> None:
    """Write (or, with ``reduce``, combine) ``values`` into ``out`` at ``index`` along
    ``dim``, in place; ``values`` may be larger than ``index`` or a scalar."""
    i = _flat0d(index)
    if hasattr(values, "shape") and values.ndim:
        values = values[_region(i.shape)]
    key = _coords(i, dim)
    target = _flat0d(out)
    if reduce is None:
        target[key] = values
    else:
        _REDUCE_UFUNC[reduce].at(target, key, xp.broadcast_to(values, i.shape))


_REDUCE_UFUNC = {"add": xp.add, "sum": xp.add, "mean": xp.add, "multiply": xp.multiply,
                 "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}


class Scatter(Op):
    """``x`` with ``src`` written at ``index`` along ``dim``; d = the gradient with those
    places zeroed for ``x``, and gathered from them for ``src``."""

    node_name = "ScatterBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.src_shape = dim, xp.shape(src._data)
        ctx.save_for_backward(index)
        out = x._data.copy()
        _scatter_into(out, dim, index._data, src._data, None)
        return out

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gx = g.scatter(ctx.dim, index, 0) if ctx.needs_input_grad[0] else None
        gs = _pad(g.gather(ctx.dim, index), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return gx, None, None, gs

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, src = inputs
        return Scatter.apply(or_zeros(tangents[0], x), dim, index, or_zeros(tangents[3], src))


class ScatterValue(Op):
    """``x`` with the number ``value`` written at ``index``; d = the gradient with those
    places zeroed."""

    node_name = "ScatterBackward1"

    @staticmethod
    def forward(ctx, x, dim, index, value):
        ctx.dim = dim
        ctx.save_for_backward(index)
        out = x._data.copy()
        _scatter_into(out, dim, index._data, xp.asarray(value, dtype=out.dtype), None)
        return out

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return g.scatter(ctx.dim, index, 0), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return ScatterValue.apply(tangents[0], *inputs[1:3], 0)


class ScatterLegacyReduce(Op):
    """``scatter(..., reduce='add'|'multiply')``: no derivative, as in PyTorch (use
    ``scatter_reduce``)."""

    node_name = "torch::autograd::NotImplemented"

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce):
        out = x._data.copy()
        v = src._data if isinstance(src, Tensor) else xp.asarray(src, dtype=out.dtype)
        _scatter_into(out, dim, index._data, v, reduce)
        return out

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")

    @staticmethod
    def jvp(inputs, out, tangents):
        raise NotImplementedError("Trying to use forward AD with aten::scatter that does not "
                                  "support it.")


@tensor_method()
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along
    ``dim``: out[i][index[i][j]] = src[i][j] for dim=1. ``reduce`` ('add', 'multiply')
    combines instead of overwriting."""
    src = value if src is None else src
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    if isinstance(src, Tensor) and src.ndim == 0 and index.ndim != 0:
        src = src.item()
    tensor_src = isinstance(src, Tensor)
    d = _check_index("scatter", input, dim, index, src if tensor_src else None)
    if reduce is not None:
        return ScatterLegacyReduce.apply(input, d, index, src, reduce)
    if not tensor_src:
        return ScatterValue.apply(input, d, index, src)
    return Scatter.apply(input, d, index, src)


class ScatterAdd(Op):
    """``x`` with ``src`` added at ``index`` along ``dim``; d = the gradient for ``x``, and
    gathered from ``index`` for ``src``."""

    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.src_shape = dim, src._data.shape
        ctx.save_for_backward(index)
        out = x._data.copy()
        _scatter_into(out, dim, index._data, src._data, "add")
        return out

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gs = _pad(g.gather(ctx.dim, index), ctx.src_shape) if ctx.needs_input_grad[3] else None
        return g, None, None, gs

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, src = inputs
        return ScatterAdd.apply(or_zeros(tangents[0], x), dim, index, or_zeros(tangents[3], src))


@tensor_method()
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices
    add up)."""
    return ScatterAdd.apply(input, _check_index("scatter", input, dim, index, src), index,
                            src)


_IDENTITY = {"sum": 0, "mean": 0, "prod": 1}


class ScatterReduce(Op):
    """``x`` with ``src`` combined in at ``index`` by sum/prod/mean/amax/amin; d: sum and
    mean pass the (averaged) gradient; prod gives each contributor the product of the others;
    amax/amin share it evenly among the contributors equal to the result."""

    node_name = "ScatterReduceBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce, include_self):
        a, i = x._data, index._data
        out = a.copy()
        touched = xp.zeros(_flat0d(a).shape, dtype=bool)
        _scatter_into(touched, dim, i, True, None)
        touched = touched.reshape(a.shape)
        if not include_self:
            if reduce in _IDENTITY:
                out[touched] = _IDENTITY[reduce]
            else:
                lim = xp.finfo(a.dtype) if a.dtype.kind == "f" else xp.iinfo(a.dtype)
                out[touched] = lim.min if reduce == "amax" else lim.max
        _scatter_into(out, dim, i, src._data, reduce)
        count = None
        if reduce == "mean":
            count = xp.zeros(_flat0d(a).shape, dtype=a.dtype)
            _scatter_into(count, dim, i, xp.ones((), a.dtype), "add")
            count = count.reshape(a.shape) + (1 if include_self else 0)
            safe = xp.where(count == 0, 1, count).astype(a.dtype)
            out = out // safe if a.dtype.kind in "iub" else out / safe
            count = safe
        ctx.dim, ctx.reduce, ctx.include_self = dim, reduce, include_self
        ctx.save_for_backward(x, index, src, out, touched, count)
        return out

    @staticmethod
    def backward(ctx, g):
        dim, reduce, include_self = ctx.dim, ctx.reduce, ctx.include_self
        x, index, src, out, touched, count = ctx.saved_tensors  # touched, count: constants
        if reduce == "mean":
            g = g / count
        if reduce in ("sum", "mean"):
            gx, gs = g, g.gather(dim, index)
        elif reduce == "prod":
            gx, gs = _prod_grads(g, x, dim, index, src, include_self)
        else:
            gx, gs = _extreme_grads(g, x, dim, index, src, out, include_self)
        if not include_self:
            gx = g.masked_fill(touched, 0)  # only untouched places keep input's value
        gs = _pad(gs, src.shape) if ctx.needs_input_grad[3] else None
        return (gx if ctx.needs_input_grad[0] else None), None, None, gs, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, src, reduce, include_self = inputs
        tx, ts = or_zeros(tangents[0], x), or_zeros(tangents[3], src)
        if reduce in ("sum", "mean"):  # linear (mean divides by a count that is constant)
            return ScatterReduce.apply(tx, dim, index, ts, reduce, include_self)
        if reduce == "prod":
            return None  # PyTorch gives prod no tangent (its forward AD leaves it undefined)
        # amax/amin: the tangents of the contributors equal to the result, averaged
        x, src = primal(x), primal(src)
        s = _region_of(src, index)
        ts = _region_of(ts, index)
        hit_x = (x == out) if include_self else x.new_zeros(x.shape, dtype=_dtype.bool)
        hit_s = s == out.gather(dim, index)
        zero = tx.new_zeros(())
        total = where(hit_x, tx, zero).scatter_add(dim, index, where(hit_s, ts, zero))
        count = hit_x.to(tx.dtype).scatter_add(dim, index, hit_s.to(tx.dtype))
        # an untouched place (include_self=False) keeps the input: its own tangent
        return fit(where(count == 0, tx, total / count), out)


def _region_of(src: Tensor, index: Tensor) -> Tensor:
    return src if src.shape == index.shape else src[_region(index.shape)]


def _extreme_grads(g, x, dim, index, src, out, include_self):
    """amax/amin: the gradient is shared evenly by the contributors equal to the result."""
    hit_x = (x == out).to(g.dtype) if include_self else g.new_zeros(x.shape)
    hit_s = (_region_of(src, index) == out.gather(dim, index)).to(g.dtype)
    n = hit_x.scatter_add(dim, index, hit_s)
    share = g / n.masked_fill(n == 0, 1)
    return share * hit_x, share.gather(dim, index) * hit_s


def _prod_grads(g, x, dim, index, src, include_self):
    """Each contributor's gradient is g times the product of the other contributors, found
    without dividing by zero: the product of the non-zero ones and a count of zeros."""
    s = _region_of(src, index)
    x_zero, s_zero = x == 0, s == 0
    x_ones, s_ones = x.masked_fill(x_zero, 1), s.masked_fill(s_zero, 1)
    nz_prod = x_ones.scatter_reduce(dim, index, s_ones, "prod", include_self=include_self)
    zeros = (x_zero.to(g.dtype) if include_self else g.new_zeros(x.shape)).scatter_add(
        dim, index, s_zero.to(g.dtype))

    def others(value_ones, is_zero, prod, nzeros):
        return where(is_zero, where(nzeros == 1, prod, 0.0),
                     where(nzeros == 0, prod / value_ones, 0.0))

    gx = g * others(x_ones, x_zero, nz_prod, zeros)
    gs = g.gather(dim, index) * others(s_ones, s_zero, nz_prod.gather(dim, index),
                                       zeros.gather(dim, index))
    return gx, gs


@tensor_method()
def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of ``input`` with ``src`` combined in at ``index`` along ``dim`` by ``reduce``
    ('sum', 'prod', 'mean', 'amax', 'amin'); ``include_self`` counts ``input``'s own values."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    d = _check_index("scatter", input, dim, index, src)
    return ScatterReduce.apply(input, d, index, src, reduce, include_self)


# -- index_* ----------------------------------------------------------------------------------
def _vector_index(name: str, input: Tensor, dim: int, index: Tensor, negative: bool = False):
    """Validate a 1-D (or 0-d) index into dim ``dim``; returns (dim, index array)."""
    i = index._data
    if i.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index")
    if i.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    a = input._data
    d = wrap_dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    i = i.reshape(-1)
    bad = i[(i < (-n if negative else 0)) | (i >= n)]
    if bad.size:
        if name == "index_select":
            raise IndexError("index out of range in self")
        raise IndexError(f"{name}(): index {bad[0]} is out of bounds for dimension {d} with "
                         f"size {n}")
    return d, i


def _along(dim: int, i) -> tuple:
    return (slice(None),) * dim + (i,)


class IndexSelect(Op):
    """The entries at ``index`` along ``dim``; d = the gradient index-added back."""

    node_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.in_shape = dim, x._data.shape
        ctx.save_for_backward(index)
        a = x._data
        return xp.take(a, index._data, axis=dim) if a.ndim else a.copy()

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return g.new_zeros(ctx.in_shape).index_add(ctx.dim, index, g), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return IndexSelect.apply(tangents[0], *inputs[1:])


@tensor_method()
def index_select(input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """The entries of ``input`` at positions ``index`` (1-D) along ``dim``."""
    d, i = _vector_index("index_select", input, dim, index)
    return IndexSelect.apply(input, d, _make(i))


class IndexAdd(Op):
    """``x`` with ``alpha * source`` added at ``index`` along ``dim``; d = the gradient for
    ``x``, and ``alpha`` times its entries at ``index`` for ``source``."""

    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, source, alpha=1):
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index)
        out = x._data.copy()
        v = source._data if alpha == 1 else source._data * alpha
        xp.add.at(_flat0d(out), _along(dim, index._data), _flat0d(v))
        return out

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gs = None
        if ctx.needs_input_grad[3]:
            gs = g.index_select(ctx.dim, index)
            gs = gs if ctx.alpha == 1 else gs * ctx.alpha
        return g, None, None, gs, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, source = inputs[:4]
        return IndexAdd.apply(or_zeros(tangents[0], x), dim, index, or_zeros(tangents[3], source),
                              *inputs[4:])


def _same_dtype(name: str, input: Tensor, source: Tensor) -> None:
    if input.dtype != source.dtype:
        raise RuntimeError(f"{name}(): self ({input.dtype._legacy_name[:-6]}) and source "
                           f"({source.dtype._legacy_name[:-6]}) must have the same scalar type")


@tensor_method()
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1,
              out=None) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim`` (repeated
    indices add up)."""
    d, i = _vector_index("index_add_", input, dim, index)
    _same_dtype("index_add_", input, source)
    return IndexAdd.apply(input, d, _make(i), source, alpha)


class IndexCopy(Op):
    """``x`` with ``source`` copied in at ``index`` along ``dim``; d = the gradient with those
    places zeroed for ``x``, and its entries at ``index`` for ``source``."""

    node_name = "IndexCopyBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, source):
        ctx.dim = dim
        ctx.save_for_backward(index)
        out = x._data.copy()
        _flat0d(out)[_along(dim, index._data)] = _flat0d(source._data)
        return out

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gx = g.index_fill(ctx.dim, index, 0) if ctx.needs_input_grad[0] else None
        gs = g.index_select(ctx.dim, index) if ctx.needs_input_grad[3] else None
        return gx, None, None, gs

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, source = inputs
        return IndexCopy.apply(or_zeros(tangents[0], x), dim, index,
                               or_zeros(tangents[3], source))


@tensor_method()
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with the slices of ``source`` written at ``index`` along ``dim``."""
    d, i = _vector_index("index_copy_", input, dim, index)
    n = source._data.shape[d] if source.ndim else 1
    if i.size != n:
        raise IndexError(f"index_copy_(): Number of indices ({i.size}) should be equal to "
                         f"source.size(dim) ({n})")
    return IndexCopy.apply(input, d, _make(i), source)


class IndexFill(Op):
    """``x`` with ``value`` at ``index`` along ``dim``; d = the gradient with those places
    zeroed for ``x``, and its sum over them for a tensor ``value``."""

    node_name = "IndexFillBackward0"

    @staticmethod
    def forward(ctx, x, dim, index, value):
        out = x._data.copy()
        key = _along(dim, index._data)
        v = value._data if isinstance(value, Tensor) else value
        _flat0d(out)[key] = v
        ctx.dim = dim
        ctx.save_for_backward(index, (key,))
        return out

    @staticmethod
    def backward(ctx, g):
        index, (key,) = ctx.saved_tensors
        gx = g.index_fill(ctx.dim, index, 0) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[3]:
            hit = xp.zeros(_flat0d(g._data).shape, dtype=bool)
            hit[key] = True
            gv = g.masked_select(_make(hit.reshape(g.shape))).sum()
        return gx, None, None, gv

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dim, index, value = inputs
        tv = or_zeros(tangents[3], value) if isinstance(value, Tensor) else 0
        return IndexFill.apply(or_zeros(tangents[0], x), dim, index, tv)


class IndexFillTensor(IndexFill):
    node_name = "IndexFillBackward1"


@tensor_method()
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with ``value`` (a number or 0-d tensor) at ``index`` along
    ``dim``."""
    if index._data.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    d, i = _vector_index("index_fill_", input, dim, index, negative=True)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        return IndexFillTensor.apply(input, d, _make(i), value.to(input.dtype))
    return IndexFill.apply(input, d, _make(i), value)


# -- masked_* ---------------------------------------------------------------------------------
def _bool_mask(name: str, mask: Tensor):
    m = mask._data
    if m.dtype != bool:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype._legacy_name[:-6].lower().replace('long', 'long int')}")
    return m


class MaskedFill(Op):
    """``x`` with ``value`` where ``mask`` holds; d = the gradient zeroed there for ``x``, and
    summed over those places for a tensor ``value``."""

    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x, mask, value):
        a, m = x._data, mask._data
        v = value._data if isinstance(value, Tensor) else value
        ctx.save_for_backward(mask)
        return xp.where(m, xp.asarray(v, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        gx = g.masked_fill(mask, 0) if ctx.needs_input_grad[0] else None
        gv = where(mask, g, 0.0).sum() if ctx.needs_input_grad[2] else None
        return gx, None, gv

    @staticmethod
    def jvp(inputs, out, tangents):
        x, mask, value = inputs
        tv = or_zeros(tangents[2], value) if isinstance(value, Tensor) else 0
        return fit(MaskedFill.apply(or_zeros(tangents[0], x), mask, tv), out)


class MaskedFillTensor(MaskedFill):
    node_name = "MaskedFillBackward1"


@tensor_method()
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """A copy of ``input`` with ``value`` (a number or 0-d tensor) where ``mask`` is True
    (``mask`` broadcasts)."""
    _bool_mask("masked_fill_", mask)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        return MaskedFillTensor.apply(input, mask, value)
    return MaskedFill.apply(input, mask, value)


class MaskedScatter(Op):
    """``x`` with consecutive elements of ``source`` written where ``mask`` holds; d = the
    gradient zeroed there for ``x``, and its masked elements (then zeros) for ``source``."""

    node_name = "MaskedScatterBackward0"

    @staticmethod
    def forward(ctx, x, mask, source):
        a, m = xp.broadcast_arrays(x._data, mask._data)
        count = int(m.sum())
        if count > source._data.size:
            raise RuntimeError("Number of elements of source < number of ones in mask")
        out = a.copy()
        out[m] = source._data.reshape(-1)[:count]
        ctx.source_shape = source._data.shape
        ctx.save_for_backward(mask)
        return out

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        gx = g.masked_fill(mask, 0) if ctx.needs_input_grad[0] else None
        gs = None
        if ctx.needs_input_grad[2]:
            picked = g.masked_select(mask)
            n = 1
            for s in ctx.source_shape:
                n *= s
            gs = _pad(picked, (n,)).reshape(ctx.source_shape)
        return gx, None, gs

    @staticmethod
    def jvp(inputs, out, tangents):
        x, mask, source = inputs
        return MaskedScatter.apply(or_zeros(tangents[0], x), mask, or_zeros(tangents[2], source))


@tensor_method()
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with ``source``'s elements, in order, where ``mask`` is True."""
    _bool_mask("masked_scatter_", mask)
    return MaskedScatter.apply(input, mask, source)


class MaskedSelect(Op):
    """The elements where ``mask`` holds, as a 1-D tensor; d = the gradient scattered back."""

    node_name = "MaskedSelectBackward0"

    @staticmethod
    def forward(ctx, x, mask):
        a, m = xp.broadcast_arrays(x._data, mask._data)
        ctx.shape = a.shape
        ctx.save_for_backward(mask)
        return a[m]

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        return g.new_zeros(ctx.shape).masked_scatter(mask, g), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return MaskedSelect.apply(tangents[0], inputs[1])


@tensor_method()
def masked_select(input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    """The elements of ``input`` where ``mask`` (broadcast) is True, as a 1-D tensor."""
    _bool_mask("masked_select", mask)
    return MaskedSelect.apply(input, mask)


@tensor_method()
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None, *,
                   out=None) -> Tensor:
    """Pick values along ``dim`` at ``indices`` (``input`` and ``indices`` broadcast in the
    other dims); with no ``dim``, from the flattened input."""
    i = indices._data
    if dim is None:
        flat = input.reshape(-1)
        return Gather.apply(flat, 0, _make(_wrap_negative(i.reshape(-1), flat._data.size)))
    a = input._data
    if a.ndim != i.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {a.ndim} dimensions for input, and "
                           f"{i.ndim} dimensions for indices")
    d = wrap_dim(dim, a.ndim)
    shape = list(xp.broadcast_shapes(tuple(s for k, s in enumerate(a.shape) if k != d),
                                     tuple(s for k, s in enumerate(i.shape) if k != d)))
    in_shape, idx_shape = shape.copy(), shape.copy()
    in_shape.insert(d, a.shape[d])
    idx_shape.insert(d, i.shape[d])
    x = input.expand(in_shape) if tuple(in_shape) != a.shape else input
    idx = xp.broadcast_to(_wrap_negative(i, a.shape[d]), idx_shape)
    return gather(x, d, _make(idx))


def _wrap_negative(i, n: int):
    return xp.where(i < 0, i + n, i) if i.size and i.min() < 0 else i


register_inplace("scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy",
                 "index_fill", "masked_fill", "masked_scatter")
