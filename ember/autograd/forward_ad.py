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

The rule runs on primals: while a level handles an op (its forward and its rule), that
level is paused and ``get_tangent`` hides its tangents, so the Tensor ops a rule applies to
its (dual) inputs are not differentiated forward again. They are still recorded for reverse
mode, so tangents are themselves differentiable (reverse-over-forward) and batch under
``vmap``. An op without a rule raises PyTorch's error. A custom ``autograd.Function`` gives
its ``jvp(ctx, *tangents)`` static method instead (see ``_custom``).

A tangent lives on its tensor (``tensor._extra["fw_grad"]``: ``{level: tangent}``); closing
the level makes every tangent of it stale. ``dual_level`` opens one level at a time, as in
PyTorch; ``ember.func.jvp`` opens nested private levels (``_enter``), each with its own
handler, the innermost first, so ``jvp(jvp(f))`` and ``jacfwd(jacfwd(f))`` work: a rule of
an inner level is differentiated by the outer ones.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import NamedTuple

from .._tensor import Tensor
from . import function as _function
from .grad_mode import _grad_enabled, enable_grad

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

#: Priority on ``Function.apply``'s interception point of the outermost level: before vmap's
#: batching (10), so a tangent on a batched tensor is seen before the batch dimension is
#: unwrapped. Level ``k`` takes ``PRIORITY - k``: inner levels see a call first.
PRIORITY = 0

_state = threading.local()

#: True while some level is open: the one test in-place writes pay (see ``on_write``).
_open = [False]


class _Level:
    """One open forward-AD level: its identity keys the tangents made inside it."""

    __slots__ = ("index", "paused", "handler", "public")

    def __init__(self, index: int, public: bool) -> None:
        self.index = index
        self.paused = False
        self.public = public

        def handler(cls, args, kwargs, i, level=self):
            return _handle(level, cls, args, kwargs, i)
        self.handler = handler


def _levels() -> list:
    levels = getattr(_state, "levels", None)
    if levels is None:
        levels = _state.levels = []
    return levels


def _current() -> _Level | None:
    """The innermost open level that is not paused (the one user code sees)."""
    levels = getattr(_state, "levels", None)
    if levels:
        for level in reversed(levels):
            if not level.paused:
                return level
    return None


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal and its tangent (None when it has none)."""

    primal: Tensor
    tangent: Tensor | None


def _enter(public: bool) -> _Level:
    levels = _levels()
    level = _Level(len(levels), public)
    levels.append(level)
    _function.push_interceptor(level.handler, PRIORITY - level.index)
    _open[0] = True
    return level


def _exit(level: _Level) -> None:
    levels = _levels()
    levels.remove(level)
    _function.pop_interceptor(level.handler)
    _open[0] = bool(levels)


def enter_dual_level() -> int:
    """Open a forward-AD level (only one at a time, as in PyTorch); returns its index."""
    if any(level.public for level in _levels()):
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    return _enter(True).index


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: the tangents of its dual tensors are dropped."""
    public = [lv for lv in _levels() if lv.public]
    if not public:
        raise RuntimeError("Dual level must be a positive number.")
    if level is not None and level != public[-1].index:
        raise RuntimeError(f"Trying to exit a forward AD level that was not the last one "
                           f"that was created. This is not supported. Expected level "
                           f"{public[-1].index} but got {level}.")
    _exit(public[-1])


class dual_level:  # noqa: N801 - PyTorch's name
    """Context manager for a forward-AD level: ``with dual_level(): ...``."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


@contextmanager
def _paused(level: _Level):
    """Hide ``level``'s tangents (a rule runs on primals)."""
    was = level.paused
    level.paused = True
    try:
        yield
    finally:
        level.paused = was


def _tangent_at(tensor, level: _Level) -> Tensor | None:
    if not isinstance(tensor, Tensor):
        return None
    extra = tensor._extra
    if not extra:
        return None
    entry = extra.get("fw_grad")
    return None if entry is None else entry.get(level)


def get_tangent(tensor, level: _Level | None = None) -> Tensor | None:
    """The tangent ``tensor`` carries at ``level`` (default: the innermost level that is not
    paused), or None."""
    if level is None:
        level = _current()
        if level is None:
            return None
    return _tangent_at(tensor, level)


def is_dual(tensor) -> bool:
    """Whether ``tensor`` carries a tangent at some open level that is not paused."""
    levels = getattr(_state, "levels", None)
    return bool(levels) and any(not lv.paused and _tangent_at(tensor, lv) is not None
                                for lv in levels)


def set_tangent(tensor: Tensor, tangent: Tensor | None, level: _Level | None = None) -> None:
    """Attach ``tangent`` to ``tensor`` at ``level`` (default: the current one; None
    removes it). Copy on write: tensor aliases may share the mapping."""
    if level is None:
        level = _current()
    extra = tensor._extra
    entry = extra.get("fw_grad") if extra else None
    if tangent is None:
        if entry and level in entry:
            entry = {k: v for k, v in entry.items() if k is not level}
            extra["fw_grad"] = entry
        return
    if extra is None:
        extra = tensor._extra = {}
    entry = dict(entry) if entry else {}
    entry[level] = tangent
    extra["fw_grad"] = entry


def copy_tangents(src: Tensor, dst: Tensor) -> Tensor:
    """Give ``dst`` (a fresh alias of ``src``, like a transform's detached input) the tangents
    ``src`` carries at the open levels."""
    extra = src._extra
    entry = extra.get("fw_grad") if extra else None
    if entry:
        if dst._extra is None:
            dst._extra = {}
        dst._extra["fw_grad"] = entry
    return dst


def check_reverse_input(t) -> None:
    """Called on each input a reverse-mode transform differentiates (``func.grad``,
    ``jacrev``...). Under ``vmap`` those transforms run the backward pass on the physical
    (unbatched) tensors, which hold no tangent, so with a forward-AD level open tangents
    would be lost there: ``vmap`` is asked to run the function once per sample instead
    (slower, never wrong; see docs/func.md)."""
    if _open[0]:
        from ..func._batching import Unbatchable, active_levels
        if active_levels():
            raise Unbatchable("forward-mode AD over reverse-mode AD (jacfwd(jacrev), hvp)")


def _level_arg(level: int | None) -> _Level | None:
    if level is None:
        return _current()
    for lv in _levels():
        if lv.index == level:
            return lv
    return None


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of ``tensor`` that carries ``tangent`` as its forward gradient."""
    lv = _level_arg(level)
    if lv is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    return _make_dual(tensor, tangent, lv)


def _make_dual(tensor: Tensor, tangent: Tensor, level: _Level) -> Tensor:
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
    if tensor._requires_grad and not _grad_enabled.get():
        with enable_grad():  # PyTorch's dual stays in the graph even under no_grad
            dual = _alias(tensor, level)
    else:
        dual = _alias(tensor, level)
    set_tangent(dual, tangent, level)
    return dual


def _alias(tensor: Tensor, level: _Level) -> Tensor:
    """A view of ``tensor`` made below ``level``'s handler: it carries no tangent at
    ``level``, and keeps those of the outer levels (``_Alias.jvp``)."""
    index = _function._interceptors.index(level.handler)
    return _function.apply_below(index, _Alias, (tensor,), {})


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``: a view without the tangent, and the tangent
    (None outside a level, or when ``tensor`` carries none)."""
    lv = _level_arg(level)
    tangent = _tangent_at(tensor, lv) if lv is not None else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor, lv), tangent)


def _no_rule(cls) -> NotImplementedError:
    name = (cls.node_name or cls.__name__) if cls._array_forward else cls.__name__
    return NotImplementedError(f"Trying to use forward AD with {name} that does not support "
                               "it because it has not been implemented yet.")


def _handle(level: _Level, cls, args: tuple, kwargs: dict, index: int):
    """The interception handler of ``level``: for an op with an input that carries a tangent
    at it, run the op and attach the tangent its rule computes to each floating output."""
    if level.paused or cls.nondifferentiable:
        return NotImplemented  # no derivative: the result carries no tangent
    tangents = None
    for i, a in enumerate(args):
        t = _tangent_at(a, level)
        if t is not None:
            if tangents is None:
                tangents = [None] * len(args)
            tangents[i] = t
    if tangents is None:
        return NotImplemented
    if not cls._array_forward:
        return _custom(level, cls, args, kwargs, index, tangents)
    rule = cls.jvp
    if rule is _function.Function.jvp:
        if cls.node_name == "torch::autograd::CopySlices":
            # The node a write through a view gives its base: ``on_write`` has already
            # written the tangent into the base's, so there is nothing to compute.
            return NotImplemented
        raise _no_rule(cls)
    level.paused = True
    try:
        out = _function.apply_below(index, cls, args, kwargs)
        result = rule(args, out, tuple(tangents))
    finally:
        level.paused = False
    if isinstance(out, tuple):
        results = result if isinstance(result, tuple) else (result,)
        for o, t in zip(out, results):
            _attach(o, t, level)
    else:
        _attach(out, result, level)
    return out


def _attach(out, tangent, level: _Level) -> None:
    if isinstance(out, Tensor) and tangent is not None and (
            out.is_floating_point() or out.is_complex()):
        set_tangent(out, tangent, level)
        grad_fn = out.grad_fn
        saved = grad_fn._saved if grad_fn is not None else None
        if saved and type(saved) is tuple:
            # The op saved this output for its backward: the rebuilt output must carry the
            # tangent too, so forward-over-reverse differentiates the backward formula.
            for s in saved:
                if isinstance(s, _function._SavedOutput) and s.index == out._output_nr:
                    s.fw = {**(s.fw or {}), level: tangent}


# -- custom autograd.Function -----------------------------------------------------------------
def _custom(level: _Level, cls, args: tuple, kwargs: dict, index: int, tangents: list):
    """A custom Function with a dual input: its forward runs on primals, then its
    ``jvp(ctx, *tangents)`` (zeros for tensor inputs without a tangent, as in PyTorch) gives
    the outputs' tangents; ``ctx.saved_tensors`` there are those of ``save_for_forward``."""
    level.paused = True
    try:
        out = _function.apply_below(index, cls, args, kwargs)
        ctx = _function._last_custom[0]
        _function._last_custom[0] = None  # hold no graph node longer than needed
        if cls.jvp is _function.Function.jvp:
            raise NotImplementedError("You must implement the jvp function for custom "
                                      "autograd.Function to use it with forward mode AD.")
        ins = tuple(t if t is not None else (a.new_zeros(a.shape) if isinstance(a, Tensor)
                                             else None) for a, t in zip(args, tangents))
        ctx._in_jvp = True
        try:
            result = cls.jvp(ctx, *ins)
        finally:
            ctx._in_jvp = False
    finally:
        level.paused = False
    outs = out if isinstance(out, tuple) else (out,)
    results = result if isinstance(result, tuple) else (result,)
    if len(results) != len(outs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(outs)} but got {len(results)})")
    for o, t in zip(outs, results):
        if isinstance(o, Tensor) and isinstance(t, Tensor):
            if tuple(t.shape) != tuple(o.shape):
                raise RuntimeError("Trying to set a forward gradient that has a different size "
                                   "than that of the original Tensor, this is not supported. "
                                   f"Tensor is of size {list(o.shape)} while the given forward "
                                   f"gradient is of size {list(t.shape)}.")
            _attach(o, t, level)
    return out


# -- in-place writes ------------------------------------------------------------------------
def on_write(dst: Tensor, src) -> None:
    """``dst`` was overwritten in place with the values of ``src`` (the out-of-place result,
    or ``copy_``'s source): write ``src``'s tangent into ``dst``'s, in place, so the views
    sharing it see the change, as in PyTorch. A non-dual ``dst`` written with a dual becomes
    dual, and so does its base (zeros outside the view)."""
    for level in _levels():
        if level.paused:
            continue
        new = _tangent_at(src, level)
        old = _tangent_at(dst, level)
        if old is None:
            old = _view_tangent(dst, level, create=new is not None)
            if old is None:
                if new is not None:
                    set_tangent(dst, _fit(new, dst), level)
                continue
            set_tangent(dst, old, level)
        with _paused(level):
            if new is None:
                new = old.new_zeros(())
            if old._requires_grad and old.grad_fn is None:
                # A user's tangent that requires grad cannot be written in place: replace it.
                set_tangent(dst, _fit(new, dst).clone(), level)
            else:
                old.copy_(new)


def _fit(t: Tensor, like: Tensor) -> Tensor:
    if t.dtype != like.dtype:
        t = t.to(like.dtype)
    return t if t.shape == like.shape else t.expand(like.shape)


def _view_tangent(view: Tensor, level: _Level, create: bool) -> Tensor | None:
    """The part of ``view``'s base tangent that ``view`` sees (a zero tangent is given to a
    base without one when ``create``), or None when ``view`` is no replayable view."""
    base = view._base
    chain = view._extra.get("view") if view._extra else None
    if base is None or chain is None:
        return None
    base_t = _tangent_at(base, level)
    if base_t is None:
        if not create:
            return None
        base_t = base.new_zeros(base.shape)
        set_tangent(base, base_t, level)
    from .._ops.inplace import _replay_view
    with _paused(level):
        return _replay_view(base_t, chain)


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

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0]
