"""Forward-mode AD with dual tensors, like ``torch.autograd.forward_ad``.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)     # jvp = J_f(primal) @ tangent

How it works: while a level is open, a handler on ``Function.apply``'s interception point
(``function.push_interceptor``) sees every op. When an argument carries a tangent, the op
runs as usual (for its value, and for reverse mode if recorded) and then its forward-mode
rule, the ``jvp`` static method beside its ``forward`` and ``backward``, computes the
output's tangent from the inputs' tangents:

    class Mul(Op):
        @staticmethod
        def jvp(inputs, output, tangents):      # inputs: the args of apply
            a, b = inputs
            ta, tb = tangents                   # None where an input has no tangent
            ...                                 # return the output's tangent (None: zero)

The rule computes with Tensor operations, so tangents are themselves differentiable
(reverse-over-forward) and batch under ``vmap``. An op without a rule raises PyTorch's
error. A tangent lives on its tensor (``tensor._extra["fw_grad"]``) with the token of the
level it belongs to; closing the level makes every tangent of it stale.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from .._tensor import Tensor
from . import function as _function

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

#: Priority on ``Function.apply``'s interception point: before vmap's batching (10), so a
#: tangent on a batched tensor is seen before the batch dimension is unwrapped.
PRIORITY = 0

_state = threading.local()


class _Level:
    """One open forward-AD level; its identity marks the tangents made inside it."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _levels() -> list:
    levels = getattr(_state, "levels", None)
    if levels is None:
        levels = _state.levels = []
    return levels


def _current() -> _Level | None:
    levels = getattr(_state, "levels", None)
    return levels[-1] if levels else None


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal and its tangent (None when it has none)."""

    primal: Tensor
    tangent: Tensor | None


def enter_dual_level() -> int:
    """Open a forward-AD level (only one at a time, as in PyTorch); returns its index."""
    levels = _levels()
    if levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    levels.append(_Level(len(levels)))
    _function.push_interceptor(_handle, PRIORITY)
    return len(levels) - 1


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: the tangents of its dual tensors are dropped."""
    levels = _levels()
    if not levels:
        raise RuntimeError("Dual level must be a positive number.")
    if level is not None and level != levels[-1].index:
        raise RuntimeError(f"Trying to exit a forward AD level that was not the last one "
                           f"that was created. This is not supported. Expected level "
                           f"{levels[-1].index} but got {level}.")
    levels.pop()
    _function.pop_interceptor(_handle)


class dual_level:  # noqa: N801 - PyTorch's name
    """Context manager for a forward-AD level: ``with dual_level(): ...``."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def get_tangent(tensor) -> Tensor | None:
    """The tangent ``tensor`` carries at the open level, or None."""
    if not isinstance(tensor, Tensor):
        return None
    extra = tensor._extra
    if not extra:
        return None
    entry = extra.get("fw_grad")
    if entry is None or entry[0] is not _current():
        return None
    return entry[1]


def set_tangent(tensor: Tensor, tangent: Tensor | None) -> None:
    """Attach ``tangent`` to ``tensor`` at the open level (None removes it)."""
    if tensor._extra is None:
        if tangent is None:
            return
        tensor._extra = {}
    if tangent is None:
        tensor._extra.pop("fw_grad", None)
    else:
        tensor._extra["fw_grad"] = (_current(), tangent)


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of ``tensor`` that carries ``tangent`` as its forward gradient."""
    if _current() is None:
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
    dual = _alias(tensor)
    set_tangent(dual, tangent)
    return dual


def _alias(tensor: Tensor) -> Tensor:
    """A view of ``tensor`` made below this module's handler (so it carries no tangent)."""
    return _function.apply_below(_function._interceptors.index(_handle), _Alias, (tensor,), {})


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``: a view without the tangent, and the tangent
    (None outside a level, or when ``tensor`` carries none)."""
    tangent = get_tangent(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = _alias(tensor)
    return UnpackedDualTensor(primal, tangent)


def _no_rule(cls) -> NotImplementedError:
    name = (cls.node_name or cls.__name__) if cls._array_forward else cls.__name__
    return NotImplementedError(f"Trying to use forward AD with {name} that does not support it "
                        "because it has not been implemented yet.")


def _handle(cls, args: tuple, kwargs: dict, index: int):
    """The interception handler: for an op with an input that carries a tangent, run the op
    and attach the tangent its rule computes to each floating output."""
    tangents = None
    for i, a in enumerate(args):
        t = get_tangent(a)
        if t is not None:
            if tangents is None:
                tangents = [None] * len(args)
            tangents[i] = t
    if tangents is None:
        return NotImplemented
    if not cls._array_forward:
        # A custom Function: its ``jvp(ctx, *tangents)`` needs the ctx, so ``apply`` runs it.
        return NotImplemented
    rule = cls.jvp
    if rule is _function.Function.jvp:
        raise _no_rule(cls)
    out = _function.apply_below(index, cls, args, kwargs)
    result = rule(args, out, tuple(tangents))
    if isinstance(out, tuple):
        results = result if isinstance(result, tuple) else (result,)
        for o, t in zip(out, results):
            _attach(o, t)
    else:
        _attach(out, result)
    return out


def _attach(out, tangent) -> None:
    if isinstance(out, Tensor) and tangent is not None and (
            out.is_floating_point() or out.is_complex()):
        set_tangent(out, tangent)


class _Alias(_function._InternalOp):
    """``make_dual`` / ``unpack_dual``'s view: the same data, a gradient passed through."""

    node_name = "AliasBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x):
        return x._data.view()

    @staticmethod
    def backward(ctx, g):
        return g
