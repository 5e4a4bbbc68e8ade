"""Capture: run a call eagerly while observing every op (through ``Function.apply``'s
interception point), the tensor factories, dropout, ``backward()`` and the optimizers'
``step()``/``zero_grad()``, and turn what was seen into a ``FlatProgram`` (``_codegen``).

The first call is an ordinary eager call (its result is eager ember's); the tracer only
watches. Anything the program could not reproduce marks the trace *broken* (a graph break):
calls with that signature then run eagerly. Breaks are: reading values into Python
(``.item()``, ``.tolist()``, ``bool(t)`` — data-dependent control flow —, printing),
custom ``autograd.Function``s, tensors that come from neither an argument, a module's
parameters/buffers/attributes, the function's globals/closure, a factory nor a traced op
(``.detach()``), ops whose output shape depends on the values (``bincount``; the other
non-differentiable ops, comparisons and ``argmax``, are recorded and replayed as plain
calls), in-place writes,
hooks on intermediates inside the call, random draws the program does not replay, and any
change the call made to its inputs or parameters other than a recorded backward's ``.grad``
and a recorded optimizer's updates (BatchNorm running statistics, for instance).
"""

from __future__ import annotations

import builtins
import threading

from .._backend import ndarray, xp
from .._tensor import Tensor
from ..autograd import engine as _engine
from ..autograd.function import _SavedOutput, apply_below, pop_interceptor, push_interceptor
from ..autograd.grad_mode import is_grad_enabled
from ._formulas import _Slot, choose_spec

#: The tracer's place among ``Function.apply``'s interceptors: after forward AD (0) and
#: vmap (10), so it records the ops that actually run.
_PRIORITY = 20


class Unsupported(RuntimeError):
    """Raised with ``fullgraph=True`` when a call cannot be captured as one graph (PyTorch's
    ``torch._dynamo.exc.Unsupported``)."""


_local = threading.local()
_LOCK = threading.Lock()  # one trace at a time (the patches are process-wide)


#: How many traces are running (in any thread): while one is, compiled calls take the slow
#: path, which asks ``tracing()`` for this thread.
ACTIVE = [0]


def tracing() -> bool:
    """Whether this thread is inside a trace (nested compiled calls then run eagerly)."""
    return getattr(_local, "tracer", None) is not None


class _Op:
    """One recorded op: its class, argument template and where its outputs go."""

    __slots__ = ("cls", "args", "kwargs", "fill", "nested", "needs", "single", "outs",
                 "in_slots", "recorded", "out_meta", "edges", "in_meta", "spec", "fsrc",
                 "kind", "fconst")

    def __init__(self) -> None:
        self.kind = "op"  # or "call" (an optimizer method run as is), "backward" (a root)
        self.spec = None


class Tracer:
    def __init__(self, fullgraph: bool) -> None:
        self.fullgraph = fullgraph
        self.breaks: list[str] = []
        self.env: dict[int, int] = {}     # id(Tensor) -> slot
        self.alive: list = []             # keeps traced tensors alive, so ids stay unique
        self.meta: list = []              # slot -> (shape, dtype)
        self.sources: list = []           # external slot -> ("arg", i) or ("ref", tensor)
        self.views: set[int] = set()      # slots made by view ops
        self.saved_slots: set[int] = set()
        self.requires: set[int] = set()   # slots whose tensor required grad when traced
        self.ops: list[_Op] = []
        self.depth = 0
        self.rng_last = _rng_state()
        self.rng_outside = False
        self.grad_written: set = set()    # ids of tensors whose .grad a recorded backward set
        self.optimizers: list = []        # optimizers whose methods were recorded
        self.thread = threading.get_ident()
        self._restore: list = []
        self._handler = None

    # -- values ----------------------------------------------------------------------
    def _new_slot(self, t: Tensor) -> int:
        self.alive.append(t)
        self.env[id(t)] = len(self.meta)
        self.meta.append((t._data.shape, t._data.dtype))
        return len(self.meta) - 1

    def external(self, t: Tensor, source) -> None:
        if id(t) not in self.env:
            self._new_slot(t)
            self.sources.append(source)

    def graph_break(self, reason: str) -> None:
        if self.fullgraph:
            raise Unsupported(f"graph break: {reason} (ember.compile was called with "
                              "fullgraph=True)")
        self.breaks.append(reason)

    def _template(self, v, fill: list, pos, nested: list):
        if isinstance(v, Tensor):
            s = self.env.get(id(v))
            if s is None:
                self.graph_break("a tensor made outside the traced ops (a factory, a "
                                 "comparison, .data/.detach(), ...) is used")
                return v
            if pos is not None:
                fill.append((pos, s))
            else:
                nested.append(True)
            return _Slot(s)
        tv = type(v)
        if tv is tuple or tv is list:
            items = [self._template(x, fill, None, nested) for x in v]
            return tv(items)
        if tv is dict:
            return {k: self._template(x, fill, None, nested) for k, x in v.items()}
        if isinstance(v, ndarray):
            self.graph_break("an op received a raw array argument")
        elif isinstance(v, tuple) and not any(isinstance(x, Tensor) for x in v):
            return v  # a tuple subclass of constants (ember.Size, ...)
        elif isinstance(v, (tuple, list, dict)):
            self.graph_break(f"a {tv.__name__} (a container type the tracer does not rebuild)")
        return v

    # -- recording -------------------------------------------------------------------
    def record(self, cls, args: tuple, kwargs: dict, out) -> None:
        plain = cls.nondifferentiable
        if plain and type(out) is tuple:
            self.graph_break(f"{cls.__name__} returned a tuple")
            return
        if plain and cls.data_dependent_shape:
            self.graph_break(f"{cls.__name__}: its output's shape depends on the values")
            return
        if not plain and not cls._array_forward:
            self.graph_break(f"custom autograd.Function {cls.__qualname__}")
            return
        op = _Op()
        op.cls = cls
        fill: list = []
        nested: list = []
        op.args = tuple(self._template(a, fill, i, nested) for i, a in enumerate(args))
        op.kwargs = {k: self._template(v, fill, None, nested) for k, v in kwargs.items()}
        op.fill = tuple(fill)
        op.nested = bool(nested) or bool(kwargs and any(
            isinstance(v, _Slot) for v in op.kwargs.values()))
        rec = is_grad_enabled() and any(isinstance(a, Tensor) and a._requires_grad
                                        for a in args)
        op.needs = (tuple(isinstance(a, Tensor) and a._requires_grad for a in args) if rec
                    else (False,) * len(args))
        op.in_slots = tuple(self.env.get(id(a)) if n else None for a, n in zip(args, op.needs))
        outs = out if type(out) is tuple else (out,)
        op.single = type(out) is not tuple
        slots = []
        node = None
        for o in outs:
            if not isinstance(o, Tensor):
                self.graph_break(f"{cls.__name__} returned a non-tensor")
                return
            if any(o is a for a in args):
                self.graph_break(f"{cls.__name__} returned its input")
                return
            s = self._new_slot(o)
            if o._requires_grad:
                self.requires.add(s)
            if not plain and cls._is_view:
                self.views.add(s)
            slots.append(s)
            if o.grad_fn is not None and node is None:
                node = o.grad_fn
        op.outs = slots[0] if op.single else tuple(slots)
        choose_spec(op, self.meta, self.alive)
        op.recorded = node is not None
        op.out_meta = None
        op.edges = None
        if node is not None:
            op.out_meta = node._out_meta
            op.edges = tuple(True if n else None for n in op.needs)
            for item in node._saved or ():
                if isinstance(item, _SavedOutput):
                    self.saved_slots.add(slots[item.index])
                elif isinstance(item, Tensor) and id(item) in self.env:
                    self.saved_slots.add(self.env[id(item)])
        self.ops.append(op)

    # -- patching ----------------------------------------------------------------------
    def _patch(self, owner, attr: str, new) -> None:
        self._restore.append((owner, attr, owner.__dict__.get(attr, _MISSING)))
        # type.__setattr__ on classes: Tensor's metaclass would record the patch as a second
        # definition of the attribute (tests/test_tensor_surface.py).
        (type.__setattr__ if isinstance(owner, type) else setattr)(owner, attr, new)

    def _mine(self) -> bool:
        return self.thread == threading.get_ident() and not self.depth

    def _wrap_apply(self) -> None:
        """Observe every op through ``Function.apply``'s interception point (after the
        transforms — forward AD, vmap — have had their turn)."""
        tracer = self

        def handler(cls, args, kwargs, index):
            if not tracer._mine():
                return NotImplemented
            if _rng_state() != tracer.rng_last:
                tracer.rng_outside = True  # drawn by something the program won't replay
            tracer.depth += 1
            try:
                out = apply_below(index, cls, args, kwargs)
            finally:
                tracer.depth -= 1
            tracer.rng_last = _rng_state()
            tracer.record(cls, args, kwargs, out)
            return out

        push_interceptor(handler, _PRIORITY)
        self._handler = handler

    def _wrap_breaks(self) -> None:
        tracer = self

        def breaking(owner, attr: str, reason: str) -> None:
            orig = getattr(owner, attr)

            def wrapper(*a, **k):
                if tracer._mine():
                    tracer.graph_break(reason)
                return orig(*a, **k)
            self._patch(owner, attr, wrapper)

        for attr, reason in (("item", "Tensor.item() reads a value into Python"),
                             ("tolist", "Tensor.tolist() reads values into Python"),
                             ("numpy", "Tensor.numpy() leaves the graph"),
                             ("__array__", "conversion to a NumPy array"),
                             ("__bool__", "data-dependent control flow (bool of a tensor)"),
                             ("__int__", "int() of a tensor"), ("__float__", "float() of a tensor"),
                             ("__index__", "a tensor used as a Python index"),
                             ("__repr__", "printing a tensor"), ("__str__", "printing a tensor"),
                             ("__format__", "formatting a tensor"),
                             ("retain_grad", "retain_grad() on a tensor inside the call"),
                             ("register_hook", "a tensor hook registered inside the call"),
                             ("_bump_version", "an in-place write")):
            if hasattr(Tensor, attr):
                breaking(Tensor, attr, reason)
        breaking(builtins, "print", "print()")
        self._wrap_backward()
        self._wrap_factories()
        self._wrap_optimizers()

    def _run_hidden(self, fn, *a, **k):
        """Run ``fn`` with nothing inside it recorded."""
        self.depth += 1
        try:
            return fn(*a, **k)
        finally:
            self.depth -= 1

    def _wrap_backward(self) -> None:
        tracer = self
        orig = _engine.run_backward

        def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                         accumulate=True, allow_unused=True):
            if tracer._mine():
                tracer.record_backward(outputs, grad_outputs, retain_graph, create_graph,
                                       inputs, accumulate)
                out = tracer._run_hidden(orig, outputs, grad_outputs, retain_graph,
                                         create_graph, inputs, accumulate, allow_unused)
                tracer.rng_last = _rng_state()
                return out
            return orig(outputs, grad_outputs, retain_graph, create_graph, inputs, accumulate,
                        allow_unused)
        self._patch(_engine, "run_backward", run_backward)

    def record_backward(self, outputs, grads, retain_graph, create_graph, inputs,
                        accumulate) -> None:
        """``loss.backward()`` inside the call: replayed as the generated backward of the ops
        recorded so far, adding into the leaves' ``.grad``."""
        if (len(outputs) != 1 or grads[0] is not None or retain_graph or create_graph
                or inputs is not None or not accumulate):
            self.graph_break("backward() with arguments (gradient, inputs, retain_graph, "
                             "create_graph) or autograd.grad() inside the call")
            return
        t = outputs[0]
        s = self.env.get(id(t))
        d = t._data
        if (s is None or s < len(self.sources) or s not in self.requires or d.shape != ()
                or d.dtype.kind != "f"):
            self.graph_break("backward() of a tensor the program did not compute")
            return
        op = _Op()
        op.kind = "backward"
        op.outs = s
        op.recorded = False
        self.ops.append(op)

    def _wrap_factories(self) -> None:
        import ember

        from .. import _creation
        from ._random import Dropout, Factory, dropout_args
        tracer = self
        for name in _FACTORIES:
            orig = _creation.__dict__.get(name)
            if orig is None:
                continue

            def wrapper(*a, _orig=orig, **k):
                if (tracer._mine() and not k.get("requires_grad") and k.get("out") is None
                        and k.get("generator") is None):
                    return Factory.apply(_orig, a, k)
                return _orig(*a, **k)
            self._patch(_creation, name, wrapper)
            if ember.__dict__.get(name) is orig:
                self._patch(ember, name, wrapper)
        from ..nn._functional import dropout as _dmod
        orig_dropout = _dmod._dropout

        def _dropout(*a, **k):
            if tracer._mine():
                args = dropout_args(*a, **k)
                if args is not None:
                    return Dropout.apply(*args)
            return orig_dropout(*a, **k)
        self._patch(_dmod, "_dropout", _dropout)

    def _wrap_optimizers(self) -> None:
        from ..optim.optimizer import Optimizer
        tracer = self

        def wrap(orig, name):
            def method(opt, *a, **k):
                if not tracer._mine():
                    return orig(opt, *a, **k)
                if any(isinstance(v, Tensor) or callable(v) for v in list(a) + list(k.values())):
                    tracer.graph_break(f"optimizer.{name}() with a closure or tensor argument")
                    return orig(opt, *a, **k)
                op = _Op()
                op.kind = "call"
                op.cls = orig
                op.args = (opt,) + a
                op.kwargs = k
                op.recorded = False
                tracer.ops.append(op)
                if all(o is not opt for o in tracer.optimizers):
                    tracer.optimizers.append(opt)
                out = tracer._run_hidden(orig, opt, *a, **k)
                tracer.rng_last = _rng_state()
                return out
            return method

        todo, seen = [Optimizer], set()
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            todo.extend(cls.__subclasses__())
            for name in ("step", "zero_grad"):
                own = vars(cls).get(name)
                if callable(own):
                    self._patch(cls, name, wrap(own, name))

    def __enter__(self) -> Tracer:
        if not _LOCK.acquire(blocking=False):
            raise _Busy
        _local.tracer = self
        ACTIVE[0] += 1
        try:
            self._wrap_apply()
            self._wrap_breaks()
        except BaseException:
            self._undo()
            raise
        return self

    def _undo(self) -> None:
        if self._handler is not None:
            pop_interceptor(self._handler)
            self._handler = None
        for owner, attr, orig in reversed(self._restore):
            if orig is _MISSING:
                (type.__delattr__ if isinstance(owner, type) else delattr)(owner, attr)
            else:
                (type.__setattr__ if isinstance(owner, type) else setattr)(owner, attr, orig)
        self._restore.clear()
        ACTIVE[0] -= 1
        _local.tracer = None
        _LOCK.release()

    def __exit__(self, *exc) -> None:
        self._undo()

    # -- the program ---------------------------------------------------------------------
    def finish(self, result):
        """The captured program for ``result``, or None after a graph break."""
        out_fill: list = []
        nested: list = []
        if not _plain(result):
            self.graph_break("the call returned an object other than tensors, numbers and "
                             "tuples, lists or dicts of them")
        template = self._template(result, out_fill, None, nested)
        if self.breaks:
            return None
        outs = []
        _collect_slots(template, outs)
        if any(s in self.views for s in outs):
            self.graph_break("a view made inside the call is returned")
            return None
        return FlatProgram(self, template, outs)


#: Factories that a trace records as ops (re-run on every replay: random ones draw afresh).
_FACTORIES = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
              "full_like", "arange", "linspace", "logspace", "eye", "tensor", "as_tensor",
              "scalar_tensor", "rand", "randn", "randint", "randperm", "normal", "rand_like",
              "randn_like", "randint_like", "bernoulli")


_MT_VIEW: list = [None, None, None]


def _rng_state():
    """A snapshot of ember's default generator, compared around every traced op to see
    whether anything else drew from it. ``MT19937.state`` builds a dict (half a
    millisecond); this reads the generator's key and position (624 + 1 words) in place."""
    from .._random import default_generator as g
    mt = g._mt
    if _MT_VIEW[0] is not mt:
        import ctypes
        buf = (ctypes.c_uint32 * 625).from_address(mt.ctypes.state_address)
        _MT_VIEW[:] = [mt, buf, xp.frombuffer(buf, dtype=xp.uint32)]
    return (id(mt), _MT_VIEW[2].tobytes(), g._normal, g._normal_f, g._seed)


class _Busy(Exception):
    """Another thread is tracing: run this call eagerly."""


_MISSING = object()


def _plain(v) -> bool:
    from ._guards import _SCALARS
    tv = type(v)
    if tv is tuple or tv is list:
        return all(_plain(x) for x in v)
    if tv is dict:
        return all(_plain(x) for x in v.values())
    return tv in _SCALARS or isinstance(v, Tensor)


def _collect_slots(t, out: list) -> None:
    if isinstance(t, _Slot):
        if t.i not in out:
            out.append(t.i)
    elif type(t) in (tuple, list):
        for x in t:
            _collect_slots(x, out)
    elif type(t) is dict:
        for x in t.values():
            _collect_slots(x, out)


from ._codegen import CompiledFunctionBackward, FlatProgram, _install  # noqa: E402

_install()
__all__ = ["Tracer", "Unsupported", "FlatProgram", "CompiledFunctionBackward", "tracing"]
