"""Shared pieces of the forward-mode rules (``jvp``) of the shape, joining, indexing,
scatter, selection and reduction ops.

Rules compute with the inputs' primals (PyTorch's ``self_p``): an input is a dual tensor
while its op's rule runs, and an op applied to it inside the rule would be differentiated
forward again (wasted work, and endless for a rule that reapplies its own op, like prod's).
"""

from __future__ import annotations

from .._tensor import Tensor
from ..autograd.forward_ad import unpack_dual


def primal(x):
    """``x`` without its tangent (a view that keeps reverse mode), or ``x`` itself."""
    return unpack_dual(x).primal if isinstance(x, Tensor) else x


def or_zeros(tangent, x: Tensor) -> Tensor:
    """``tangent``, or zeros like the input ``x`` where it has none (for the linear ops of
    several tensors, where the others' tangents still count)."""
    if tangent is not None:
        return tangent
    from .._creation import zeros_like
    return zeros_like(primal(x))


def fit(tangent, out: Tensor):
    """``tangent`` in the output's dtype and shape (a broadcast tangent is expanded)."""
    if tangent is None:
        return None
    if tangent.dtype != out.dtype:
        tangent = tangent.to(out.dtype)
    return tangent if tangent.shape == out.shape else tangent.expand(out.shape)


def re(t: Tensor) -> Tensor:
    """The real part of a complex tangent term (real terms pass through)."""
    return t.real if t.is_complex() else t


def conj(t: Tensor) -> Tensor:
    return t.conj() if t.is_complex() else t
