"""A triangular solve with its gradient (the distributions need ``L^-1 x`` for Cholesky
factors; ember's core has only the general solve)."""

from __future__ import annotations

from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import _InternalOp as Op

__all__ = ["solve_tril"]


class SolveTril(Op):
    """X = L^-1 B:  dB = L^-T dX,  dL = -tril(dB X^T)."""
    node_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, L, B):
        a, b = L._data, B._data
        dt = xp.result_type(a, b)
        shape = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(xp.tril(a), shape + a.shape[-2:]).astype(dt)
        b = xp.broadcast_to(b, shape + b.shape[-2:]).astype(dt)
        out = xp.linalg.solve(a, b) if a.size else xp.zeros(b.shape, dt)
        ctx.save_for_backward(L, out)
        return out

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        gB = solve_tril(L, g, transpose=True)
        gL = -(gB @ X.mT).tril() if ctx.needs_input_grad[0] else None
        return gL, gB


class SolveTrilT(Op):
    """X = L^-T B:  dB = L^-1 dX,  dL = -tril(X dB^T)."""
    node_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, L, B):
        a, b = L._data, B._data
        dt = xp.result_type(a, b)
        shape = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(xp.swapaxes(xp.tril(a), -1, -2), shape + a.shape[-2:]).astype(dt)
        b = xp.broadcast_to(b, shape + b.shape[-2:]).astype(dt)
        out = xp.linalg.solve(a, b) if a.size else xp.zeros(b.shape, dt)
        ctx.save_for_backward(L, out)
        return out

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        gB = solve_tril(L, g)
        gL = -(X @ gB.mT).tril() if ctx.needs_input_grad[0] else None
        return gL, gB


def solve_tril(L: Tensor, B: Tensor, transpose: bool = False) -> Tensor:
    """``L^-1 B`` (or ``L^-T B``) for lower-triangular ``L``; batch dims broadcast."""
    return (SolveTrilT if transpose else SolveTril).apply(L, B)
