"""Guards: the signature of one call (arguments, module state, globals the function names,
grad mode, default dtype). A captured program replays only for a call whose signature equals
the one it was traced with; any difference retraces (and is explained in the recompile log).
"""

from __future__ import annotations

from .._backend import ndarray
from .._dtype import get_default_dtype
from .._tensor import Tensor
from ..autograd.grad_mode import is_grad_enabled

# Python values guarded by value (their type too, so 1, 1.0 and True stay distinct).
_SCALARS = (int, float, bool, str, complex, type(None), slice, type(Ellipsis))


def tensor_sig(t: Tensor) -> tuple:
    d = t._data
    return ("T", d.shape, d.dtype.str, t._requires_grad, t._base is not None)


def value_sig(v, tensors: list | None):
    """The guard on one value; collects its tensors (in traversal order) into ``tensors``."""
    if isinstance(v, Tensor):
        if tensors is not None:
            tensors.append(v)
        return tensor_sig(v)
    tv = type(v)
    if tv in _SCALARS:
        return (tv, v)
    if tv is tuple or tv is list:
        return (tv, tuple(value_sig(x, tensors) for x in v))
    if tv is dict:
        return (dict, tuple((k, value_sig(x, tensors)) for k, x in v.items()))
    if isinstance(v, ndarray):
        return ("ndarray", id(v))  # read by identity only: such calls never replay (see _capture)
    from ..nn.modules.module import Module
    if isinstance(v, Module):
        return module_sig(v)
    return ("obj", id(v))


def module_sig(root) -> tuple:
    """Each submodule's identity, training flag, hooks, scalar attributes, parameters and
    buffers (by identity and metadata)."""
    out = []
    for m in root.modules():
        d = m.__dict__
        hooks = bool(d.get("_forward_hooks") or d.get("_forward_pre_hooks")
                     or d.get("_backward_hooks") or d.get("_backward_pre_hooks"))
        scalars = tuple((k, type(v), v) for k, v in d.items()
                        if type(v) in _SCALARS and k != "training")
        tensors = tuple((k, id(v), tensor_sig(v)) for k, v in d.items() if isinstance(v, Tensor))
        params = tuple((k, id(p), tensor_sig(p)) if p is not None else (k, None)
                       for k, p in d["_parameters"].items())
        bufs = tuple((k, id(b), tensor_sig(b)) if b is not None else (k, None)
                     for k, b in d["_buffers"].items())
        out.append((id(m), m.training, hooks, scalars, tensors, params, bufs))
    return tuple(out)


def globals_sig(fn) -> tuple:
    """The closure cells and the globals ``fn``'s code names: scalars by value, tensors by
    identity and metadata, anything else by identity."""
    return tuple((name, _global_sig(v)) for name, v in named_globals(fn))


def named_globals(fn) -> list:
    """``(name, value)`` for the globals ``fn``'s code names and its closure cells."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    g = getattr(fn, "__globals__", {})
    out = [(name, g[name]) for name in code.co_names if name in g]
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            out.append((name, cell.cell_contents))
        except ValueError:
            continue
    return out


def _global_sig(v):
    from ..nn.modules.module import Module
    if isinstance(v, Tensor):
        return (id(v), tensor_sig(v))
    if isinstance(v, Module):
        return module_sig(v)
    return value_sig(v, None)


def call_key(fn, module, args: tuple, kwargs: dict, tensors: list) -> tuple:
    """The guards of one call; ``fn`` is None when it reads no globals or closure cells."""
    return (is_grad_enabled(), get_default_dtype(),
            value_sig(args, tensors), value_sig(kwargs, tensors) if kwargs else (),
            module_sig(module) if module is not None else (),
            globals_sig(fn) if fn is not None else ())


_PARTS = ("grad mode", "default dtype", "positional arguments", "keyword arguments",
          "module state (training, hooks, attributes, parameters, buffers)",
          "globals and closure variables")


def explain(old: tuple, new: tuple) -> list[str]:
    """Which guards of ``old`` the call ``new`` failed, in words."""
    reasons = []
    for name, a, b in zip(_PARTS, old, new):
        if a != b:
            if name == "grad mode":
                reasons.append(f"grad mode mismatch: expected {a}, actual {b}")
            else:
                reasons.append(f"{name} changed: expected {_short(a)}, actual {_short(b)}")
    return reasons


def _short(v) -> str:
    s = repr(v)
    return s if len(s) < 200 else s[:197] + "..."
