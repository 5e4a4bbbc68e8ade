"""Indexing: ``x[key]`` (basic keys give views, advanced keys copies), ``x[key] = v``,
``index_put``, ``take``, ``nonzero``, ``where`` and ``one_hot``. Gradients of every read
accumulate over repeated indices. The gather/scatter family lives in ``scatter.py`` and is
exported from here."""

from __future__ import annotations

from .._dtype import result_type
from ..autograd.function import nondifferentiable
from ._jvp import fit, or_zeros
from ._util import Op, Tensor, _make, operands, tensor_method, xp
from .inplace import apply_inplace, copy_, register_inplace

__all__ = ["where", "index_put", "index_put_", "take", "nonzero", "argwhere", "one_hot"]

_BASIC = (int, slice, type(None), type(Ellipsis))
_INDEX_DTYPE_ERROR = "tensors used as indices must be long, int, byte or bool tensors"


def _convert_key(key):
    """Turn a user index into one NumPy understands, and say whether it is basic."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    basic = True
    for k in key:
        if isinstance(k, Tensor):
            a = k._data
            if a.dtype.kind not in "iub":
                raise IndexError(_INDEX_DTYPE_ERROR)
            if a.ndim == 0 and a.dtype.kind != "b":
                out.append(int(a))  # a 0-d integer tensor selects, like an int
                continue
            out.append(a)
            basic = False
        elif isinstance(k, bool) or not isinstance(k, _BASIC):
            if isinstance(k, (list, tuple)):
                k = xp.asarray([int(i) if isinstance(i, Tensor) else i for i in k])
                if k.dtype.kind == "f":
                    k = k.astype(xp.int64)
            elif hasattr(k, "__index__") and not isinstance(k, bool):
                out.append(k.__index__())
                continue
            elif getattr(k, "dtype", None) is not None and k.dtype.kind not in "iub":
                raise IndexError(_INDEX_DTYPE_ERROR)
            out.append(k)
            basic = False
        else:
            if k.__class__ is slice and k.step is not None and k.step <= 0:
                raise ValueError("slice step cannot be zero" if k.step == 0
                                 else "step must be greater than zero")
            out.append(k)
    return tuple(out), basic


def _torch_index_error(e: IndexError, shape) -> IndexError:
    msg = str(e)
    if msg.startswith("boolean index did not match"):
        return IndexError(f"The shape of the mask does not match the shape of the indexed tensor "
                          f"[{', '.join(map(str, shape))}]")
    return IndexError(msg.replace("axis", "dimension").replace("array", "tensor"))


class Index(Op):
    """``x[key]``; d = the gradient scattered (summed) back into the indexed places"""

    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, key):
        ctx.save_for_backward(key)
        ctx.in_shape = x._data.shape
        try:
            return xp.asarray(x._data[key])
        except IndexError as e:
            raise _torch_index_error(e, x._data.shape) from None

    @staticmethod
    def backward(ctx, g):
        key, = ctx.saved_tensors
        return IndexGrad.apply(g, key, ctx.in_shape, True), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Index.apply(tangents[0], inputs[1])


class BasicIndex(Index):
    """A basic index (ints, slices, None, ...): a view of ``x``."""

    _is_view = True

    @staticmethod
    def forward(ctx, x, key):
        # A trailing Ellipsis makes NumPy return a 0-d view (not a scalar copy) for all-int keys.
        return Index.forward(ctx, x, key if Ellipsis in key else key + (Ellipsis,))

    @staticmethod
    def backward(ctx, g):
        key, = ctx.saved_tensors
        return IndexGrad.apply(g, key, ctx.in_shape, False), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return BasicIndex.apply(tangents[0], inputs[1])  # a view of the tangent


class SelectIndex(BasicIndex):
    node_name = "SelectBackward0"


class SliceIndex(BasicIndex):
    node_name = "SliceBackward0"


class UnsqueezeIndex(BasicIndex):
    node_name = "UnsqueezeBackward0"


class AliasIndex(BasicIndex):
    node_name = "AliasBackward0"


class IndexGrad(Op):
    """Zeros of ``shape`` with ``g`` put (or, for advanced keys, accumulated) at ``key``;
    d = index the gradient the same way."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, key, shape, accumulate):
        ctx.save_for_backward(key)
        out = xp.zeros(shape, dtype=g._data.dtype)
        if accumulate:
            xp.add.at(out, key, g._data)
        else:
            out[key] = g._data
        return out

    @staticmethod
    def backward(ctx, gg):
        key, = ctx.saved_tensors
        return Index.apply(gg, key), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return IndexGrad.apply(tangents[0], *inputs[1:])


def _basic_class(key):
    for k in reversed(key):
        if k is Ellipsis:
            continue
        if isinstance(k, int):
            return SelectIndex
        if k is None:
            return UnsqueezeIndex
        return SliceIndex
    return AliasIndex


def getitem(self: Tensor, key) -> Tensor:
    k, basic = _convert_key(key)
    if basic:
        if self._data.ndim == 0 and any(isinstance(i, int) for i in k):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        return _basic_class(k).apply(self, k)
    if any(type(i) is int for i in k):
        # PyTorch applies the integers first (as selects), so they neither count as advanced
        # indices nor split them apart: x[0, :, idx] has shape (x.shape[1], len(idx)).
        full = slice(None)
        view_key = tuple(j for i in k if i is not None
                         for j in ([i] if type(i) is int or i is Ellipsis else
                                   [full] * (i.ndim if isinstance(i, xp.ndarray)
                                             and i.dtype == bool else 1)))
        if self._data.ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        self = _basic_class(view_key).apply(self, view_key)
        k = tuple(i for i in k if type(i) is not int)
    return Index.apply(self, k)


class IndexPut(Op):
    """``x`` with ``values`` written (or added) at ``key``; d = the gradient with the written
    places zeroed for ``x``, and the gradient at those places for ``values``."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, key, values, accumulate=False):
        a = x._data
        v = values._data if isinstance(values, Tensor) else values
        ctx.save_for_backward(key)
        ctx.accumulate = accumulate
        ctx.values_shape = xp.shape(v)
        out = a.copy()
        try:
            if accumulate:
                xp.add.at(out, key, v)
            else:
                out[key] = v
        except IndexError as e:
            raise _torch_index_error(e, a.shape) from None
        except ValueError:
            region = a[key].shape
            raise RuntimeError(f"shape mismatch: value tensor of shape "
                               f"[{', '.join(map(str, xp.shape(v)))}] cannot be broadcast to "
                               f"indexing result of shape [{', '.join(map(str, region))}]"
                               ) from None
        return out

    @staticmethod
    def backward(ctx, g):
        key, = ctx.saved_tensors
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g if ctx.accumulate else IndexPut.apply(g, key, 0.0)
        if ctx.needs_input_grad[2]:
            gv = Index.apply(g, key)
            vshape = ctx.values_shape
            if gv._data.shape != vshape:
                # The values were broadcast into the indexed region: sum back to their shape.
                gv = gv.reshape(vshape) if gv.ndim < len(vshape) else gv.sum_to_size(vshape)
        return gx, None, gv, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, key, values = inputs[:3]
        tx, tv = tangents[0], tangents[2]
        if not isinstance(values, Tensor):
            tv = 0.0  # a number written: zero tangent there
        return IndexPut.apply(or_zeros(tx, x), key, or_zeros(tv, values), *inputs[3:])


def setitem(self: Tensor, key, value) -> None:
    k, basic = _convert_key(key)
    if not isinstance(value, Tensor):
        value = _make(xp.asarray(value, dtype=self._data.dtype))
    if basic:
        copy_(getitem(self, key), value)
        return
    _check_put_dtype(self, value)
    target, k = _split_basic(self, k)
    apply_inplace(target, lambda s, v: IndexPut.apply(s, k, v), value)


def _check_put_dtype(self: Tensor, value: Tensor) -> None:
    if value._data.dtype != self._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{self.dtype._legacy_name[:-6]} for the destination and "
                           f"{value.dtype._legacy_name[:-6]} for the source.")


def _split_basic(self: Tensor, key: tuple):
    """Like PyTorch, apply a mixed key's ints, partial slices and Nones first (a view), and
    leave only the index arrays (and full slices) for the write."""
    full = slice(None)
    if all(isinstance(i, xp.ndarray) or i is Ellipsis or i == full for i in key):
        return self, key
    view_key, rest = [], []
    for i in key:
        if isinstance(i, xp.ndarray):
            view_key.extend([full] * (i.ndim if i.dtype == bool else 1))
            rest.append(i)
        elif isinstance(i, bool):
            return self, key
        elif isinstance(i, int):
            view_key.append(i)
        else:
            view_key.append(i)
            rest.append(Ellipsis if i is Ellipsis else full)
    view_key = tuple(view_key)
    return _basic_class(view_key).apply(self, view_key), tuple(rest)


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem


def _index_tuple(indices) -> tuple:
    key = []
    for i in indices:
        if i is None:
            key.append(slice(None))
        elif i._data.dtype.kind not in "iub":
            raise IndexError(_INDEX_DTYPE_ERROR)
        else:
            key.append(i._data)
    return tuple(key)


@tensor_method()
def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written (or added, with ``accumulate``) at the
    places that the tuple of index tensors ``indices`` selects."""
    if not isinstance(values, Tensor):
        values = _make(xp.asarray(values, dtype=input._data.dtype))
    _check_put_dtype(input, values)
    return IndexPut.apply(input, _index_tuple(indices), values, accumulate)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """In-place ``index_put``."""
    return input.index_put_(indices, values, accumulate)


# -- take, nonzero, one_hot -------------------------------------------------------------------
class Take(Op):
    """``input`` read as 1-D at ``index``; d = the gradient added back at those places."""

    node_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, x, index):
        a = x._data.reshape(-1)
        i = index._data
        bad = i[(i < -a.size) | (i >= a.size)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {bad.flat[0]} on a tensor of "
                             f"{a.size} elements.")
        ctx.save_for_backward((xp.where(i < 0, i + a.size, i),))
        ctx.in_shape = x._data.shape
        return a[i]

    @staticmethod
    def backward(ctx, g):
        n = 1
        for s in ctx.in_shape:
            n *= s
        key, = ctx.saved_tensors
        return IndexGrad.apply(g, key, (n,), True).reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Take.apply(tangents[0], inputs[1])


@tensor_method()
def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of ``input``, read as 1-D, at ``index`` (negative counts from the end)."""
    if index._data.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{index.dtype._legacy_name[:-6]}")
    return Take.apply(input, index)


@tensor_method()
@nondifferentiable(data_dependent_shape=True)
def nonzero(input: Tensor, *, out=None, as_tuple: bool = False):
    """The indices of the non-zero elements: an ``(n, ndim)`` tensor, or with ``as_tuple`` one
    1-D tensor per dim."""
    a = input._data
    if as_tuple:
        return tuple(_make(i.astype(xp.int64)) for i in xp.nonzero(a.reshape(-1) if a.ndim == 0
                                                                   else a))
    return _make(xp.argwhere(a).astype(xp.int64))


@tensor_method()
@nondifferentiable(data_dependent_shape=True)
def argwhere(input: Tensor) -> Tensor:
    """The ``(n, ndim)`` indices of the non-zero elements."""
    return nonzero(input)


@nondifferentiable(data_dependent_shape=True)  # with num_classes=-1 the width is the data's
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot int64 vectors in a new last dim of size ``num_classes``
    (default: the largest class + 1)."""
    a = tensor._data
    if a.dtype != xp.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if not a.size:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if a.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _make((a[..., None] == xp.arange(num_classes)).astype(xp.int64))


# -- where ------------------------------------------------------------------------------------
class Where(Op):
    """where(c, a, b); d = the gradient routed to a where c holds, else to b"""

    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, cond, a, b):
        c = cond._data
        if c.dtype != bool:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {cond.dtype._legacy_name[:-6]}")
        ctx.save_for_backward(cond)
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            x, y = operands(a, b)
        else:
            dt = result_type(a, b).np
            x, y = xp.asarray(a, dtype=dt), xp.asarray(b, dtype=dt)
        return xp.where(c, x, y)

    @staticmethod
    def backward(ctx, g):
        c, = ctx.saved_tensors
        zero = g.new_zeros(())
        ga = where(c, g, zero) if ctx.needs_input_grad[1] else None
        gb = where(c, zero, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        cond = inputs[0]
        ta, tb = tangents[1:]
        if ta is None and tb is None:
            return None
        return fit(where(cond, 0.0 if ta is None else ta, 0.0 if tb is None else tb), out)


def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; with only a
    condition, the indices of its non-zero elements (like ``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        return _where_indices(condition)
    if not isinstance(condition, Tensor):
        condition = _make(xp.asarray(condition))
    return Where.apply(condition, input, other)


@nondifferentiable(data_dependent_shape=True)
def _where_indices(condition):
    """``where(condition)``: the indices of its non-zero elements, one tensor per dim."""
    return nonzero(condition, as_tuple=True)


def _tensor_where(self, condition, y):
    """``where(condition, self, y)``: the method takes the tensor itself as ``input``."""
    return where(condition, self, y)


Tensor.where = _tensor_where

register_inplace("index_put")

from . import scatter as _scatter  # noqa: E402  (it builds on the ops above)

__all__ += _scatter.__all__
globals().update({name: getattr(_scatter, name) for name in _scatter.__all__})
