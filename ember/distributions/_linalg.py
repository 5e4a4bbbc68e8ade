"""The triangular solve the distributions use for Cholesky factors (``L^-1 x``)."""

from __future__ import annotations

from .._tensor import Tensor

__all__ = ["solve_tril"]


def solve_tril(L: Tensor, B: Tensor, transpose: bool = False) -> Tensor:
    """``L^-1 B`` (or ``L^-T B``) for lower-triangular ``L``; batch dims broadcast."""
    from ..linalg import solve_triangular
    if transpose:
        return solve_triangular(L.mT, B, upper=True)
    return solve_triangular(L, B, upper=False)
