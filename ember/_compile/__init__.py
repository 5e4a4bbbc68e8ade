"""``ember.compile``: capture a call once, replay it without the per-op graph machinery.

The first call with a new signature (see ``_guards``) runs eagerly while its ops are
observed (``_capture``); later calls with the same signature replay the captured program:
each op's forward on arrays, and one graph node (``CompiledFunctionBackward``) whose backward
runs the recorded backward formulas in the engine's order. A call that cannot be captured (a
graph break) runs eagerly, or raises ``Unsupported`` with ``fullgraph=True``.

Recompilations are logged to the ``ember._compile`` logger (shown on stderr when the
environment variable ``EMBER_LOGS`` contains ``recompiles``, like ``TORCH_LOGS``), and
``ember._compile.recompiles()`` returns the messages.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable

from .._backend import xp
from .._tensor import Tensor
from ..autograd import anomaly_mode
from ..autograd import graph as _graph
from . import _capture
from ._capture import Unsupported
from ._guards import call_key, explain, named_globals

__all__ = ["compile", "Unsupported", "config", "recompiles", "reset", "OptimizedModule"]

log = logging.getLogger("ember._compile")
if "recompiles" in os.environ.get("EMBER_LOGS", ""):
    log.setLevel(logging.DEBUG)
    log.addHandler(logging.StreamHandler())


class _Config:
    """Settings, as in ``torch._dynamo.config``."""

    #: Traces kept per compiled callable; past it, new signatures run eagerly.
    cache_size_limit: int = 8


config = _Config()
_log: list[str] = []
_EAGER = object()  # cache entry for a signature whose trace broke


def recompiles() -> list[str]:
    """The recompilation messages so far (why a cached trace did not apply)."""
    return list(_log)


def reset() -> None:
    """Forget the recompile log (each compiled callable keeps its own cache)."""
    _log.clear()


class _CompiledFunction:
    """A compiled callable: a cache of programs keyed by the call's guards."""

    def __init__(self, fn: Callable, fullgraph: bool, disable: bool) -> None:
        self._fn = fn
        self._fullgraph = fullgraph
        self._disable = disable
        self._cache: dict = {}
        self._warned = False
        functools.update_wrapper(self, fn, updated=())
        self._orig_fn = fn
        from ..nn.modules.module import Module
        owner = getattr(fn, "__self__", None)
        self._module = owner if isinstance(owner, Module) else None
        code = getattr(fn, "__code__", None)
        # Guarding globals costs a lookup per name on every call: only when there are any.
        self._reads_globals = code is not None and bool(code.co_names or code.co_freevars)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        fn = self._fn
        if (self._disable or _capture.tracing() or anomaly_mode._enabled
                or _graph._hooks_in_use):
            return fn(*args, **kwargs)
        module = self._module
        tensors: list = []
        try:
            key = call_key(fn if self._reads_globals else None, module, args, kwargs, tensors)
            ids = [id(t) for t in tensors]
            if len(set(ids)) != len(ids):  # the same tensor passed twice: guard the aliasing
                key = key + (tuple(ids.index(i) for i in ids),)
            entry = self._cache.get(key)
        except TypeError:  # an unhashable argument value: not guardable
            return fn(*args, **kwargs)
        if entry is None:
            if len(self._cache) >= config.cache_size_limit:
                if not self._warned:
                    self._warned = True
                    warnings.warn(f"ember.compile: {_name(fn)} hit config.cache_size_limit "
                                  f"({config.cache_size_limit}); new signatures run eagerly",
                                  stacklevel=2)
                return fn(*args, **kwargs)
            if self._cache:
                prev = next(reversed(self._cache))
                reasons = explain(prev, key) or ["tensor aliasing changed"]
                msg = (f"Recompiling function {_name(fn)}: triggered by the following guard "
                       "failure(s):\n" + "\n".join("    - " + r for r in reasons))
                _log.append(msg)
                log.debug(msg)
            return self._trace(key, module, args, kwargs, tensors)
        if entry is _EAGER:
            return fn(*args, **kwargs)
        return entry.run(tensors)

    def _trace(self, key, module, args, kwargs, tensors):
        fn = self._fn
        tracer = _capture.Tracer(self._fullgraph)
        for i, t in enumerate(tensors):
            tracer.external(t, ("arg", i))
        for t in _known_tensors(fn, module):
            tracer.external(t, ("ref", t))
        snap = _snapshot(tracer.alive)
        rng = _rng_state()
        try:
            with tracer:
                result = fn(*args, **kwargs)
                prog = tracer.finish(result)
        except _capture._Busy:
            return fn(*args, **kwargs)
        if prog is not None and module is not None and any(
                m._forward_hooks or m._forward_pre_hooks for m in module.modules()
                if m is not module):
            prog = None
            if self._fullgraph:
                raise Unsupported("graph break: a submodule has forward hooks")
            tracer.breaks.append("a submodule has forward hooks")
        changed = _changed(snap)
        if changed:
            prog = None
            reason = f"the call modified {changed} (in place, .grad or version)"
            if self._fullgraph:
                raise Unsupported(f"graph break: {reason}")
            tracer.breaks.append(reason)
        if prog is not None and _rng_state() != rng:
            prog = None
            if self._fullgraph:
                raise Unsupported("graph break: random numbers were drawn (ember.compile "
                                  "does not replay random ops yet)")
            tracer.breaks.append("random numbers were drawn")
        self._cache[key] = prog if prog is not None else _EAGER
        if prog is None:
            msg = f"Graph break in {_name(fn)}: " + "; ".join(dict.fromkeys(tracer.breaks))
            _log.append(msg)
            log.debug(msg)
        return result


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _known_tensors(fn, module) -> list:
    """Tensors a trace may read besides its arguments: the module's parameters, buffers and
    tensor attributes, and the tensors the function's globals and closure name."""
    from ..nn.modules.module import Module
    out = []
    roots = [module] if module is not None else []
    for _, v in named_globals(fn):
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, Module):
            roots.append(v)
    for root in roots:
        for m in root.modules():
            d = m.__dict__
            out.extend(p for p in d["_parameters"].values() if p is not None)
            out.extend(b for b in d["_buffers"].values() if b is not None)
            out.extend(v for v in d.values() if isinstance(v, Tensor))
    return out


def _snapshot(tensors: list) -> list:
    return [(t, t._data, t._data.copy(), t._grad,
             t._grad._data.copy() if t._grad is not None else None,
             t._vc[0] if t._vc else 0, t._requires_grad) for t in tensors]


def _changed(snap: list) -> str:
    for t, data, copy, grad, gcopy, version, req in snap:
        if (t._data is not data or (t._vc[0] if t._vc else 0) != version
                or t._requires_grad != req or t._grad is not grad
                or not xp.array_equal(data, copy, equal_nan=data.dtype.kind in "fc")):
            return "a tensor it read"
        if grad is not None and not xp.array_equal(grad._data, gcopy, equal_nan=True):
            return "a tensor's .grad"
    return ""


def _rng_state():
    from .._random import default_generator as g
    st = g._mt.state["state"]
    return (int(st["pos"]), st["key"].tobytes(), g._normal, g._normal_f, g._seed)


def compile(model: Callable | None = None, *, fullgraph: bool = False,  # noqa: A001
            dynamic: bool | None = None, backend: str | Callable | None = "inductor",
            mode: str | None = None, options: dict | None = None, disable: bool = False,
            **kwargs):
    """Capture ``model`` (a function or Module) on its first call and replay it after.

    Later calls whose guards hold (argument shapes, dtypes, requires_grad, grad mode,
    training mode, module attributes, the Python values passed) replay the captured program;
    other calls retrace (up to ``config.cache_size_limit``). Calls that cannot be captured
    run eagerly, or raise ``Unsupported`` with ``fullgraph=True``. ``dynamic``, ``backend``,
    ``mode`` and ``options`` are accepted for PyTorch compatibility and change nothing.
    Used as ``@ember.compile`` or ``@ember.compile(fullgraph=True)`` too.
    """
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, disable=disable, **kwargs)
    from ..nn.modules.module import Module
    if isinstance(model, Module):
        from ._module import OptimizedModule
        return OptimizedModule(model, _CompiledFunction(model.forward, fullgraph, disable))
    if not callable(model):
        raise RuntimeError("compile() expects a callable or a Module")
    return _CompiledFunction(model, fullgraph, disable)


def __getattr__(name: str):
    if name == "OptimizedModule":  # defined with nn, which imports after this package
        from ._module import OptimizedModule
        return OptimizedModule
    raise AttributeError(name)


def compile_module_inplace(mod, **kwargs) -> None:
    """``Module.compile()``: the module's own forward becomes a compiled one (hooks keep
    running eagerly around it)."""
    mod.__dict__["forward"] = compile(type(mod).forward.__get__(mod), **kwargs)
