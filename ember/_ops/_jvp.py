"""Shared pieces of the forward-mode rules (``jvp``) of ember's ops (``_ops`` and the nn
functions in ``nn/_functional``).

Rules compute with the inputs' primals (PyTorch's ``self_p``). While a level runs an op's
rule it is paused (``forward_ad._handle``), so the inputs' tangents at it are hidden and the
inputs themselves already are their primals; outer levels' tangents stay (nested ``jvp``).
"""

from __future__ import annotations

from .._tensor import Tensor


def primal(x):
    """``x`` as its primal: ``x`` itself, since the rule's level is paused while it runs."""
    return x


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


def add(*terms):
    """The sum of the tangent terms that are not None (None when all are)."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def tangent_sum(out: Tensor, *terms):
    """The sum of the tangent terms that are not None, at the output's shape and dtype
    (a term from a broadcast input is expanded); None when every term is None."""
    return fit(add(*terms), out)


def re(t: Tensor) -> Tensor:
    """The real part of a complex tangent term (real terms pass through)."""
    return t.real if t.is_complex() else t


def conj(t: Tensor) -> Tensor:
    return t.conj() if t.is_complex() else t


_FILE_AN_ISSUE = (
    "\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?"
    "template=feature-request.yml so that we can prioritize its implementation or submit a "
    "PR adding the implementation to derivatives.yaml")


def refuse_dual(name: str, *tensors, planned: bool = False) -> None:
    """PyTorch's error for a function its forward AD does not support (``planned``: one it
    lists as not implemented yet), raised when an argument carries a tangent."""
    from ..autograd.forward_ad import get_tangent
    if any(get_tangent(t) is not None for t in tensors):
        if planned:
            raise NotImplementedError(f"Trying to use forward AD with {name} that does not "
                                      "support it because it has not been implemented yet."
                                      + _FILE_AN_ISSUE)
        raise NotImplementedError(f"Trying to use forward AD with {name} that does not support "
                                  "it.")


def refuse(name: str, *tensors) -> None:
    """``refuse_dual(name, *tensors, planned=True)``: for functions ember composes from ops
    that do have rules, where PyTorch runs one kernel without a formula (``name``: its ATen
    name)."""
    refuse_dual(name, *tensors, planned=True)
