"""The tracer: while a model's forward runs under ``Tracer``, every built-in op it calls is
observed (through ``Function.apply``'s interception point, plus the few functions that
produce tensors without an autograd op, like comparisons and ``argmax``) and translated at
once into ONNX nodes.

Patching is process-wide but only acts for the exporting thread, and only for the duration of
the export; ``__exit__`` restores every patched attribute. Modules with a dedicated ONNX form
(Linear, Conv, LSTM, MultiheadAttention, ...) are caught by forward hooks instead (put on
each such module when the exporting thread first calls it): the ops inside them are not
recorded, and one module-level translation is emitted.
"""

from __future__ import annotations

import re
import threading
import warnings

import numpy as np

from .._tensor import Tensor
from ..autograd import function as _function
from ._symbolic_ops import CLASS_OPS
from .errors import OnnxExporterError, OnnxExporterWarning, UnsupportedOperatorError

_ACTIVE: Tracer | None = None
_LOCK = threading.Lock()
#: Priority on ``Function.apply``'s interception point: after forward AD and vmap.
_PRIORITY = 20
_NODE_NAME = re.compile(r"^\w+Backward\d$")

# Functions whose ONNX form is read from the public call: the translation's key, and the names
# it has on Tensor and in the ``ember`` and ``ember.nn.functional`` namespaces. Most of them
# make their result without an autograd op (comparisons, argmax, ...).
_PLAIN_FUNCTIONS = {
    "gt": ("gt", "greater", "__gt__"), "lt": ("lt", "less", "__lt__"),
    "ge": ("ge", "greater_equal", "__ge__"), "le": ("le", "less_equal", "__le__"),
    "eq": ("eq", "__eq__"), "ne": ("ne", "not_equal", "__ne__"),
    "logical_not": ("logical_not", "__invert__", "bitwise_not"),
    "logical_and": ("logical_and",), "logical_or": ("logical_or",),
    "logical_xor": ("logical_xor",),
    "bitwise_and": ("bitwise_and", "__and__", "__rand__"),
    "bitwise_or": ("bitwise_or", "__or__", "__ror__"),
    "bitwise_xor": ("bitwise_xor", "__xor__", "__rxor__"),
    "any": ("any",), "all": ("all",),
    # Ops that record converted index arrays (or an internal plan) instead of their tensor
    # arguments, or build their result without an autograd op.
    "index_select": ("index_select",), "take": ("take",), "take_along_dim": ("take_along_dim",),
    "argsort": ("argsort",), "one_hot": ("one_hot",), "einsum": ("einsum",),
    # Shaped like another tensor: follow its (possibly dynamic) shape.
    "zeros_like": ("zeros_like", "empty_like"), "ones_like": ("ones_like",),
    "full_like": ("full_like",),
    "argmax": ("argmax",), "argmin": ("argmin",), "isnan": ("isnan",),
    "isinf": ("isinf",),
}


def is_in_onnx_export() -> bool:
    """Whether an ONNX export is running in this thread."""
    tr = _ACTIVE
    return tr is not None and tr.thread == threading.get_ident()


def _effective_name(cls, args: tuple, ops: dict) -> str:
    """The op's node name. A few op classes serve several autograd nodes and take the name as
    an argument (``UpsampleNearest2DBackward0``, ...): the class's own name wins when it has
    a translation, since the argument can name a node of a different op (instance_norm's
    ``ViewBackward0``)."""
    for base in cls.__mro__:
        # An op class whose subclasses carry PyTorch's per-call node names (F.linear's
        # MmBackward0 / ViewBackward0 variants) is translated as the one op it is.
        if base in CLASS_OPS:
            return CLASS_OPS[base]
    own = getattr(cls, "node_name", "") or cls.__name__
    if own in ops:
        return own
    for a in args[::-1]:
        if isinstance(a, str) and _NODE_NAME.match(a):
            return a
    return own


class Tracer:
    """Context manager that records a forward into ``graph`` (a ``GraphBuilder``)."""

    def __init__(self, graph, params: dict, module_symbolics: dict, op_symbolics: dict) -> None:
        self.g = graph
        self.params = params            # id(tensor) -> initializer name
        self.modules = module_symbolics  # module class -> emitter
        self.ops = op_symbolics          # node name -> emitter
        self.env: dict[int, str] = {}    # id(Tensor or ndarray) -> value name
        self._alive: list = []           # keeps bound objects alive, so ids stay unique
        self._stale: set[int] = set()
        self.depth = 0
        self.thread = threading.get_ident()
        self._restore: list = []
        self._observer = None
        self._handles: list = []
        self._stack: list = []

    # ----------------------------------------------------------------------- values
    def bind(self, obj, name: str) -> None:
        """Make ``obj`` (a Tensor) stand for the ONNX value ``name`` from now on."""
        self._alive.append(obj)
        self.env[id(obj)] = name
        self._stale.discard(id(obj))
        if isinstance(obj, Tensor):
            self._alive.append(obj._data)
            self.env[id(obj._data)] = name
            self._stale.discard(id(obj._data))
            self.g.dtypes.setdefault(name, obj._data.dtype)
            self.g.shapes[name] = tuple(obj._data.shape)

    def value(self, obj, dtype=None) -> str:
        """The ONNX value for a Tensor, array or Python number (constants become
        initializers), cast to ``dtype`` when given."""
        if isinstance(obj, Tensor) or isinstance(obj, np.ndarray):
            key = id(obj)
            if key in self._stale or (isinstance(obj, Tensor) and id(obj._data) in self._stale):
                raise UnsupportedOperatorError(
                    "in-place write", "a tensor written in place through a view is used "
                    "afterwards")
            name = self.env.get(key)
            if name is None and isinstance(obj, Tensor):
                name = self.env.get(id(obj._data))
            if name is None:
                pname = self.params.get(key)
                arr = obj._data if isinstance(obj, Tensor) else obj
                name = self.g.const(np.array(arr), name=pname)
                if pname is not None:
                    self.g.params.add(name)
                self.bind(obj, name)
        elif obj is None:
            return ""
        else:
            if dtype is None:
                raise OnnxExporterError(f"cannot infer the ONNX type of the constant {obj!r}")
            return self.g.const(np.asarray(obj, dtype=dtype))
        return self.g.cast(name, dtype) if dtype is not None else name

    # ----------------------------------------------------------------------- recording
    def record(self, name: str, args: tuple, kwargs: dict, out) -> None:
        fn = self.ops.get(name)
        if fn is None:
            raise UnsupportedOperatorError(name)
        self.current = name
        names = fn(self, *args, out=out, **kwargs)
        self.bind_outputs(out, names)

    def bind_outputs(self, out, names) -> None:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        names = names if isinstance(names, (tuple, list)) else (names,)
        for o, n in zip(outs, names):
            if isinstance(o, Tensor) and n:
                want = o._data.dtype
                if self.g.dtypes.get(n, want) != want:
                    n = self.g.cast(n, want)
                self.bind(o, n)

    # ----------------------------------------------------------------------- patching
    def _patch(self, owner, attr: str, new) -> None:
        self._restore.append((owner, attr, vars(owner)[attr]))
        setattr(owner, attr, new)

    def _wrap_apply(self) -> None:
        """Observe every built-in op the exporting thread runs, through ``Function.apply``'s
        interception point (ops run inside an op are not recorded)."""
        tracer = self

        def observe(cls, args, kwargs, index):
            if (tracer.depth or tracer.thread != threading.get_ident()
                    or cls.nondifferentiable or not cls._array_forward):
                return NotImplemented
            tracer.depth += 1
            try:
                out = _function.apply_below(index, cls, args, kwargs)
            finally:
                tracer.depth -= 1
            tracer.record(_effective_name(cls, args, tracer.ops), args, kwargs, out)
            return out

        _function.push_interceptor(observe, _PRIORITY)
        self._observer = observe

    def _wrap_plain(self, owner, attr: str, key: str, when=None) -> None:
        orig = vars(owner).get(attr)
        if orig is None or not callable(orig):
            return
        tracer = self

        def wrapper(*args, **kwargs):
            if (tracer.depth or tracer.thread != threading.get_ident()
                    or (when is not None and not when(*args, **kwargs))):
                return orig(*args, **kwargs)
            tracer.depth += 1
            try:
                out = orig(*args, **kwargs)
            finally:
                tracer.depth -= 1
            if isinstance(out, Tensor):
                tracer.record(key, args, kwargs, out)
            return out

        wrapper.__name__ = getattr(orig, "__name__", attr)
        self._patch(owner, attr, wrapper)

    def _wrap_conversions(self) -> None:
        """Warn when a value computed from the inputs becomes a Python value: the graph can
        only hold what it was for the example inputs (PyTorch's TracerWarning)."""
        tracer = self
        kinds = {"item": "a Python number", "tolist": "a Python list",
                 "__bool__": "a Python boolean", "__int__": "a Python integer",
                 "__float__": "a Python float", "__index__": "a Python index",
                 "numpy": "a NumPy array"}
        for attr, kind in kinds.items():
            orig = vars(Tensor).get(attr)
            if orig is None:
                continue

            def wrapper(t, *a, _orig=orig, _kind=kind, **k):
                if not tracer.depth and tracer.thread == threading.get_ident():
                    name = tracer.env.get(id(t))
                    if name is not None and tracer.g.depends_on_inputs(name):
                        warnings.warn(
                            f"Converting a tensor to {_kind} might cause the exported graph "
                            "to be incorrect: the value is recorded as a constant, so the "
                            "graph might not generalize to other inputs.",
                            OnnxExporterWarning, stacklevel=2)
                tracer.depth += 1  # float(t) calls t.item(): warn once
                try:
                    return _orig(t, *a, **k)
                finally:
                    tracer.depth -= 1

            self._patch(Tensor, attr, wrapper)

    def _wrap_inplace(self) -> None:
        """In-place ops run their out-of-place twin, then copy the result into the target:
        the target then stands for the twin's output."""
        from .._ops import inplace
        orig_write = inplace.__dict__.get("_write")
        orig_bump = Tensor.__dict__["_bump_version"]
        tracer = self
        state = {"writing": False}

        if orig_write is not None:
            def write(target, result, *flags):
                orig_write(target, result, *flags)  # bumps the version itself
                if tracer.thread != threading.get_ident() or tracer.depth:
                    return
                src = tracer.value(result, target._data.dtype)
                if tuple(result.shape) != tuple(target.shape):
                    src = tracer.g.node("Expand", [src, tracer.g.ints(target.shape)],
                                        dtype=target._data.dtype)
                tracer.bind(target, src)
                if target._base is not None:
                    tracer._mark_stale(target._base)

            def write_wrapper(target, result, *flags):
                if tracer.thread != threading.get_ident():
                    return orig_write(target, result, *flags)
                state["writing"] = True
                try:
                    write(target, result, *flags)
                finally:
                    state["writing"] = False

            self._patch(inplace, "_write", write_wrapper)

        def bump(t, *a, **k):
            if (not state["writing"] and tracer.thread == threading.get_ident()
                    and not tracer.depth):
                tracer._mark_stale(t)
                if t._base is not None:
                    tracer._mark_stale(t._base)
            return orig_bump(t, *a, **k)

        self._patch(Tensor, "_bump_version", bump)

    def _mark_stale(self, t: Tensor) -> None:
        for key in (id(t), id(t._data)):
            if key in self.env:
                del self.env[key]
                self._stale.add(key)

    def _hook_modules(self) -> None:
        tracer = self

        def pre(module, args, kwargs):
            if tracer.thread != threading.get_ident():
                return None  # another thread's call: neither traced nor on our stack
            if tracer.depth:
                tracer._stack.append(None)
                return None
            tracer._stack.append((args, kwargs))
            tracer.depth += 1
            return None

        def post(module, args, kwargs, output):
            if tracer.thread != threading.get_ident():
                return None
            entry = tracer._stack.pop() if tracer._stack else None
            if entry is None:
                return None
            tracer.depth -= 1
            emit = tracer.modules[type(module)]
            names = emit(tracer, module, *entry[0], out=output, **entry[1])
            tracer.bind_outputs(_flat(output), _flat(names))
            return None

        from ..nn.modules.module import Module
        hooked: set[int] = set()
        orig_call = vars(Module)["__call__"]

        # Hooks go on each module of a translated type when the exporting thread first calls
        # it, so modules outside ``model`` (in plain lists, or called by a function being
        # exported) are caught too; the hooks see the module's own output, before user hooks.
        def call(module, *args, **kwargs):
            if (id(module) not in hooked and type(module) in tracer.modules
                    and tracer.thread == threading.get_ident()):
                hooked.add(id(module))
                tracer._handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
                tracer._handles.append(module.register_forward_hook(post, with_kwargs=True,
                                                                    prepend=True))
            return orig_call(module, *args, **kwargs)

        self._patch(Module, "__call__", call)

    def __enter__(self) -> Tracer:
        global _ACTIVE
        if not _LOCK.acquire(blocking=False):
            raise OnnxExporterError("another ONNX export is already running")
        try:
            import ember
            self._wrap_apply()
            import ember.nn.functional as F
            for key, names in _PLAIN_FUNCTIONS.items():
                for attr in names:
                    self._wrap_plain(Tensor, attr, key)
                    if not attr.startswith("__"):
                        self._wrap_plain(ember, attr, key)
                        self._wrap_plain(F, attr, key)
            # Indexing with tensors is translated from the index itself (the op it runs sees
            # converted index arrays, no longer linked to the traced index tensors).
            self._wrap_plain(Tensor, "__getitem__", "getitem", when=_tensor_index)
            self._wrap_inplace()
            self._wrap_conversions()
            self._hook_modules()
            _ACTIVE = self
        except BaseException:
            self._undo()
            _LOCK.release()
            raise
        return self

    def _undo(self) -> None:
        if self._observer is not None:
            _function.pop_interceptor(self._observer)
            self._observer = None
        for owner, attr, orig in reversed(self._restore):
            setattr(owner, attr, orig)
        self._restore.clear()
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __exit__(self, *exc) -> None:
        global _ACTIVE
        _ACTIVE = None
        self._undo()
        _LOCK.release()


def _tensor_index(t, index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (Tensor, list)) for i in items)


def _flat(x) -> list:
    if isinstance(x, (tuple, list)):
        return [y for item in x for y in _flat(item)]
    return [x]
