"""``ember.compile``: capture a call once, replay it as a generated program of NumPy calls.

The first call with a new signature runs eagerly while its ops are observed (``_capture``);
its trace becomes a ``FlatProgram`` (``_codegen``): a generated forward, generated backwards
(``loss.backward()`` replays them through one ``CompiledFunctionBackward`` node) and a
generated guard (``_fastguard``) that later calls must pass, the full signature
(``_guards``) deciding by value when the identity checks fail. A call that cannot be
captured (a graph break) runs eagerly, or raises ``Unsupported`` with ``fullgraph=True``;
for a Module, the submodules its eager forward calls still run compiled (``_module``).

Recompilations are logged to the ``ember._compile`` logger (shown on stderr when the
environment variable ``EMBER_LOGS`` contains ``recompiles``, like ``TORCH_LOGS``), and
``ember._compile.recompiles()`` returns the messages.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable

from .._backend import xp
from .._tensor import Tensor
from ..autograd import anomaly_mode
from ..autograd import graph as _graph
from . import _capture, _fastguard
from ._fastguard import plain_object, watch_list, watched_changed
from ._capture import Unsupported, _rng_state
from ._guards import call_key, explain, named_globals

__all__ = ["compile", "Unsupported", "config", "recompiles", "reset", "OptimizedModule",
           "generated_code"]

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


def generated_code(compiled) -> str:
    """The Python source generated for the last program a compiled function or module ran:
    its ``call`` (forward), the backward functions generated so far, and its guard."""
    fn = compiled
    if isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "_compiled_forward", None) or fn.__dict__.get("forward", fn)
    entry = fn._last
    if entry is None or isinstance(entry, _SplitEntry):  # the forward broke: no program
        return ""
    parts = sorted(entry.prog.sources, key=lambda src: not src.startswith("def call"))
    guard = getattr(entry.guard, "source", None)
    return "\n".join(parts + ([guard] if guard else []))


def reset() -> None:
    """Forget the recompile log (each compiled callable keeps its own cache)."""
    _log.clear()


class _CompiledFunction:
    """A compiled callable: a cache of programs keyed by the call's guards."""

    _ember_compiled = True  # its own state is not a value the guards watch

    def __init__(self, fn: Callable, fullgraph: bool, disable: bool) -> None:
        self._fn = fn
        self._fullgraph = fullgraph
        self._disable = disable
        self._cache: dict = {}
        self._split: dict = {}  # id(child) -> (child, its compiled forward) (``split_call``)
        self._last = None  # the entry the fast path tries first
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
        # The fast path: the last program's generated guard, then its generated call.
        if not (anomaly_mode._enabled or _graph._hooks_in_use or _capture.ACTIVE[0]):
            tensors = self._guard(args, kwargs)
            if tensors is not None:
                run = self._run
                if run is not _split_marker:
                    return run(tensors)
                from ._module import split_call
                return split_call(self, self._module, args, kwargs)
        return self._slow_call(args, kwargs)

    @property
    def _last(self):
        return self.__dict__.get("_last_entry")

    @_last.setter
    def _last(self, entry) -> None:
        self.__dict__["_last_entry"] = entry
        self._guard = entry.guard if entry is not None else _never
        self._run = entry.prog.call if entry is not None else None

    def _slow_call(self, args, kwargs):
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
        reasons = None
        if entry is not None and entry is not _EAGER:
            changed = watched_changed(entry.watch)
            if changed:  # a value the trace read (an object's attribute, a helper's global)
                del self._cache[key]
                reasons = [changed]
                entry = None
        if entry is None:
            if len(self._cache) >= config.cache_size_limit:
                if not self._warned:
                    self._warned = True
                    warnings.warn(f"ember.compile: {_name(fn)} hit config.cache_size_limit "
                                  f"({config.cache_size_limit}); new signatures run eagerly",
                                  stacklevel=3)
                return fn(*args, **kwargs)
            if self._cache or reasons:
                if reasons is None:
                    prev = next(reversed(self._cache))
                    reasons = explain(prev, key) or ["tensor aliasing changed"]
                msg = (f"Recompiling function {_name(fn)}: triggered by the following guard "
                       "failure(s):\n" + "\n".join("    - " + r for r in reasons))
                _log.append(msg)
                log.debug(msg)
            return self._trace(key, module, args, kwargs, tensors)
        if entry is _EAGER:
            if module is not None:  # the glue runs eagerly, the submodules compiled
                from ._module import split_call
                # Later calls like this one skip the full signature: a generated check of
                # the arguments and modules by identity sends them straight here. (Whatever
                # it lets through is right: the split call runs the real forward.)
                guard = _fastguard.build(args, kwargs, list(module.modules()), [], [], [])
                self._last = _SplitEntry(guard) if guard is not None else None
                return split_call(self, module, args, kwargs)
            return fn(*args, **kwargs)
        entry.refresh(args, kwargs)
        self._last = entry
        return entry.prog.call(tensors)

    def _trace(self, key, module, args, kwargs, tensors):
        fn = self._fn
        tracer = _capture.Tracer(self._fullgraph)
        for i, t in enumerate(tensors):
            tracer.external(t, ("arg", i))
        known, modules = _known_tensors(fn, module, args, kwargs or {})
        for t in known:
            tracer.external(t, ("ref", t))
        snap = _snapshot(tracer.alive)
        codes: dict = {}
        try:
            with tracer:
                with _calls_recorded(codes):
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
        # What the program replays itself may change what the call read: backward() writes
        # .grad, an optimizer call writes its parameters (and their .grad and state).
        grads_ok = any(op.kind == "backward" for op in tracer.ops)
        owned = {id(p) for opt in tracer.optimizers for g in opt.param_groups
                 for p in g["params"]}
        changed = _changed(snap, grads_ok, owned)
        if changed:
            prog = None
            reason = f"the call modified {changed} (in place, .grad or version)"
            if self._fullgraph:
                raise Unsupported(f"graph break: {reason}")
            tracer.breaks.append(reason)
        if prog is not None and (tracer.rng_outside or _rng_state() != tracer.rng_last):
            prog = None
            if self._fullgraph:
                raise Unsupported("graph break: random numbers were drawn outside the ops and "
                                  "factories the program replays")
            tracer.breaks.append("random numbers were drawn outside the replayed ops")
        if prog is None:
            self._cache[key] = _EAGER
            msg = f"Graph break in {_name(fn)}: " + "; ".join(dict.fromkeys(tracer.breaks))
            if module is not None and next(module.children(), None) is not None:
                msg += "; its submodules are compiled separately"
            _log.append(msg)
            log.debug(msg)
            return result
        entry = _Entry(prog, fn, codes, modules, [v for k, v in tracer.sources if k == "ref"])
        entry.refresh(args, kwargs)
        self._cache[key] = entry
        self._last = entry
        return result


def _split_marker(tensors):  # the "program" of a _SplitEntry: never called
    raise AssertionError("split entries run split_call")


class _SplitProg:
    sources: list = []
    call = staticmethod(_split_marker)


class _SplitEntry:
    """The fast path's entry for a Module signature whose forward broke: its guard passes
    calls to ``split_call`` (``_module``)."""

    prog = _SplitProg()

    def __init__(self, guard) -> None:
        self.guard = guard


class _Entry:
    """One cached program with what guards it: the values its trace read (compared by value
    on the slow path) and the generated identity check of the fast path."""

    def __init__(self, prog, fn, codes: dict, modules: list, refs: list) -> None:
        self.prog = prog
        cells = []
        for code, g in codes.items():
            for name in code.co_names:
                if name in g:
                    cells.append((g, name, g[name]))
        for _n, cell in zip(getattr(fn, "__code__", None) and fn.__code__.co_freevars or (),
                              getattr(fn, "__closure__", None) or ()):
            try:
                cells.append((cell, None, cell.cell_contents))
            except ValueError:
                continue
        self.cells = cells
        roots = [v for _, _, v in cells]
        for m in modules:
            roots.extend(v for v in m.__dict__.values() if plain_object(v))
        self.modules = modules
        self.refs = refs
        self.roots = roots
        self.watch = watch_list(roots)
        # helpers' globals and closure cells are compared on the slow path too
        self.watch += [(g if n is not None else _CellView(g), n if n is not None else 0, v)
                       for g, n, v in cells]
        self.guard = _never

    def refresh(self, args, kwargs) -> None:
        """Re-snapshot the identities the fast check compares (after the slow path
        accepted the call by value)."""
        self.cells = [(g, n, (g.get(n, _MISSING) if n is not None else _cell_value(g)))
                      for g, n, _ in self.cells]
        self.watch = watch_list(self.roots) + [
            (g if n is not None else _CellView(g), n if n is not None else 0, v)
            for g, n, v in self.cells]
        guard = _fastguard.build(args, kwargs, self.modules, self.cells,
                                 [w for w in watch_list(self.roots)], self.refs)
        self.guard = guard if guard is not None else _never


_MISSING = object()


def _never(args, kwargs):
    return None


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


class _CellView:
    """A closure cell seen as a one-item container (``watched_changed`` indexes it)."""

    def __init__(self, cell) -> None:
        self.cell = cell

    def __getitem__(self, _):
        return _cell_value(self.cell)


_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple:
    """Where installed code lives (the standard library, site-packages) and ember itself:
    functions from there are not the user's, and their globals are not guarded."""
    import sysconfig
    paths = {_EMBER_DIR}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(os.path.realpath(p))
            paths.add(p)
    return tuple(paths)


class _calls_recorded:
    """Records the code objects (and their globals) of the Python functions a trace calls
    outside ember, whose globals the guards then watch."""

    def __init__(self, codes: dict) -> None:
        self.codes = codes

    def __enter__(self):
        codes = self.codes
        skip = _library_dirs()
        seen: set = set()

        def prof(frame, event, arg):
            if event == "call":
                co = frame.f_code
                if co not in seen:
                    seen.add(co)
                    fname = co.co_filename
                    if not fname.startswith(skip) and not fname.startswith(("<ember", "<frozen")):
                        codes[co] = frame.f_globals
        self.old = sys.getprofile()
        if self.old is None:  # a profiler of the user's own (cProfile) is left alone
            sys.setprofile(prof)
        return self

    def __exit__(self, *exc) -> None:
        if self.old is None:
            sys.setprofile(None)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _known_tensors(fn, module, args: tuple = (), kwargs: dict | None = None) -> tuple:
    """Tensors a trace may read besides its arguments: the module's parameters, buffers and
    tensor attributes, and the tensors the function's globals and closure name; and the
    modules they belong to."""
    from ..nn.modules.module import Module
    out = []
    roots = [module] if module is not None else []
    values = [v for _, v in named_globals(fn)] + list(args) + list((kwargs or {}).values())
    for v in values:
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, Module):
            roots.append(v)
    mods = []
    for root in roots:
        for m in root.modules():
            mods.append(m)
            d = m.__dict__
            out.extend(p for p in d["_parameters"].values() if p is not None)
            out.extend(b for b in d["_buffers"].values() if b is not None)
            out.extend(v for v in d.values() if isinstance(v, Tensor))
    return out, list({id(m): m for m in mods}.values())


def _snapshot(tensors: list) -> list:
    return [(t, t._data, t._data.copy(), t._grad,
             t._grad._data.copy() if t._grad is not None else None,
             t._vc[0] if t._vc else 0, t._requires_grad) for t in tensors]


def _changed(snap: list, grads_ok: bool = False, owned: set = frozenset()) -> str:
    for t, data, copy, grad, gcopy, version, req in snap:
        if id(t) in owned:
            continue
        if grads_ok:
            grad = t._grad
            gcopy = grad._data if grad is not None else None
        if (t._data is not data or (t._vc[0] if t._vc else 0) != version
                or t._requires_grad != req or t._grad is not grad
                or not xp.array_equal(data, copy, equal_nan=data.dtype.kind in "fc")):
            return "a tensor it read"
        if grad is not None and not xp.array_equal(grad._data, gcopy, equal_nan=True):
            return "a tensor's .grad"
    return ""


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
