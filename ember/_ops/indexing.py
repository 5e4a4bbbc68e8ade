"""Indexing: ``x[key]`` (basic indexing gives a view, advanced a copy), ``x[key] = v``,
and ``where``. Gradients of advanced indexing accumulate over repeated indices."""

from __future__ import annotations

from .._dtype import result_type
from ._util import Op, Tensor, _make, operands, tensor_method, xp

__all__ = ["where"]

_BASIC = (int, slice, type(None), type(Ellipsis))


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
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            out.append(a)
            basic = False
        elif isinstance(k, bool) or not isinstance(k, _BASIC):
            if isinstance(k, (list, tuple)):
                k = xp.asarray([int(i) if isinstance(i, Tensor) else i for i in k])
                if k.dtype.kind == "f":
                    raise IndexError("tensors used as indices must be long, int, byte or bool "
                                     "tensors")
            elif hasattr(k, "__index__") and not isinstance(k, bool):
                k = k.__index__()
                out.append(k)
                continue
            out.append(k)
            basic = False
        else:
            out.append(k)
    return tuple(out), basic


class Index(Op):
    """``x[key]``; d = the gradient scattered (summed) back into the indexed places"""

    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, key):
        ctx.key, ctx.in_shape = key, x._data.shape
        try:
            return xp.asarray(x._data[key])
        except IndexError as e:
            msg = str(e).replace("axis", "dimension").replace("array", "tensor")
            raise IndexError(msg) from None

    @staticmethod
    def backward(ctx, g):
        return IndexGrad.apply(g, ctx.key, ctx.in_shape, True), None


class BasicIndex(Index):
    """A basic index (ints, slices, None, ...): a view of ``x``."""

    _is_view = True

    @staticmethod
    def backward(ctx, g):
        return IndexGrad.apply(g, ctx.key, ctx.in_shape, False), None


class SelectIndex(BasicIndex):
    node_name = "SelectBackward0"


class SliceIndex(BasicIndex):
    node_name = "SliceBackward0"


class UnsqueezeIndex(BasicIndex):
    node_name = "UnsqueezeBackward0"


class IndexGrad(Op):
    """Zeros of ``shape`` with ``g`` put (or, for advanced keys, accumulated) at ``key``;
    d = index the gradient the same way."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, key, shape, accumulate):
        ctx.key = key
        out = xp.zeros(shape, dtype=g._data.dtype)
        if accumulate:
            xp.add.at(out, key, g._data)
        else:
            out[key] = g._data
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, ctx.key), None, None, None


def _basic_class(key):
    for k in reversed(key):
        if k is Ellipsis:
            continue
        if isinstance(k, int):
            return SelectIndex
        if k is None:
            return UnsqueezeIndex
        return SliceIndex
    return SliceIndex


def getitem(self: Tensor, key) -> Tensor:
    k, basic = _convert_key(key)
    if basic:
        if self._data.ndim == 0 and any(isinstance(i, int) for i in k):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        return _basic_class(k).apply(self, k)
    return Index.apply(self, k)


class IndexPut(Op):
    """``x`` with ``values`` written at ``key``; d = gradient with the written places zeroed
    for ``x``, and the gradient at those places for ``values``."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x, key, values, accumulate=False):
        ctx.key = key
        ctx.values_shape = values._data.shape if isinstance(values, Tensor) else None
        out = x._data.copy()
        v = values._data if isinstance(values, Tensor) else values
        if accumulate:
            xp.add.at(out, key, v)
        else:
            out[key] = v
        ctx.accumulate = accumulate
        return out

    @staticmethod
    def backward(ctx, g):
        gx = None
        if ctx.needs_input_grad[0]:
            gx = g if ctx.accumulate else IndexPut.apply(g, ctx.key, 0.0)
        gv = None
        if ctx.needs_input_grad[2]:
            gv = Index.apply(g, ctx.key)
            vshape = ctx.values_shape
            if gv._data.shape != vshape:
                # Values were broadcast into the indexed region: sum back to their shape.
                lead = gv.ndim - len(vshape)
                if lead < 0:
                    gv = gv.reshape(vshape)
                else:
                    gv = gv.sum_to_size(vshape)
        return gx, None, gv, None


def setitem(self: Tensor, key, value) -> None:
    from .inplace import apply_inplace, copy_
    k, basic = _convert_key(key)
    if not isinstance(value, Tensor):
        value = _make(xp.asarray(value, dtype=self._data.dtype))
    if basic:
        copy_(getitem(self, key), value)
        return
    if value._data.dtype != self._data.dtype:
        value = value.to(self.dtype)
    apply_inplace(self, lambda s, v: IndexPut.apply(s, k, v), value, name="IndexPutBackward0")


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem


class Where(Op):
    """where(c, a, b); d = the gradient routed to a where c holds, else to b"""

    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, cond, a, b):
        c = cond._data if isinstance(cond, Tensor) else xp.asarray(cond)
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


@tensor_method()
def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; with only a
    condition, the indices of its non-zero elements (like ``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        c = condition._data
        return tuple(_make(i.astype(xp.int64)) for i in xp.nonzero(c))
    if not isinstance(condition, Tensor):
        condition = _make(xp.asarray(condition))
    return Where.apply(condition, input, other)


def _tensor_where(self, condition, y):
    return where(condition, self, y)


Tensor.where = _tensor_where
