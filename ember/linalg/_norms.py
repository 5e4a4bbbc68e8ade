"""Norms (vector, matrix, and the ``norm`` front ends) and pairwise distances (``cdist``),
sharing one p-norm derivative."""

from __future__ import annotations

import math

from .._dtype import dtype as _DType
from .._ops._jvp import primal, refuse_dual
from .._ops._util import Op, Tensor, _make, dims_arg, wrap_dim, xp
from .._ops.indexing import where
from ._common import check_float, type_name

__all__ = ["vector_norm", "matrix_norm", "norm", "cdist"]

_INF = math.inf


def _ord_str(ord) -> str:
    return str(int(ord)) if isinstance(ord, float) and ord.is_integer() else str(ord)


def _pnorm(a, p, axis, keepdim: bool):
    """The p-norm of an array over ``axis`` (p = 0 counts non-zeros, +-inf are max/min |a|)."""
    if p == 2:
        return xp.sqrt(xp.sum(a * a, axis=axis, keepdims=keepdim))
    if p == 1:
        return xp.sum(xp.abs(a), axis=axis, keepdims=keepdim)
    if p == _INF:
        return xp.max(xp.abs(a), axis=axis, keepdims=keepdim)
    if p == -_INF:
        return xp.min(xp.abs(a), axis=axis, keepdims=keepdim)
    if p == 0:
        return xp.sum(a != 0, axis=axis, keepdims=keepdim).astype(a.dtype)
    with xp.errstate(divide="ignore"):
        return xp.sum(xp.abs(a) ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)


def _pnorm_grad(x: Tensor, n: Tensor, g: Tensor, p) -> Tensor:
    """g * d||x||_p / dx, with ``n`` and ``g`` already shaped to broadcast against ``x``:
    sign(x) |x|^(p-1) / n^(p-1), 0 where n = 0; at p = +-inf g is split among the ties."""
    if p == 0:                                  # piecewise constant: no gradient (torch: None)
        return None
    if p == 1:
        return g * x.sign()
    if p == 2:
        return x * where(n == 0, 0.0, g / n)
    if p in (_INF, -_INF):
        ties = xp.abs(x._data) == n._data
        share = ties / xp.maximum(ties.sum(axis=tuple(i for i, s in enumerate(n.shape)
                                                       if s == 1 and x.shape[i] != 1),
                                           keepdims=True), 1)
        return g * x.sign() * _make(share.astype(x._data.dtype))
    ax = x.abs()
    if p < 1:                                   # |x|^(p-1) is infinite at 0: gradient 0 there
        ax = where(x == 0, 1.0, ax)
    return x.sign() * ax.pow(p - 1) * where(n == 0, 0.0, g / n.pow(p - 1))


class VectorNorm(Op):
    """d||x||_p = g sign(x) |x|^(p-1) / ||x||^(p-1)  (p = +-inf: g sign(x) split among ties)"""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, ord, dims, keepdim):
        a = x._data
        if a.size == 0 or any(a.shape[d] == 0 for d in dims):
            if ord < 0 or ord == _INF:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm "
                                   "on an empty tensor because the operation does not have an "
                                   "identity")
        ctx.ord, ctx.dims, ctx.keepdim = ord, dims, keepdim
        out = xp.asarray(_pnorm(a, ord, dims, keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        if not ctx.keepdim:
            for d in ctx.dims:
                g, n = g.unsqueeze(d), n.unsqueeze(d)
        return _pnorm_grad(x, n, g, ctx.ord), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """d||x||_p = sum(sign(x) |x|^(p-1) dx) / ||x||^(p-1): backward's weights, summed
        against the tangent (p = 0: zero)"""
        x, ord, dims, keepdim = primal(inputs[0]), *inputs[1:]
        n = out
        if not keepdim:
            for d in dims:
                n = n.unsqueeze(d)
        weighted = _pnorm_grad(x, n, tangents[0], ord)
        if weighted is None:
            from .._creation import zeros_like
            return zeros_like(out)
        return weighted.sum(dims, keepdim=keepdim) if dims else weighted


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *,
                dtype: _DType | None = None, out=None) -> Tensor:
    """The p-norm of ``x`` over ``dim`` (all dims by default), treating it as a vector."""
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    check_float(x, "linalg.vector_norm")
    if dtype is not None and dtype != x.dtype:
        _check_widening(x, dtype, "linalg.vector_norm")
        x = x.to(dtype)
    dims = dims_arg(dim, x.ndim) if x.ndim else ()
    result = VectorNorm.apply(x, float(ord), dims, keepdim)
    return result if out is None else _copy_out(out, result)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype: _DType | None = None, out=None) -> Tensor:
    """Matrix norm over the two dims ``dim``: 'fro', 'nuc', +-1 (max/min column abs-sum),
    +-inf (row abs-sum), +-2 (largest/smallest singular value)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    check_float(A, "linalg.matrix_norm")
    d0, d1 = (wrap_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if dtype is not None and dtype != A.dtype:
        _check_widening(A, dtype, "linalg.matrix_norm")
        A = A.to(dtype)
    if ord == "fro":
        result = VectorNorm.apply(A, 2.0, tuple(sorted((d0, d1))), keepdim)
    elif ord in (1, -1, _INF, -_INF):
        if ord in (_INF, -_INF):             # rows' abs-sums: sum over the column dim
            d0, d1 = d1, d0
        s = A.abs().sum(d0, keepdim=keepdim)
        if not keepdim and d1 > d0:
            d1 -= 1
        result = s.amax(d1, keepdim=keepdim) if ord > 0 else s.amin(d1, keepdim=keepdim)
    elif ord in ("nuc", 2, -2):
        from ._spectral import svdvals
        rest = [d for d in range(A.ndim) if d not in (d0, d1)]
        s = svdvals(A.permute(rest + [d0, d1]))
        result = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                result = result.unsqueeze(d)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return result if out is None else _copy_out(out, result)


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype: _DType | None = None,
         out=None) -> Tensor:
    """``linalg.norm``: a vector norm for one dim (or all dims with ord=None), a matrix norm
    for two dims (or a 2-D input with ord given)."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype, out=out)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype,
                               out=out)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                           f"Got [{', '.join(map(str, dims))}]")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)


def _check_widening(x: Tensor, dtype: _DType, fn: str) -> None:
    """torch's rule for ``dtype=``: the input must convert to it without narrowing."""
    from .._dtype import promote_types
    if promote_types(x.dtype, dtype) != dtype:
        raise RuntimeError(f"{fn}: the dtype of the input ({x.dtype._legacy_name[:-6]}) should "
                           "be convertible without narrowing to the specified dtype "
                           f"({dtype._legacy_name[:-6]})")


def _copy_out(out: Tensor, result: Tensor) -> Tensor:
    from .._ops.inplace import copy_into_out
    return copy_into_out(out, result)


# -- cdist ------------------------------------------------------------------------------------
class Cdist(Op):
    """d_ij = ||x1_i - x2_j||_p: g_x1 = sum_j g_ij dd_ij/ddiff, g_x2 = -sum_i of the same"""

    node_name = "CdistBackward0"

    @staticmethod
    def forward(ctx, x1, x2, p):
        diff = x1._data[..., :, None, :] - x2._data[..., None, :, :]
        out = _pnorm(diff, p, -1, False)
        ctx.p = p
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved_tensors
        if ctx.p == 0:                              # piecewise constant: zero gradients
            return x1.new_zeros(x1.shape), x2.new_zeros(x2.shape), None
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        G = _pnorm_grad(diff, d.unsqueeze(-1), g.unsqueeze(-1), ctx.p)
        need1, need2 = ctx.needs_input_grad[:2]
        return (G.sum(-2) if need1 else None), (-G.sum(-3) if need2 else None), None


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (…, P, M) and x2 (…, R, M)."""
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if x._data.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{type_name(x._data)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    refuse_dual("_cdist_forward", x1, x2, planned=True)
    return Cdist.apply(x1, x2, float(p))
