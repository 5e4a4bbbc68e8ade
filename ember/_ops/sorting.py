"""Ordering and selection: extrema (max, min, amax, argmax, ...), running extrema, sorting,
top-k and order statistics (kthvalue, median, mode), unique, searching and counting.

Ops that return indices send the gradient to those indices (``PutAlong``, differentiable
twice via ``TakeAlong``); those that don't (``max()``, ``amax``, ``median()``) split it evenly
among tied elements, as PyTorch does.
"""

from __future__ import annotations

from ..autograd.function import nondifferentiable
from ..return_types import register as return_type
from ._jvp import fit, primal, refuse_dual
from ._util import Op, Tensor, _make, tensor_method, wrap_dim, xp
from .pointwise import maximum, minimum
from .reduction import _axis, _check_nonempty, _dims, _evenly, _scan, _scan_dim, _ties_mask

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin", "aminmax", "cummax", "cummin",
           "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode",
           "unique", "unique_consecutive", "searchsorted", "bucketize", "histc", "bincount"]


# -- named results and index gradients --------------------------------------------------------
_RT = {n: return_type(n, "values indices") for n in ("max", "min", "cummax", "cummin")}
_aminmax_rt = return_type("aminmax", "min max")


def _put_along(g, idx, dim: int, shape: tuple, accumulate: bool):
    """Zeros of ``shape`` with ``g`` written (or summed, if ``accumulate``) at ``idx``."""
    out = xp.zeros(shape, dtype=g.dtype)
    if not shape:
        out[()] = g.sum() if accumulate else g
    elif accumulate:
        where = list(xp.indices(idx.shape, sparse=True))
        where[dim] = idx
        xp.add.at(out, tuple(where), xp.broadcast_to(g, idx.shape))
    else:
        xp.put_along_axis(out, idx, g, dim)
    return out


class TakeAlong(Op):
    """d take_along(x, idx) = g summed back into the indexed places"""

    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x, idx, dim):
        ctx.idx, ctx.dim, ctx.shape = idx, dim, x._data.shape
        if x._data.ndim == 0:
            return x._data.reshape(idx.shape).copy()
        return xp.take_along_axis(x._data, idx, dim)

    @staticmethod
    def backward(ctx, g):
        return PutAlong.apply(g, ctx.idx, ctx.dim, ctx.shape, True)

    @staticmethod
    def jvp(inputs, out, tangents):
        return TakeAlong.apply(tangents[0], *inputs[1:])


class PutAlong(Op):
    """d put_along(g, idx) = the gradient gathered back from ``idx``"""

    node_name = "ScatterBackward0"

    @staticmethod
    def forward(ctx, g, idx, dim, shape, accumulate):
        ctx.idx, ctx.dim = idx, dim
        return _put_along(g._data, idx, dim, shape, accumulate)

    @staticmethod
    def backward(ctx, gg):
        return TakeAlong.apply(gg, ctx.idx, ctx.dim)

    @staticmethod
    def jvp(inputs, out, tangents):
        return PutAlong.apply(tangents[0], *inputs[1:])


def index_backward(g: Tensor, idx, dim: int, shape: tuple, keepdim: bool,
                   accumulate: bool = False) -> Tensor:
    """Gradient of values selected at ``idx`` along ``dim`` (max(dim), sort, topk, ...)."""
    if not keepdim and len(shape) and g.ndim < len(shape):
        g, idx = g.unsqueeze(dim), xp.expand_dims(idx, dim)
    return PutAlong.apply(g, idx, dim, shape, accumulate)


def _evenly_jvp(x: Tensor, t: Tensor, out: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """Tangent of an extremum (or median) read from the elements equal to it: their
    tangents averaged (PyTorch's rule: NaN never equals, so a NaN result gets NaN; an empty
    input, a zero tangent)."""
    x = primal(x)
    ref = out if keepdim or not dims else _unsqueeze_dims(out, dims)
    hit = x == ref
    if not dims:
        return fit(t.where(hit, t.new_zeros(())) / hit.to(t.dtype), out)
    share = t.where(hit, t.new_zeros(())) / hit.sum(dims, keepdim=True)
    return fit(share.sum(dims, keepdim=keepdim), out)


def _unsqueeze_dims(t: Tensor, dims: tuple) -> Tensor:
    for d in dims:
        t = t.unsqueeze(d)
    return t


def _values_jvp(t: Tensor, values: Tensor, idx: Tensor, dim: int) -> Tensor:
    """Tangent of values picked at ``idx`` along ``dim`` (the dim kept or not): the tangent
    gathered there."""
    if idx.ndim < t.ndim:
        idx = idx.unsqueeze(dim)
    return t.gather(dim if t.ndim else 0, idx).reshape(values.shape)


# -- extrema ----------------------------------------------------------------------------------
class Amax(Op):
    """d amax(x) = g split evenly among the elements equal to the maximum"""

    node_name = "AmaxBackward0"
    name_ = "amax"
    reduce = staticmethod(xp.max)

    @classmethod
    def forward(cls, ctx, x, dims, keepdim, whole=False):
        a = x._data
        _check_nonempty(cls.name_, a, None if whole else dims)
        out = xp.asarray(cls.reduce(a, axis=_axis(dims), keepdims=keepdim))
        ctx.save_for_backward(x, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return _evenly(g, x._data, out._data, ctx.dims, ctx.keepdim)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dims, keepdim = inputs[:3]
        return _evenly_jvp(x, tangents[0], out, dims, keepdim)


class Amin(Amax):
    """d amin(x) = g split evenly among the elements equal to the minimum"""

    node_name = "AminBackward0"
    name_ = "amin"
    reduce = staticmethod(xp.min)


class MaxAll(Amax):
    node_name = "MaxBackward1"
    name_ = "max"


class MinAll(Amin):
    node_name = "MinBackward1"
    name_ = "min"


class MaxDim(Op):
    """d max(x, dim).values = g sent to the returned index"""

    node_name = "MaxBackward0"
    name_ = "max"
    arg = staticmethod(xp.argmax)

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        a = x._data
        _check_nonempty(cls.name_, a, (dim,) if a.ndim else None)
        if a.ndim == 0:
            idx = xp.zeros((), dtype=xp.int64)
            values = a.copy()
        else:
            idx = cls.arg(a, axis=dim, keepdims=True)
            values = xp.take_along_axis(a, idx, dim)
            if not keepdim:
                idx, values = idx.squeeze(dim), values.squeeze(dim)
        ctx.save_for_backward(idx)
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, a.shape
        return values, idx.astype(xp.int64, copy=False)

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return index_backward(g, idx._data, ctx.dim, ctx.shape, ctx.keepdim)

    @staticmethod
    def jvp(inputs, out, tangents):
        values, idx = out
        return _values_jvp(tangents[0], values, idx, inputs[1]), None


class MinDim(MaxDim):
    """d min(x, dim).values = g sent to the returned index"""

    node_name = "MinBackward0"
    name_ = "min"
    arg = staticmethod(xp.argmin)


class Aminmax(Op):
    """d (amin, amax) = each gradient split evenly among its ties"""

    node_name = "AminmaxBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        a = x._data
        if a.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        lo = xp.asarray(a.min(axis=_axis(dims), keepdims=keepdim))
        hi = xp.asarray(a.max(axis=_axis(dims), keepdims=keepdim))
        ctx.save_for_backward(x, lo, hi)
        ctx.dims, ctx.keepdim = dims, keepdim
        return lo, hi

    @staticmethod
    def backward(ctx, g_lo, g_hi):
        x, lo, hi = ctx.saved_tensors
        a, dims, keep = x._data, ctx.dims, ctx.keepdim
        return _evenly(g_lo, a, lo._data, dims, keep) + _evenly(g_hi, a, hi._data, dims, keep)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dims, keepdim = inputs
        t = tangents[0]
        return tuple(_evenly_jvp(x, t, o, dims, keepdim) for o in out)


def _extreme_dim(input: Tensor, dim, keepdim: bool, other, op, name: str):
    if isinstance(dim, Tensor) or other is not None:
        binary = maximum if op is MaxDim else minimum
        return binary(input, dim if other is None else other)
    if dim is None:
        return (MaxAll if op is MaxDim else MinAll).apply(input, _dims(None, input.ndim),
                                                          False, True)
    values, indices = op.apply(input, wrap_dim(int(dim), input.ndim), keepdim)
    return _RT[name](values, indices)


@tensor_method()
def max(input: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):
    """Largest element; with ``dim``, ``(values, indices)``; with a tensor, ``maximum``."""
    return _extreme_dim(input, dim, keepdim, other, MaxDim, "max")


@tensor_method()
def min(input: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):
    """Smallest element; with ``dim``, ``(values, indices)``; with a tensor, ``minimum``."""
    return _extreme_dim(input, dim, keepdim, other, MinDim, "min")


def _all_dims(dim) -> bool:
    return dim is None or (not isinstance(dim, int) and len(dim) == 0)


@tensor_method()
def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (all dims by default)."""
    return Amax.apply(input, _dims(dim, input.ndim), keepdim, _all_dims(dim))


@tensor_method()
def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim`` (all dims by default)."""
    return Amin.apply(input, _dims(dim, input.ndim), keepdim, _all_dims(dim))


@tensor_method()
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """``(min, max)`` over all elements or over ``dim``."""
    dims = _dims(None if dim is None else int(dim), input.ndim)
    lo, hi = Aminmax.apply(input, dims, keepdim if dim is not None else False)
    return _aminmax_rt(lo, hi)


def _arg_extreme(name: str, fn, input: Tensor, dim, keepdim: bool) -> Tensor:
    a = input._data
    if dim is None:
        _check_nonempty(name, a, None, IndexError)
        idx = xp.asarray(fn(a), dtype=xp.int64)
        return _make(idx.reshape((1,) * a.ndim) if keepdim else idx)
    d = wrap_dim(int(dim), a.ndim)
    _check_nonempty(name, a, (d,) if a.ndim else None, IndexError)
    if a.ndim == 0:
        return _make(xp.zeros((), dtype=xp.int64))
    return _make(fn(a, axis=d, keepdims=keepdim).astype(xp.int64, copy=False))


@tensor_method()
@nondifferentiable
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest element, flattened or along ``dim`` (int64)."""
    return _arg_extreme("argmax", xp.argmax, input, dim, keepdim)


@tensor_method()
@nondifferentiable
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest element, flattened or along ``dim`` (int64)."""
    return _arg_extreme("argmin", xp.argmin, input, dim, keepdim)


# -- running extrema -------------------------------------------------------------------------
class Cummax(Op):
    """d cummax(x).values = g summed into the returned indices"""

    node_name = "CummaxBackward0"
    acc = staticmethod(xp.maximum.accumulate)

    @classmethod
    def forward(cls, ctx, x, dim):
        a = x._data
        values = _scan(cls.acc, a, dim)
        hit = _ties_mask(a, values) if a.dtype.kind in "fc" else a == values
        shape = [1] * a.ndim
        if a.ndim:
            shape[dim] = a.shape[dim]
        pos = xp.arange(a.shape[dim] if a.ndim else 1, dtype=xp.int64).reshape(shape)
        idx = _scan(xp.maximum.accumulate, xp.where(hit, pos, 0), dim)
        ctx.save_for_backward(idx)
        ctx.dim, ctx.shape = dim, a.shape
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return index_backward(g, idx._data, ctx.dim, ctx.shape, True, accumulate=True)

    @staticmethod
    def jvp(inputs, out, tangents):
        values, idx = out
        return _values_jvp(tangents[0], values, idx, inputs[1]), None


class Cummin(Cummax):
    """d cummin(x).values = g summed into the returned indices"""

    node_name = "CumminBackward0"
    acc = staticmethod(xp.minimum.accumulate)


@tensor_method()
def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim``: ``(values, indices)``, NaN propagating."""
    return _RT["cummax"](*Cummax.apply(input, _scan_dim(input, dim)))


@tensor_method()
def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim``: ``(values, indices)``, NaN propagating."""
    return _RT["cummin"](*Cummin.apply(input, _scan_dim(input, dim)))


# -- sorting and selection along one dim ------------------------------------------------------
def _order(a, dim: int, descending: bool):
    """Stable sorting permutation along ``dim`` (NaN sorts as the largest value)."""
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    # Sorting the reversed array and reversing back keeps equal elements in input order.
    rev = xp.argsort(xp.flip(a, dim), axis=dim, kind="stable")
    return (a.shape[dim] - 1) - xp.flip(rev, dim)


def _nan_count(a, dim: int):
    return xp.isnan(a).sum(axis=dim, keepdims=True) if a.dtype.kind == "f" else 0


class Selection(Op):
    """Elements picked along ``dim``: d values = g sent back to their indices"""

    node_name = "SortBackward0"
    keep = True  # the picked dim stays in the output (sort, topk)

    @classmethod
    def forward(cls, ctx, x, dim, keepdim, *args):
        a = x._data
        if a.ndim == 0:
            cls.check(a, 0, *args)
            idx = xp.zeros((), dtype=xp.int64)
            values = a.copy()
        else:
            cls.check(a, dim, *args)
            idx = cls.pick(a, dim, *args)
            values = xp.take_along_axis(a, idx, dim)
            if not (keepdim or cls.keep):
                idx, values = idx.squeeze(dim), values.squeeze(dim)
        ctx.save_for_backward(idx)
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim or cls.keep, a.shape
        return values, idx

    @staticmethod
    def check(a, dim, *args) -> None:
        pass

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return index_backward(g, idx._data, ctx.dim, ctx.shape, ctx.keepdim)

    @staticmethod
    def jvp(inputs, out, tangents):
        values, idx = out
        return _values_jvp(tangents[0], values, idx, inputs[1]), None


class Sort(Selection):
    pick = staticmethod(lambda a, dim, descending: _order(a, dim, descending))


class Topk(Selection):
    node_name = "TopkBackward0"

    @staticmethod
    def check(a, dim, k, largest) -> None:
        if not 0 <= k <= (a.shape[dim] if a.ndim else 1):
            raise RuntimeError("selected index k out of range")

    @staticmethod
    def pick(a, dim, k, largest):
        return xp.take(_order(a, dim, largest), xp.arange(k), axis=dim)


class Kthvalue(Selection):
    node_name = "KthvalueBackward0"
    keep = False

    @staticmethod
    def check(a, dim, k) -> None:
        _check_nonempty("kthvalue", a, (dim,) if a.ndim else None)
        if not 1 <= k <= (a.shape[dim] if a.ndim else 1):
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")

    @staticmethod
    def pick(a, dim, k):
        return xp.take(_order(a, dim, False), [k - 1], axis=dim)


class MedianDim(Selection):
    node_name = "MedianBackward1"
    keep = False
    name_ = "median"

    @classmethod
    def check(cls, a, dim) -> None:
        _check_nonempty(cls.name_, a, (dim,) if a.ndim else None)

    @staticmethod
    def pick(a, dim):
        # The lower median; a slice holding NaN gives its first NaN (sorted last).
        n, nans = a.shape[dim], _nan_count(a, dim)
        pos = xp.where(nans > 0, n - nans, (n - 1) // 2) if a.dtype.kind == "f" else \
            xp.full((1,) * a.ndim, (n - 1) // 2)
        return xp.take_along_axis(_order(a, dim, False), pos, dim)


class NanmedianDim(MedianDim):
    node_name = "NanmedianBackward1"
    name_ = "nanmedian"

    @staticmethod
    def pick(a, dim):
        # The lower median of the non-NaN values; an all-NaN slice gives its first NaN.
        m = a.shape[dim] - _nan_count(a, dim)
        pos = xp.maximum((m - 1) // 2, 0) if a.dtype.kind == "f" else \
            xp.full((1,) * a.ndim, (m - 1) // 2)
        return xp.take_along_axis(_order(a, dim, False), pos, dim)


class Mode(MedianDim):
    node_name = "ModeBackward0"
    name_ = "mode"

    @staticmethod
    def pick(a, dim):
        # Sort, then measure each run of equal values: the first longest run is the
        # smallest most frequent value, and its last element its last occurrence.
        order = _order(a, dim, False)
        s = xp.moveaxis(xp.take_along_axis(a, order, dim), dim, -1)
        pos = xp.arange(s.shape[-1])
        new = xp.ones(s.shape, dtype=bool)
        new[..., 1:] = s[..., 1:] != s[..., :-1]
        run = pos - xp.maximum.accumulate(xp.where(new, pos, 0), axis=-1)
        best = xp.expand_dims(xp.argmax(run, axis=-1), dim)
        return xp.take_along_axis(order, best, dim)


class MedianAll(Op):
    """d median(x) = g split evenly among the elements equal to the median"""

    node_name = "MedianBackward0"
    skip_nan = False

    @classmethod
    def forward(cls, ctx, x):
        a = x._data
        if a.dtype == bool:
            raise NotImplementedError(f"\"{cls.node_name[:-9].lower()}_cpu\" not implemented "
                                      "for 'Bool'")
        s = xp.sort(a.reshape(-1))
        n = s.size - (int(xp.isnan(s).sum()) if cls.skip_nan and a.dtype.kind == "f" else 0)
        if n == 0:
            out = xp.asarray(xp.nan, dtype=a.dtype)
        else:
            out = xp.asarray(s[n - 1 if a.dtype.kind == "f" and xp.isnan(s[n - 1])
                               else (n - 1) // 2])
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return _evenly(g, x._data, out._data, (), False)

    @staticmethod
    def jvp(inputs, out, tangents):
        x = inputs[0]
        return _evenly_jvp(x, tangents[0], out, tuple(range(x.ndim)), False)


class NanmedianAll(MedianAll):
    node_name = "NanmedianBackward0"
    skip_nan = True


def _selection(rt, op, input: Tensor, dim: int, keepdim: bool, *args):
    d = wrap_dim(int(dim), input.ndim)
    return rt(*op.apply(input, d, keepdim, *args))


_SORT_RT = {n: return_type(n, "values indices")
            for n in ("sort", "topk", "kthvalue", "median", "nanmedian", "mode")}


@tensor_method()
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """``(values, indices)`` sorted along ``dim`` (always stable; NaN sorts largest)."""
    return _selection(_SORT_RT["sort"], Sort, input, dim, True, bool(descending))


@tensor_method()
@nondifferentiable
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
            ) -> Tensor:
    """The indices that sort ``input`` along ``dim``."""
    a = input._data
    if a.ndim == 0:
        return _make(xp.zeros((), dtype=xp.int64))
    return _make(_order(a, wrap_dim(int(dim), a.ndim), descending).astype(xp.int64))


@tensor_method()
def msort(input: Tensor) -> Tensor:
    """``input`` sorted along dim 0."""
    return sort(input, 0).values


@tensor_method()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) elements along ``dim``: ``(values, indices)``."""
    return _selection(_SORT_RT["topk"], Topk, input, dim, True, int(k), bool(largest))


@tensor_method()
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim``: ``(values, indices)``."""
    return _selection(_SORT_RT["kthvalue"], Kthvalue, input, dim, keepdim, int(k))


@tensor_method()
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """Lower median of all elements; with ``dim``, ``(values, indices)``. NaN propagates."""
    if dim is None:
        return MedianAll.apply(input)
    return _selection(_SORT_RT["median"], MedianDim, input, dim, keepdim)


@tensor_method()
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """Like ``median``, ignoring NaN."""
    if dim is None:
        return NanmedianAll.apply(input)
    return _selection(_SORT_RT["nanmedian"], NanmedianDim, input, dim, keepdim)


@tensor_method()
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """Most frequent value along ``dim`` (smallest on ties) and its last index."""
    return _selection(_SORT_RT["mode"], Mode, input, dim, keepdim)


# -- unique, searching and counting (not differentiable) --------------------------------------
def _unique_result(values, inverse, counts, return_inverse: bool, return_counts: bool):
    out = [_make(values)]
    if return_inverse:
        out.append(_make(inverse.astype(xp.int64, copy=False)))
    if return_counts:
        out.append(_make(counts.astype(xp.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


@tensor_method()
@nondifferentiable(data_dependent_shape=True)
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct elements (or slices along ``dim``), sorted; optionally the inverse
    indices and the counts."""
    a = input._data
    if dim is None:
        values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(a.shape)
    else:
        d = wrap_dim(int(dim), a.ndim)
        values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                            axis=d, equal_nan=False)
        inverse = inverse.reshape(-1)
    refuse_dual("_unique2" if dim is None else "unique_dim", input, planned=True)
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


@tensor_method()
@nondifferentiable(data_dependent_shape=True)
def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None):
    """Collapse each run of equal consecutive elements (or slices along ``dim``)."""
    a = input._data
    rows = a.reshape(-1, 1) if dim is None else \
        xp.moveaxis(a, wrap_dim(int(dim), a.ndim), 0).reshape(a.shape[int(dim)], -1)
    new = xp.ones(rows.shape[0], dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    starts = xp.flatnonzero(new)
    counts = xp.diff(xp.append(starts, rows.shape[0]))
    inverse = xp.cumsum(new) - 1
    if dim is None:
        values, inverse = a.reshape(-1)[starts], inverse.reshape(a.shape)
    else:
        values = xp.take(a, starts, axis=wrap_dim(int(dim), a.ndim))
    refuse_dual("unique_consecutive", input, planned=True)
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


@nondifferentiable
def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter: Tensor | None = None
                 ) -> Tensor:
    """Insertion indices of ``input`` into the last dim of ``sorted_sequence``."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, -1)
    values = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if seq.ndim <= 1:
        idx = xp.searchsorted(seq, values, side="right" if right else "left")
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or "
                               "the first N-1 dimensions of boundaries tensor and input value "
                               f"tensor must match, but we got boundaries tensor "
                               f"{list(seq.shape)} and input value tensor {list(values.shape)}")
        below = (seq[..., None, :] <= values[..., :, None]) if right else \
            (seq[..., None, :] < values[..., :, None])
        idx = below.sum(axis=-1)
    return _make(xp.asarray(idx, dtype=xp.int32 if out_int32 else xp.int64))


@nondifferentiable
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False
              ) -> Tensor:
    """Index of the bucket (between ``boundaries``) each element of ``input`` falls in."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@tensor_method()
@nondifferentiable
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Histogram of ``bins`` equal-width bins over ``[min, max]`` (the data range if equal)."""
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for "
                                  f"'{input.dtype._legacy_name[:-6]}'")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    a = a[(a >= lo) & (a <= hi)]
    pos = xp.minimum(((a - lo) * (bins / (hi - lo))).astype(xp.int64), bins - 1)
    return _make(xp.bincount(pos, minlength=bins).astype(input._data.dtype))


@tensor_method()
@nondifferentiable(data_dependent_shape=True)
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Occurrences of each value of a 1-d non-negative int tensor (or summed ``weights``)."""
    a = input._data
    if a.dtype.kind not in "iub":
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{input.dtype._legacy_name[:-6]}'")
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _make(xp.bincount(a, minlength=minlength).astype(xp.int64))
    w = weights._data
    out = xp.bincount(a, weights=w, minlength=minlength)
    refuse_dual("aten::bincount", weights)
    return _make(out.astype(w.dtype if w.dtype.kind == "f" else xp.float64, copy=False))
