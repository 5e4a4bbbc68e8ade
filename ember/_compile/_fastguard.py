"""The fast path of the guards: a generated check per cached program.

The full signature (``_guards.call_key``) builds and hashes a tuple of everything a call
depends on; on every call that is most of a small program's cost. Instead each program gets a
straight-line check written at trace time: the arguments' types, shapes, dtypes and flags, the
grad mode and default dtype, and — by identity, the cheapest test there is — every value the
trace depended on: each module's attributes, parameters, buffers, submodules and hook tables,
the globals and closure cells of the compiled function and of every Python function it called,
and the attributes of the plain objects (configs, lists) found there. A value that is no
longer the same object sends the call to the full check, which compares by value (so rebinding
``m.scale = 2.0`` to an equal number replays, and refreshes this check).
"""

from __future__ import annotations

import itertools
import types
from operator import is_

from .._backend import ndarray
from .._dtype import get_default_dtype
from .._tensor import Tensor
from ..autograd.grad_mode import _grad_enabled
from ._guards import _SCALARS

# Values that are watched by identity only (never looked into).
_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
           types.MethodType, ndarray, Tensor, staticmethod, classmethod, property)
_MAX_ITEMS = 64


def plain_object(v) -> bool:
    """An object whose attributes a trace may read and the guards then watch."""
    from ..nn.modules.module import Module
    return (not isinstance(v, _OPAQUE) and not isinstance(v, Module) and type(v) not in _SCALARS
            and not getattr(type(v), "_ember_compiled", False)
            and hasattr(v, "__dict__") and not isinstance(v, (tuple, list, dict, set)))


def watch_list(roots: list) -> list:
    """``(container, key, value)`` for what the trace may have read through ``roots`` (values
    found in globals, closures, arguments and module attributes): the attributes of plain
    objects and the items of lists, tuples and dicts, one level deep."""
    out: list = []
    seen: set = set()
    for v in roots:
        if id(v) in seen:
            continue
        seen.add(id(v))
        if type(v) in (list, dict) and len(v) <= _MAX_ITEMS:
            items = enumerate(v) if type(v) is list else list(v.items())
            for k, x in items:
                out.append((v, k, x))
        elif plain_object(v):
            d = v.__dict__
            if len(d) <= _MAX_ITEMS:
                for k, x in d.items():
                    out.append((d, k, x))
    return out


def same_value(a, b) -> bool:
    """The slow path's test of a watched value: the same object, or an equal scalar."""
    if a is b:
        return True
    ta = type(a)
    return ta is type(b) and ta in _SCALARS and a == b


def watched_changed(watch: list) -> str:
    """A description of the first watched value that changed, or ''."""
    for cont, k, v in watch:
        try:
            cur = cont[k]
        except (KeyError, IndexError):
            return f"{k!r} was removed"
        if not same_value(cur, v):
            return f"value of {k!r} changed: expected {_short(v)}, actual {_short(cur)}"
    return ""


def _short(v) -> str:
    s = repr(v)
    return s if len(s) < 80 else s[:77] + "..."


def _allis(a, b) -> bool:
    return all(map(is_, a, b))


class _Gen:
    def __init__(self) -> None:
        self.ns: dict = {"_ge": _grad_enabled.get, "_dd": get_default_dtype, "_allis": _allis,
                         "_chain": itertools.chain}
        self.lines: list = []
        self.tensors: list = []
        self.n = 0
        self.sweep: list = []  # (dict, its values) that must still hold the same objects

    def const(self, v) -> str:
        name = f"E{self.n}"
        self.n += 1
        self.ns[name] = v
        return name

    def fail_unless(self, cond: str) -> None:
        self.lines.append(f"if not ({cond}): return None")

    def value(self, src: str, v) -> bool:
        """Checks that ``src`` (an expression) is like ``v``; False when not guardable."""
        tv = type(v)
        if isinstance(v, Tensor):
            d = v._data
            name = f"v{self.n}"
            self.n += 1
            self.lines.append(f"{name} = {src}")
            self.fail_unless(f"type({name}) is {self.const(tv)}")
            self.fail_unless(f"{name}._data.shape == {d.shape!r} and {name}._data.dtype is "
                             f"{self.const(d.dtype)} and {name}._requires_grad is "
                             f"{v._requires_grad!r} and {name}._base is "
                             f"{'None' if v._base is None else 'not None'}")
            self.tensors.append(name)
            return True
        if tv in _SCALARS:
            self.fail_unless(f"type({src}) is {self.const(tv)} and {src} == {self.const(v)}")
            return True
        if tv is tuple or tv is list:
            name = f"v{self.n}"
            self.n += 1
            self.lines.append(f"{name} = {src}")
            self.fail_unless(f"type({name}) is {self.const(tv)} and len({name}) == {len(v)}")
            return all(self.value(f"{name}[{i}]", x) for i, x in enumerate(v))
        if tv is dict:
            name = f"v{self.n}"
            self.n += 1
            self.lines.append(f"{name} = {src}")
            self.fail_unless(f"type({name}) is dict and tuple({name}) == "
                             f"{self.const(tuple(v))}")
            return all(self.value(f"{name}[{self.const(k)}]", x) for k, x in v.items())
        self.fail_unless(f"{src} is {self.const(v)}")
        return True

    def module(self, m) -> None:
        """A module's attributes, parameters, buffers and submodules: the same objects (one
        C-level identity sweep per dict), its hook tables as empty as they were, and its
        tensors' shapes, dtypes and flags."""
        d = m.__dict__
        self.sweep.append(d)
        tensors = []
        for k in ("_parameters", "_buffers", "_modules"):
            v = d.get(k)
            if type(v) is dict:
                if v:
                    self.sweep.append(v)
                else:
                    self.fail_unless(f"not {self.const(v)}")
                if k != "_modules":
                    tensors += [p for p in v.values() if isinstance(p, Tensor)]
        tensors += [v for v in d.values() if isinstance(v, Tensor)]
        hooks = [k for k in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                             "_backward_pre_hooks") if type(d.get(k)) is dict]
        if hooks:
            self.fail_unless(" and ".join(f"len({self.const(d[k])}) == {len(d[k])}"
                                          for k in hooks))
        checks = []
        for p in tensors:
            pe = self.const(p)
            checks.append(f"{pe}._data.shape == {p._data.shape!r} and {pe}._data.dtype is "
                          f"{self.const(p._data.dtype)} and {pe}._requires_grad is "
                          f"{p._requires_grad!r}")
        if checks:
            self.fail_unless(" and ".join(checks))

    def tensor_ref(self, t) -> None:
        te = self.const(t)
        self.fail_unless(f"{te}._data.shape == {t._data.shape!r} and {te}._data.dtype is "
                         f"{self.const(t._data.dtype)} and {te}._requires_grad is "
                         f"{t._requires_grad!r}")


def build(args: tuple, kwargs: dict, modules: list, cells: list, watch: list, refs: list):
    """The generated check for a call like ``(args, kwargs)``: returns the call's tensors in
    traversal order, or None when any guard does not hold (then the full check decides).
    ``cells``: ``(dict, name, value)`` of globals and ``(cell, None, value)`` of closures."""
    g = _Gen()
    g.fail_unless(f"len(args) == {len(args)}")
    ok = all(g.value(f"args[{i}]", a) for i, a in enumerate(args))
    if kwargs:
        g.fail_unless(f"type(kwargs) is dict and tuple(kwargs) == {g.const(tuple(kwargs))}")
        ok = ok and all(g.value(f"kwargs[{g.const(k)}]", v) for k, v in kwargs.items())
    else:
        g.fail_unless("not kwargs")
    if not ok:
        return None
    if len(g.tensors) > 1:
        g.lines.append(f"ts = [{', '.join(g.tensors)}]")
        g.fail_unless(f"len(set(map(id, ts))) == {len({id(t) for t in _tensors(args, kwargs)})}")
    g.fail_unless(f"_ge() is {_grad_enabled.get()!r} and _dd() is {g.const(get_default_dtype())}")
    for m in modules:
        g.module(m)
    if g.sweep:
        # every module dict in one identity sweep: their sizes, then one C-level pass over
        # all their values at once
        names = [g.const(d) for d in g.sweep]
        g.fail_unless(" and ".join(f"len({n}) == {len(d)}" for n, d in zip(names, g.sweep)))
        expect = g.const(tuple(v for d in g.sweep for v in d.values()))
        g.fail_unless(f"_allis(_chain({', '.join(n + '.values()' for n in names)}), "
                      f"{expect})")
    for cont, name, v in cells:
        if name is None:
            g.fail_unless(f"{g.const(cont)}.cell_contents is {g.const(v)}")
        else:
            g.fail_unless(f"{g.const(cont)}.get({name!r}) is {g.const(v)}")
    for cont, k, v in watch:
        if type(cont) is list:
            g.fail_unless(f"len({g.const(cont)}) == {len(cont)}")
        g.fail_unless(f"{g.const(cont)}[{g.const(k)}] is {g.const(v)}")
    in_modules = {id(t) for m in modules for d in (m.__dict__.get("_parameters") or {},
                                                  m.__dict__.get("_buffers") or {})
                  for t in d.values()}
    for t in refs:
        if id(t) not in in_modules:
            g.tensor_ref(t)
    ret = "ts" if len(g.tensors) > 1 else f"[{', '.join(g.tensors)}]"
    src = "def guard(args, kwargs):\n" + "".join(
        "    " + line + "\n" for line in g.lines) + f"    return {ret}\n"
    try:
        exec(compile(src, "<ember.compile guard>", "exec"), g.ns)  # noqa: S102 - generated
    except (SyntaxError, RecursionError):
        return None
    fn = g.ns["guard"]
    fn.source = src
    return fn


def _tensors(args, kwargs) -> list:
    out: list = []

    def walk(v):
        if isinstance(v, Tensor):
            out.append(v)
        elif type(v) in (tuple, list):
            for x in v:
                walk(x)
        elif type(v) is dict:
            for x in v.values():
                walk(x)
    walk(args)
    walk(kwargs)
    return out
