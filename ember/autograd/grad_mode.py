"""Grad mode: whether new operations are recorded in the graph.

This is ember's only mutable mode state. It lives in a context variable, so each thread
(and each asyncio task) sees its own setting, as with PyTorch's thread-local grad mode.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]

_grad_enabled = contextvars.ContextVar("ember_grad_enabled", default=True)
_inference = contextvars.ContextVar("ember_inference_mode", default=False)

#: Fast read of the grad mode, used on every op.
is_grad_enabled = _grad_enabled.get


def is_inference_mode_enabled() -> bool:
    return _inference.get()


_get_ident = threading.get_ident


class _GradModeContext:
    """A context manager that is also a decorator (for functions and generators).

    One object may be entered again while it is active — nested (``with ng: with ng:``) or
    from several threads at once — so each entry pushes the mode it replaces on a stack,
    tagged with its thread, and each exit restores the latest entry of its own thread.
    """

    _enabled: bool = True
    _saved: dict | None = None  # thread id -> stack of the modes each entry replaced

    def __enter__(self) -> None:
        _push_mode(self, (_grad_enabled.get(),))
        _grad_enabled.set(self._enabled)

    def __exit__(self, *exc) -> None:
        _grad_enabled.set(_pop_mode(self)[0])

    def clone(self):
        return self.__class__()

    def __call__(self, func):
        if inspect.isclass(func):
            raise TypeError(f"{type(self).__name__} cannot decorate a class")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator(*args, **kwargs):
                gen = func(*args, **kwargs)
                try:
                    with self.clone():
                        response = gen.send(None)
                    while True:
                        try:
                            request = yield response
                        except GeneratorExit:
                            gen.close()
                            raise
                        except BaseException:
                            with self.clone():
                                response = gen.throw(sys.exc_info()[1])
                        else:
                            with self.clone():
                                response = gen.send(request)
                except StopIteration as stop:
                    return stop.value
            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording: results of ops have ``requires_grad=False``.

    Example::

        with ember.no_grad():
            y = x * 2          # y.requires_grad is False
    """

    _enabled = False

    def __new__(cls, orig_func=None):
        # ``@no_grad`` without parentheses is accepted by PyTorch too.
        self = super().__new__(cls)
        if orig_func is not None:
            return self(orig_func)
        return self

    def __init__(self, orig_func=None) -> None:
        pass


class enable_grad(_GradModeContext):
    """Enable graph recording inside a ``no_grad`` block."""

    _enabled = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode on or off; takes effect at once, and as a context manager restores it."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._prev = _grad_enabled.get()
        _grad_enabled.set(self._enabled)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _grad_enabled.set(self._prev)

    def clone(self):
        return _FixedMode(self._enabled)


class _FixedMode(_GradModeContext):
    """A plain context setting grad mode to a fixed value (what decorators re-enter)."""

    def __init__(self, mode: bool) -> None:
        self._enabled = mode

    def clone(self):
        return _FixedMode(self._enabled)


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (ember has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._enabled = not mode
        self._mode = mode

    def __enter__(self) -> None:
        _push_mode(self, (_grad_enabled.get(), _inference.get()))
        _grad_enabled.set(self._enabled)
        _inference.set(self._mode)

    def __exit__(self, *exc) -> None:
        grad, inference = _pop_mode(self)
        _inference.set(inference)
        _grad_enabled.set(grad)

    def clone(self):
        return inference_mode(self._mode)


def _push_mode(ctx: _GradModeContext, modes: tuple) -> None:
    saved = ctx._saved
    if saved is None:
        saved = ctx._saved = {}
    me = _get_ident()
    stack = saved.get(me)  # each thread touches only its own stack
    if stack is None:
        saved[me] = [modes]
    else:
        stack.append(modes)


def _pop_mode(ctx: _GradModeContext) -> tuple:
    """The modes the latest entry of ``ctx`` in this thread replaced (and forget it)."""
    me = _get_ident()
    stack = ctx._saved.get(me) if ctx._saved is not None else None
    if not stack:
        raise RuntimeError(f"{type(ctx).__name__}.__exit__ without a matching __enter__ in "
                           "this thread")
    modes = stack.pop()
    if not stack:
        del ctx._saved[me]
    return modes
