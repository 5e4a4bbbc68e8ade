"""Views with explicit strides (``Tensor.unfold``, ``as_strided``, ``diagonal``) and the
matrices built from diagonals or triangles (``diag``, ``diag_embed``, ``diagflat``, ``tril``,
``triu``, ``tril_indices``, ``triu_indices``). Exported through ``shape``."""

from __future__ import annotations

from .._dtype import int64
from ._util import Op, Tensor, _make, tensor_method, wrap_dim, xp
from .inplace import register_inplace

__all__ = ["as_strided", "diagonal", "diag", "diag_embed", "diagflat", "tril", "triu",
           "tril_indices", "triu_indices"]


class Unfold(Op):
    """Sliding windows along one dim (a view); d = each window's gradient added back."""

    node_name = "UnfoldBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dim, size, step):
        a = x._data
        ctx.args = (a.shape, dim, size, step)
        if a.ndim == 0:
            return a.reshape(1)
        count = (a.shape[dim] - size) // step + 1
        st = a.strides
        return xp.lib.stride_tricks.as_strided(
            a, a.shape[:dim] + (count,) + a.shape[dim + 1:] + (size,),
            st[:dim] + (st[dim] * step,) + st[dim + 1:] + (st[dim],))

    @staticmethod
    def backward(ctx, g):
        shape, dim, size, step = ctx.args
        if not shape:
            return g.reshape(()), None, None, None
        count = g.shape[dim]
        pos = (xp.arange(count)[:, None] * step + xp.arange(size)).reshape(-1)
        windows = g.movedim(-1, dim + 1).flatten(dim, dim + 1)
        return g.new_zeros(shape).index_add(dim, _make(pos), windows), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Unfold.apply(tangents[0], *inputs[1:])


def _unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Windows of ``size`` elements every ``step`` along ``dimension``, in a new last dim."""
    shape = input._data.shape
    d = wrap_dim(dimension, len(shape))
    n = shape[d] if shape else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(input, d, size, step)


Tensor.unfold = _unfold


def _storage(a):
    """The array that owns ``a``'s memory (PyTorch's storage), walking view bases."""
    while True:
        b = a.base
        if b is not None and not isinstance(b, type(a)):
            b = getattr(b, "base", None)
        if not isinstance(b, type(a)):
            return a
        a = b


def _offset(a, root) -> int:
    return (a.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // a.itemsize


class AsStrided(Op):
    """A view of the storage with explicit sizes and strides; d = the gradient added into
    the storage positions it came from, read back at the input's positions."""

    node_name = "AsStridedBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, size, stride, offset):
        a = x._data
        root = _storage(a)
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            root = a  # memory we cannot see as one block: the tensor is its own storage
        start = _offset(a, root) if offset is None else offset
        need = 1 + start + sum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
        if need > root.size:
            raise RuntimeError(
                f"setStorage: sizes [{', '.join(map(str, size))}], strides "
                f"[{', '.join(map(str, stride))}], storage offset {start}, and itemsize "
                f"{a.itemsize} requiring a storage size of {need * a.itemsize} are out of bounds "
                f"for storage of size {root.size * a.itemsize}")
        flat = xp.lib.stride_tricks.as_strided(root, (root.size,), (a.itemsize,))
        ctx.shape, ctx.n = a.shape, root.size
        ctx.save_for_backward(_positions(size, stride, start), _positions(
            a.shape, tuple(s // a.itemsize for s in a.strides), _offset(a, root)))
        return xp.lib.stride_tricks.as_strided(flat[start:], size,
                                               tuple(s * a.itemsize for s in stride))

    @staticmethod
    def backward(ctx, g):
        out_pos, in_pos = ctx.saved_tensors  # index arrays, as constant tensors
        storage = g.new_zeros(ctx.n).index_add(0, out_pos, g.reshape(-1))
        return storage.take(in_pos).reshape(ctx.shape), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        # The view reads the input's storage; the tangent may be laid out differently, so it
        # is first written at the input's storage positions of a fresh zero storage (places
        # outside the input carry no tangent), which is then viewed the same way.
        x, size, stride, offset = inputs
        t = tangents[0]
        start = x.storage_offset() if offset is None else offset
        in_pos = _positions(x.shape, x.stride(), x.storage_offset())
        out_pos = _positions(size, stride, start)
        n = 1 + max(int(in_pos.max()) if in_pos.size else 0,
                    int(out_pos.max()) if out_pos.size else 0)
        storage = t.new_zeros(n).index_put((_make(in_pos),), t.reshape(-1))
        return AsStrided.apply(storage, size, stride, start)


def _positions(size, stride, start):
    """Storage index of every element of a strided view, in row-major order."""
    pos = xp.full((), start, dtype=xp.int64)
    for s, st in zip(size, stride):
        pos = pos[..., None] + xp.arange(s) * st
    return pos.reshape(-1)


@tensor_method()
def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s storage with the given sizes and strides (in elements)."""
    return AsStrided.apply(input, tuple(size), tuple(stride), storage_offset)


# -- diagonals ---------------------------------------------------------------------------------
def _diagonal_view(a, offset: int, d1: int, d2: int):
    """A writable view of the ``offset`` diagonal of dims ``d1``, ``d2``, as the last dim."""
    n1, n2 = a.shape[d1], a.shape[d2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    if length:
        d, k = (d2, offset) if offset >= 0 else (d1, -offset)
        a = a[(slice(None),) * d + (slice(k, None),)]
    keep = [i for i in range(a.ndim) if i not in (d1, d2)]
    return xp.lib.stride_tricks.as_strided(
        a, tuple(a.shape[i] for i in keep) + (length,),
        tuple(a.strides[i] for i in keep) + (a.strides[d1] + a.strides[d2],))


class Diagonal(Op):
    """A diagonal as the last dim (a view); d = the gradient put on the diagonal of zeros."""

    node_name = "DiagonalBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        ctx.args = (x._data.shape, offset, d1, d2)
        return _diagonal_view(x._data, offset, d1, d2)

    @staticmethod
    def backward(ctx, g):
        return DiagonalScatter.apply(g, *ctx.args), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Diagonal.apply(tangents[0], *inputs[1:])


class DiagonalCopy(Diagonal):
    """``diag`` of a matrix: its diagonal, copied."""

    node_name = "DiagonalBackward0_copy"
    _is_view = False

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        return Diagonal.forward(ctx, x, offset, d1, d2).copy()

    @staticmethod
    def jvp(inputs, out, tangents):
        return DiagonalCopy.apply(tangents[0], *inputs[1:])


class DiagonalScatter(Op):
    """Zeros of ``shape`` with ``x`` on a diagonal; d = that diagonal of the gradient."""

    node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, x, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        out = xp.zeros(shape, dtype=x._data.dtype)
        _diagonal_view(out, offset, d1, d2)[...] = x._data
        return out

    @staticmethod
    def backward(ctx, g):
        return Diagonal.apply(g, *ctx.args), None, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return DiagonalScatter.apply(tangents[0], *inputs[1:])


@tensor_method()
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset`` diagonal of dims ``dim1``, ``dim2``, appended as the last dim (a view)."""
    n = input._data.ndim
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, d1, d2)


# -- diagonal and triangular matrices ---------------------------------------------------------
class DiagEmbed(DiagonalScatter):
    """Zeros with ``x``'s last dim on a diagonal; d = that diagonal of the gradient."""

    node_name = "DiagEmbedBackward0"


@tensor_method()
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Put the last dim of ``input`` on the ``offset`` diagonal of new dims ``dim1``,
    ``dim2``."""
    n = input._data.ndim + 1
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = list(input._data.shape)
    size = (shape.pop() if shape else 1) + abs(offset)
    for d in sorted((d1, d2)):
        shape.insert(d, size)
    return DiagEmbed.apply(input, tuple(shape), offset, d1, d2)


@tensor_method()
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as a diagonal matrix, or a matrix's ``diagonal`` as a 1-D tensor."""
    n = input._data.ndim
    if n == 1:
        size = input._data.shape[0] + abs(diagonal)
        return DiagEmbed.apply(input, (size, size), diagonal, 0, 1)
    if n == 2:
        return DiagonalCopy.apply(input, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")


@tensor_method()
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The flattened input on the ``offset`` diagonal of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


class Tril(Op):
    """The lower triangle (below diagonal ``k``) of the last two dims; d = the gradient's."""

    node_name = "TrilBackward0"
    _fn = staticmethod(xp.tril)

    @classmethod
    def forward(cls, ctx, x, k):
        ctx.k = k
        return cls._fn(x._data, k)

    @classmethod
    def backward(cls, ctx, g):
        return cls.apply(g, ctx.k), None

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return cls.apply(tangents[0], inputs[1])


class Triu(Tril):
    """The upper triangle (above diagonal ``k``); d = the gradient's upper triangle."""

    node_name = "TriuBackward0"
    _fn = staticmethod(xp.triu)


def _triangle(cls, name: str, input: Tensor, diagonal: int) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return cls.apply(input, int(diagonal))


@tensor_method()
def tril(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """Zero the elements above the ``diagonal``-th diagonal of the last two dims."""
    return _triangle(Tril, "tril", input, diagonal)


@tensor_method()
def triu(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """Zero the elements below the ``diagonal``-th diagonal of the last two dims."""
    return _triangle(Triu, "triu", input, diagonal)


def _tri_indices(fn, row: int, col: int, offset: int, dtype) -> Tensor:
    rows, cols = fn(row, offset, col)
    return _make(xp.stack([rows, cols]).astype((dtype or int64).np))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The ``(2, N)`` row and column indices of a ``row x col`` lower triangle."""
    return _tri_indices(xp.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The ``(2, N)`` row and column indices of a ``row x col`` upper triangle."""
    return _tri_indices(xp.triu_indices, row, col, offset, dtype)


register_inplace("tril", "triu")
