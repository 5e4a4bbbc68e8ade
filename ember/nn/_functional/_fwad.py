"""Small helpers shared by the forward-mode (``jvp``) rules of the nn ops.

A rule runs while the forward-AD level is open, so a Tensor op it applies to a dual input
would compute that op's own tangent too (a wasted second-order term, and an error where
that op has no rule). Rules therefore compute with ``primal(x)``: the input without its
tangent, a view that keeps the reverse-mode graph, so tangents stay differentiable.
"""

from __future__ import annotations

from ..._ops.elementwise import _tangent_sum
from ...autograd.forward_ad import get_tangent

__all__ = ["primal", "tangent_sum", "add", "refuse"]

tangent_sum = _tangent_sum


def primal(x):
    """``x`` itself: the rule's level is paused while it runs (see ``ember._ops._jvp``)."""
    return x


def add(*terms):
    """The sum of the terms that are not None (None when all are)."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def refuse(name: str, *tensors) -> None:
    """PyTorch's error for an op it has no forward-mode formula for (``name``: its ATen
    name), raised when one of ``tensors`` carries a tangent. For functions ember composes
    from ops that do have rules, where PyTorch runs one kernel without a formula."""
    if any(get_tangent(t) is not None for t in tensors):
        raise NotImplementedError(
            f"Trying to use forward AD with {name} that does not support it because it has "
            "not been implemented yet.\nPlease file an issue to PyTorch at "
            "https://github.com/pytorch/pytorch/issues/new?template=feature-request.yml so "
            "that we can prioritize its implementation or submit a PR adding the "
            "implementation to derivatives.yaml")
