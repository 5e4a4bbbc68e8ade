"""Reductions: forward reduces over ``dim``; backward spreads the gradient back out."""

from __future__ import annotations

from .._dtype import dtype as _DType
from ._util import Op, Tensor, dims_arg, tensor_method, xp

__all__ = ["sum", "mean"]


def _restore_dims(g: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """Re-insert reduced dims (size 1) so ``g`` broadcasts against the input."""
    if keepdim or g.ndim == 0 and not dims:
        return g
    shape = list(g.shape)
    for d in dims:
        shape.insert(d, 1)
    return g.reshape(shape)


class Sum(Op):
    """d sum(x) = broadcast of the incoming gradient over the summed dims"""

    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        if dtype is None and a.dtype.kind in "biu":
            dtype = xp.int64  # integer sums accumulate in int64, as in PyTorch
        elif dtype is not None:
            dtype = dtype.np
        if dims is None:
            return xp.asarray(a.sum(dtype=dtype))
        return a.sum(axis=dims, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims if ctx.dims is not None else ()
        return _restore_dims(g, dims, ctx.keepdim).expand(ctx.shape), None, None, None


class SumDim(Sum):
    node_name = "SumBackward1"


class Mean(Op):
    """d mean(x) = broadcast of the incoming gradient / number of averaged elements"""

    node_name = "MeanBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        if dtype is not None:
            a = a.astype(dtype.np)
        elif a.dtype.kind not in "fc":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be "
                               "either a floating point or complex dtype. Got: "
                               f"{x.dtype._legacy_name[:-6]}")
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        if dims is None:
            ctx.count = a.size
            return xp.asarray(a.mean())
        count = 1
        for d in dims:
            count *= a.shape[d]
        ctx.count = count
        with xp.errstate(invalid="ignore", divide="ignore"):
            return a.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims if ctx.dims is not None else ()
        g = _restore_dims(g, dims, ctx.keepdim).expand(ctx.shape)
        return g / ctx.count, None, None, None


class MeanDim(Mean):
    node_name = "MeanBackward1"


@tensor_method()
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None):
    """Sum of all elements, or over ``dim`` (an int or a tuple of ints)."""
    if dim is None:
        return Sum.apply(input, None, False, dtype)
    return SumDim.apply(input, dims_arg(dim, input.ndim), keepdim, dtype)


@tensor_method()
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None):
    """Mean of all elements, or over ``dim`` (an int or a tuple of ints)."""
    if dim is None:
        return Mean.apply(input, None, False, dtype)
    return MeanDim.apply(input, dims_arg(dim, input.ndim), keepdim, dtype)
