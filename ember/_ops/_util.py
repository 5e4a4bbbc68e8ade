"""Helpers shared by op definitions: operand conversion, dtype and dim handling."""

from __future__ import annotations

from .._backend import ndarray, xp
from .._dtype import _FROM_NP, get_default_dtype, result_type
from .._tensor import Tensor, _make, _wrap_dim
from ..autograd.function import _InternalOp

__all__ = ["Op", "Tensor", "_make", "xp", "operands", "floating", "wrap_dim", "dims_arg",
           "tensor_method", "as_tensor_arg", "to_array", "ndarray", "expand_grad", "saved_arrays"]

Op = _InternalOp
wrap_dim = _wrap_dim

_SCALARS = (int, float, bool)


def to_array(x):
    """The backing array of a Tensor; other values pass through."""
    return x._data if isinstance(x, Tensor) else x


def saved_arrays(ctx) -> tuple:
    """``ctx.saved_tensors`` (version-checked, and refused once freed) as backing arrays:
    for backward code that computes on arrays because it is not being recorded, and for
    index arrays an op saved for its backward."""
    return tuple(t._data if isinstance(t, Tensor) else t for t in ctx.saved_tensors)


def _scalar(x):
    # NumPy scalars behave like Python numbers in PyTorch's promotion.
    return x.item() if hasattr(x, "item") and not isinstance(x, (Tensor, ndarray)) else x


def operands(a, b):
    """The arrays (or Python scalars) a binary op computes with, both in PyTorch's result
    dtype. Fast paths first: same-dtype tensors, and a tensor with a Python number."""
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            if x.dtype == y.dtype:
                return x, y
            dt = result_type(a, b).np
            return (x if x.dtype == dt else x.astype(dt)), (y if y.dtype == dt else y.astype(dt))
        tb = type(b)
        if (tb is float and x.dtype.kind in "fc") or (tb is int and x.dtype.kind in "fciu"):
            return x, b
        b = _scalar(b)
        dt = result_type(a, b).np
        return (x if x.dtype == dt else x.astype(dt)), _cast_scalar(b, dt)
    if isinstance(b, Tensor):
        y, x = operands(b, a)
        return x, y
    raise TypeError(f"expected at least one Tensor operand, got {type(a).__name__} and "
                    f"{type(b).__name__}")


def _cast_scalar(value, np_dtype):
    kind = np_dtype.kind
    if kind == "b":
        return bool(value)
    if kind in "iu" and not isinstance(value, bool):
        return int(value)
    return value


def floating(x: Tensor):
    """``x``'s array, cast to the default float dtype if it is integral (PyTorch's rule for
    ops like exp, sqrt, division)."""
    a = x._data
    if a.dtype.kind not in "fc":
        return a.astype(get_default_dtype().np)
    return a


def dims_arg(dim, ndim: int) -> tuple:
    """Normalise a dim argument (None, int, or sequence) to a sorted tuple of dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, Tensor)) and not isinstance(dim, bool):
        return (_wrap_dim(int(dim), ndim),)
    dims = tuple(_wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return tuple(sorted(dims)) if dims else tuple(range(ndim))


def as_tensor_arg(x, like: Tensor | None = None) -> Tensor:
    """Wrap a non-Tensor operand (number, list, array) as a constant tensor."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, _SCALARS):
        return _make(xp.asarray(x, dtype=result_type(like, x).np))
    from .._creation import tensor
    return tensor(x)


def tensor_method(*names: str):
    """Attach the decorated function to Tensor under ``names`` (default: its own name)."""
    def register(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn
    return register


def check_values(t: Tensor):
    """``t``'s values for an elementwise input check (index bounds, ranges): its array, or,
    for a batched tensor inside ``vmap`` (whose array is a stand-in without values), every
    sample's values at once. Never for computing a result."""
    a = t._data
    return a if type(a) is ndarray else a.all_samples()


def expand_grad(g, shape: tuple):
    """Broadcast a gradient (array or Tensor) to ``shape``, for backward formulas that run
    on bare arrays too (``Op._array_backward``). An array is materialised: NumPy's
    ``broadcast_to`` costs more than the copy for the small tensors where this matters,
    and the next backward op would produce a full-size result anyway."""
    if type(g) is ndarray:
        if g.shape == shape:
            return g
        out = xp.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return g.expand(shape)


def dtype_of(array):
    return _FROM_NP[array.dtype]
