"""Forward-mode AD with dual tensors, like ``torch.autograd.forward_ad``.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)     # jvp = J_f(primal) @ tangent

ember has no per-op forward rules yet: ``make_dual`` returns a differentiable alias of the
primal (so the ops on it are recorded by reverse-mode autograd) and ``unpack_dual``
computes the tangent from that graph with two reverse passes (``J t = d/du <J^T u, t>``).
The values are forward mode's; the differences are listed in docs/func.md.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from .._tensor import Tensor
from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

_state = threading.local()


def _levels() -> list:
    if not hasattr(_state, "levels"):
        _state.levels = []
    return _state.levels


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal and its tangent (None when it has none)."""

    primal: Tensor
    tangent: Tensor | None


def enter_dual_level() -> int:
    """Open a forward-AD level (only one at a time, as in PyTorch); returns its index."""
    levels = _levels()
    if levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    levels.append([])
    return len(levels) - 1


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: the tangents of its dual tensors are dropped."""
    levels = _levels()
    if not levels:
        raise RuntimeError("Dual level must be a positive number.")
    levels.pop()


class dual_level:  # noqa: N801 - PyTorch's name
    """Context manager for a forward-AD level: ``with dual_level(): ...``."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A tensor equal to ``tensor`` that carries ``tangent`` as its forward gradient."""
    levels = _levels()
    if not levels:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError("Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError("Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than "
                           "that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    with enable_grad():
        dual = tensor.view_as(tensor) if tensor.requires_grad else (
            tensor.detach().requires_grad_())
    levels[-1].append((dual, tangent, tensor.requires_grad))
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``; the tangent is None outside a level or when
    ``tensor`` does not depend on any dual tensor of it."""
    levels = _levels()
    if not levels or not levels[-1] or not isinstance(tensor, Tensor) or (
            not tensor.requires_grad):
        return UnpackedDualTensor(tensor, None)
    duals = levels[-1]
    keep = any(user_grad for _, _, user_grad in duals)
    with enable_grad():
        u = tensor.new_zeros(tensor.shape).requires_grad_()
        vjps = _grad([tensor], [d for d, _, _ in duals], [u], retain_graph=True,
                     create_graph=True, allow_unused=True)
        used = [(g, t) for g, (_, t, _) in zip(vjps, duals) if g is not None]
        if not used:
            return UnpackedDualTensor(tensor, None)
        total = sum((g * t).sum() for g, t in used)
        if total.requires_grad:
            (tangent,) = _grad([total], [u], retain_graph=True, create_graph=keep,
                               allow_unused=True)
        else:
            tangent = None
    if tangent is None:
        tangent = tensor.new_zeros(tensor.shape)
    if not keep:
        tangent = tangent.detach()
    return UnpackedDualTensor(tensor if keep else tensor.detach(), tangent)
