"""Graph nodes: ``Function`` (forward + backward of one operation) and ``AccumulateGrad``.

An instance of a ``Function`` subclass is both the ``ctx`` its forward and backward see and
the node the engine walks (``tensor.grad_fn``). ``apply`` records it only when grad mode is
on and some input requires grad, so untracked computation pays for no graph.
"""

from __future__ import annotations

import functools
import itertools
import sys
import threading
import weakref
from collections.abc import Callable

from .. import _bfloat16 as _bf16
from .._backend import ndarray, xp
from .._tensor import Tensor, _make
from . import anomaly_mode
from . import graph as _graph
from .grad_mode import _grad_enabled, no_grad

__all__ = ["Function", "FunctionCtx", "AccumulateGrad", "once_differentiable"]

_next_seq = itertools.count().__next__

_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")


_ZEROS = (0,)
_META: dict = {}


def _shared_meta(meta: tuple) -> tuple:
    if len(_META) < 4096:
        _META[meta] = meta
    return meta

_NEEDS: dict = {}
_NO_NEEDS = [(False,) * n for n in range(8)]


class _Freed(tuple):
    """The marker left in place of saved tensors once backward has freed them."""


_FREED = _Freed()


class _RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict, hook: Callable) -> None:
        self.id = next(self._ids)
        self._hooks_ref = hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks_ref.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _Node:
    """What every graph node has: edges to the nodes of its inputs, and hooks."""

    __slots__ = ("_edges", "_seq", "__weakref__", "__dict__")

    # Rarely set: class-level defaults, so creating a node stays cheap.
    _hooks = None

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        """``((node, output_nr), ...)`` for each tensor input; ``(None, 0)`` where no gradient
        flows."""
        return tuple(e if e is not None else (None, 0) for e in self._edges)

    @property
    def metadata(self) -> dict:
        return self.__dict__.setdefault("_metadata", {})

    def _hook_table(self, kind: str) -> dict:
        if self._hooks is None:
            self._hooks = {}
        return self._hooks.setdefault(kind, {})

    def register_hook(self, fn: Callable) -> _RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after this node's backward."""
        return _RemovableHandle(self._hook_table("post"), fn)

    def register_prehook(self, fn: Callable) -> _RemovableHandle:
        """``fn(grad_outputs)`` runs before this node's backward; may return replacements."""
        return _RemovableHandle(self._hook_table("pre"), fn)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def __lt__(self, other) -> bool:
        # Nodes never order each other: ties in the engine's ready queue (leaves' sinks)
        # stay ties, so the heap releases them in PyTorch's order.
        return False


class AccumulateGrad(_Node):
    """The sink of a leaf tensor's gradient: adds it into ``variable.grad``.

    The leaf holds its sink (``leaf._acc``) and the sink holds the leaf only weakly, so no
    reference cycle keeps a dropped leaf's memory alive.
    """

    __slots__ = ("_variable",)

    def __init__(self, variable: Tensor) -> None:
        self._variable = weakref.ref(variable)
        self._edges = ()
        # Leaves' sinks run as soon as they are ready: PyTorch gives them the largest
        # sequence number, which the engine's ready queue pops first.
        self._seq = sys.maxsize


    @property
    def variable(self) -> Tensor | None:
        return self._variable()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"


_acc_lock = threading.Lock()


def _accumulator(leaf: Tensor) -> AccumulateGrad:
    """The leaf's unique AccumulateGrad node."""
    acc = leaf._acc
    if acc is None:
        with _acc_lock:  # two threads recording with a fresh leaf must share one sink
            acc = leaf._acc
            if acc is None:
                acc = leaf._acc = AccumulateGrad(leaf)
    return acc


def gradient_edge(t: Tensor) -> tuple:
    """Where a gradient for ``t`` must be sent: its grad_fn output, or its leaf sink."""
    fn = t.grad_fn if t._base is None else _view_grad_fn(t)
    if fn is not None:
        return (fn, t._output_nr)
    return (_accumulator(t), 0)


def _view_grad_fn(view: Tensor):
    """A view's grad_fn, rebuilt from its base if the base was written in place since the
    view was made (its old node would send gradients to the pre-write graph)."""
    extra = view._extra
    if (extra is None or "view" not in extra or "view_made_without_grad" in extra
            or extra.get("view_version") == (view._vc[0] if view._vc else 0)):
        return view.grad_fn
    base = view._base
    if extra.get("base_geometry") not in (None, (base._data.shape, base._data.strides)):
        # The base was reshaped in place (t_, squeeze_, ...): the view's ops cannot be
        # replayed on it. Its data is unchanged by that, so the old node still holds.
        return view.grad_fn
    if base._requires_grad:
        from .._ops.inplace import _replay_view
        from .grad_mode import enable_grad
        with enable_grad():
            fresh = _replay_view(base, extra["view"], extra.get("base_geometry"))
        view.grad_fn = fresh.grad_fn
        view._output_nr = fresh._output_nr
        view._requires_grad = True
    extra["view_version"] = view._vc[0] if view._vc else 0
    return view.grad_fn


class _SavedOutput:
    """Marks an output saved for backward: rebuilt on unpack with this node as grad_fn
    (storing the output Tensor itself would make a reference cycle)."""

    __slots__ = ("array", "index", "vc", "version", "fw")

    def __init__(self, array, index: int) -> None:
        self.array = array
        self.index = index
        self.fw = None  # {level: tangent} of the output, set by forward AD (forward_ad._attach)


class FunctionCtx:
    """The context API shared by all Functions (mixed into ``Function``)."""

    __slots__ = ()

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or the op's output arrays) for backward, with their versions."""
        self._saved = tensors
        # Tensors never written in place (no version counter yet) are at version 0: the
        # common case needs no list of versions at all.
        versions = None
        for i, t in enumerate(tensors):
            if isinstance(t, Tensor) and t._vc:
                if versions is None:
                    versions = [0] * len(tensors)
                versions[i] = t._vc[0]
        self._saved_versions = versions
        if _graph._hooks_in_use:
            # saved_tensors_hooks: packed once the outputs exist (see graph._pack_saved).
            self._pack_hooks = _graph._current_hooks()

    def save_for_forward(self, *tensors) -> None:
        """Save tensors for ``jvp``: there ``ctx.saved_tensors`` gives these."""
        self._saved_fw = tensors

    def mark_non_differentiable(self, *outputs) -> None:
        self._non_diff = {id(o._data if isinstance(o, Tensor) else o) for o in outputs}

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = value

    @property
    def saved_tensors(self) -> tuple:
        """The saved tensors, checked against in-place changes since they were saved."""
        if self._in_jvp:
            return self._saved_fw
        saved = self._saved
        if saved is None:
            return ()
        if saved is _FREED:
            raise RuntimeError(_SECOND_BACKWARD)
        if self._pack_hooks is not None:
            return _graph._unpack_saved(self, self._array_backward and not _grad_enabled.get())
        # An op whose backward is written with operators only gets plain arrays when the
        # backward pass is not itself recorded (see ``_array_backward``).
        arrays = self._array_backward and not _grad_enabled.get()
        out = []
        versions = self._saved_versions or _ZEROS * len(saved)
        for t, version in zip(saved, versions):
            if isinstance(t, _SavedOutput):
                cur = t.vc[0] if t.vc else 0
                if cur != t.version:
                    raise RuntimeError(_modified_message(t.array, self, t.index, cur, t.version))
                if arrays:
                    t = t.array
                else:
                    r = _make(t.array, True, self)
                    r._output_nr = t.index
                    r._vc = t.vc
                    if t.fw is not None:
                        r._extra = {"fw_grad": t.fw}
                    t = r
            elif isinstance(t, Tensor):
                cur = t._vc[0] if t._vc else 0
                if cur != version:
                    raise RuntimeError(_modified_message(t._data, t.grad_fn, t._output_nr, cur,
                                                         version))
                if arrays:
                    t = t._data
            elif isinstance(t, ndarray) and not arrays:
                t = _make(t)
            out.append(t)
        return tuple(out)


def _modified_message(array, node, output_nr: int, cur: int, expected: int) -> str:
    from .._dtype import _FROM_NP
    kind = _FROM_NP[array.dtype]._legacy_name
    where = f", which is output {output_nr} of {node.name()}," if node is not None else ""
    return ("one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [ember.{kind} [{', '.join(map(str, array.shape))}]]{where} "
            f"is at version {cur}; expected version {expected} instead. Hint: the backtrace "
            "further above shows the operation that failed to compute its gradient. The "
            "variable in question was changed in there or anywhere later. Good luck!")


class Function(FunctionCtx, _Node):
    """An operation with a forward and a backward; subclass it for custom autograd ops.

    Example::

        class Exp(ember.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                y, = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)

    ember's built-in ops subclass it too, with ``_array_forward = True``: their forward
    computes on the backing arrays (``x._data``) and returns arrays, which ``apply`` wraps.
    """

    __slots__ = ("_saved", "_saved_versions", "_out_meta", "needs_input_grad", "_tensor_args")

    # Rarely set: class-level defaults (an instance overrides them in its __dict__).
    _non_diff = None
    _materialize = True
    _dirty = None
    _pack_hooks = None  # the saved_tensors_hooks pair in force at save_for_backward
    _in_jvp = False  # set while a custom jvp runs: saved_tensors are save_for_forward's
    _saved_fw = ()

    #: Built-in ops compute forward on arrays; custom Functions compute on Tensors.
    _array_forward = False
    #: True only on the ``nondifferentiable`` functions transforms also see (never a class).
    nondifferentiable = False
    #: Set by ops whose backward uses only arithmetic operators (``g * out``, ``g / b``), which
    #: work on arrays and Tensors alike: when the backward pass is not recorded
    #: (``create_graph=False``) the engine then hands them arrays, skipping Tensor overhead.
    _array_backward = False
    #: Set by ops whose output is a view of their first input (shares its storage).
    _is_view = False
    #: How many leading arguments ``next_functions`` lists, for ops whose Python-number
    #: operands PyTorch counts as (wrapped) tensor inputs, like ``x * 2``.
    _n_inputs: int | None = None

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """With a ``forward(*args)`` that takes no ctx: save what backward/jvp need."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """Forward mode: the output tangents from the input tangents. Built-in ops define
        ``jvp(inputs, output, tangents)`` instead (see ``autograd.forward_ad``)."""
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @property
    def next_functions(self) -> tuple:
        """``((node, output_nr), ...)`` for each tensor input; ``(None, 0)`` where no gradient
        flows (a tensor that does not require grad)."""
        n = self._n_inputs
        mask = -1 if n is not None else getattr(self, "_tensor_args", -1)
        edges = self._edges if n is None else self._edges[:n]
        return tuple(e if e is not None else (None, 0) for i, e in enumerate(edges)
                     if mask >> i & 1)

    def name(self) -> str:
        return type(self).__name__

    def __init__(self, *args, **kwargs) -> None:
        pass

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward, and record a graph node if grad mode is on and an input needs grad."""
        if _interceptors:
            out = _intercept(cls, args, kwargs)
            if out is not NotImplemented:
                return out
        ctx = object.__new__(cls if cls._array_forward else _node_type(cls))
        ctx._seq = _next_seq()
        ctx._saved = None
        if anomaly_mode._enabled:
            anomaly_mode._record_forward(ctx)
        record = False
        if _grad_enabled.get():
            for a in args:
                if isinstance(a, Tensor):
                    if not a._requires_grad and a._base is not None and a._base._requires_grad:
                        _view_grad_fn(a)  # a write through another view made it differentiable
                    if a._requires_grad:
                        record = True
                        break
        if record:
            edges = []
            needs = []
            mask = -1  # bit i set: argument i is a Tensor (next_functions lists only those)
            for a in args:
                if (isinstance(a, Tensor) and not a._requires_grad and a._base is not None
                        and a._base._requires_grad):
                    _view_grad_fn(a)
                if isinstance(a, Tensor) and a._requires_grad:
                    fn = a.grad_fn if a._base is None else _view_grad_fn(a)
                    if fn is not None:
                        edges.append((fn, a._output_nr))
                    else:
                        acc = a._acc
                        edges.append((acc if acc is not None else _accumulator(a), 0))
                    needs.append(True)
                else:
                    edges.append(None)
                    needs.append(False)
                    if not isinstance(a, Tensor):
                        mask ^= 1 << len(needs) - 1
            ctx._edges = tuple(edges)
            ctx._tensor_args = mask
            key = tuple(needs)
            ctx.needs_input_grad = _NEEDS.setdefault(key, key)  # one shared tuple per pattern
        else:
            ctx.needs_input_grad = _NO_NEEDS[len(args)] if len(args) < 8 else (False,) * len(args)
        if cls._array_forward:
            try:
                raw = cls.forward(ctx, *args, **kwargs)
            except ValueError as exc:
                raise _translate_value_error(exc, args) from None
        elif cls.setup_context is Function.setup_context:
            with no_grad():
                raw = cls.forward(ctx, *args, **kwargs)
        else:
            # PyTorch's other style: forward(*args) without ctx, then setup_context.
            with no_grad():
                raw = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, raw)
        tr = type(raw)
        if tr is not ndarray and tr is not tuple and not isinstance(raw, Tensor):
            scalar, raw = raw, xp.asarray(raw)  # NumPy gives scalars for 0-d arithmetic
            if ctx._saved:
                # A saved output must stay recognisable as the output (double backward).
                ctx._saved = tuple(raw if s is scalar else s for s in ctx._saved)
        if _bf16.ACTIVE[0] and type(raw) is ndarray:
            raw = _bf16.settle_output(ctx, raw, args)  # bfloat16 results: rounded
        if type(raw) is ndarray:
            # The common case: one array output. Integer and bool outputs never require grad.
            if record and raw.dtype.kind not in "fc":
                record = False
            out = _make(raw, record, ctx if record else None)
            if record:
                # Shared (shape, dtype) pairs: one object per distinct output signature, so
                # each recorded op leaves fewer objects for the cyclic GC to rescan.
                meta = (raw.shape, raw.dtype)
                ctx._out_meta = _META.get(meta) or _shared_meta(meta)
                saved = ctx._saved
                if saved:
                    for item in saved:
                        if item is raw:
                            _finish_saved(ctx, (raw,), (out,))
                            break
                    if ctx._pack_hooks is not None:
                        _graph._pack_saved(ctx, (out,))
            if cls._is_view:
                _make_view(out, args[0], cls, args[1:])
            return out
        out = _wrap_outputs(ctx, cls, raw, args, record)
        if _interceptors and not cls._array_forward:
            _last_custom[0] = ctx  # forward AD runs the custom jvp with it (forward_ad._custom)
        return out

    # Hook bookkeeping used by Tensor.register_hook / retain_grad on non-leaf tensors.
    def _add_tensor_hook(self, output_nr: int, hook: Callable) -> _RemovableHandle:
        table = self._hook_table("tensor").setdefault(output_nr, {})
        return _RemovableHandle(table, hook)

    def _add_retain_hook(self, output_nr: int, ref) -> None:
        self._hook_table("retain")[output_nr] = ref

    def _release(self) -> None:
        """Free what backward saved (called as the engine passes, unless retain_graph)."""
        if self._saved is not None:
            self._saved = _FREED


# -- interception: the one place where transforms see every op ------------------------------
#: Handlers that get every ``Function.apply`` call first while a transform is active (a
#: forward-AD level, a vmap level): ``handler(cls, args, kwargs, index)`` returns the result,
#: or ``NotImplemented`` to pass the call on. Kept ordered by priority (lower first; see
#: ``push_interceptor``). Empty in plain eager use, where ``apply`` pays one truth test.
_interceptors: list = []
_priorities: list = []
#: The ctx of the last custom Function applied (its forward has finished).
_last_custom: list = [None]
#: The index the next ``_intercept`` starts at: set by ``apply_below`` for exactly one call.
_below = [0]


def push_interceptor(handler: Callable, priority: int) -> None:
    """Activate ``handler`` (see ``_interceptors``); pop it with ``pop_interceptor``.
    Handlers with a lower ``priority`` see a call first (forward AD: 0, before vmap: 10)."""
    i = len(_priorities)
    while i and _priorities[i - 1] > priority:
        i -= 1
    _priorities.insert(i, priority)
    _interceptors.insert(i, handler)


def pop_interceptor(handler: Callable) -> None:
    """Deactivate the innermost activation of ``handler``."""
    for i in range(len(_interceptors) - 1, -1, -1):
        if _interceptors[i] is handler:
            del _interceptors[i], _priorities[i]
            return
    raise RuntimeError("pop_interceptor: handler is not active")


def apply_below(index: int, cls, args: tuple, kwargs: dict):
    """Run ``cls.apply(*args, **kwargs)`` skipping the handlers up to and including the one
    at ``index`` (the caller): how a handler runs the op it intercepted. Calls made while
    that op runs (a custom Function's forward) see every handler again."""
    _below[0] = index + 1
    try:
        return cls.apply(*args, **kwargs)
    finally:
        _below[0] = 0


def nondifferentiable(fn: Callable | None = None, *, data_dependent_shape: bool = False):
    """Decorator for ember's built-in ops without a derivative (comparisons, predicates,
    ``argmax``...): plain functions on arrays whose results never require grad. While a
    transform is active, its handlers see each call as they see ``Function.apply``'s, with
    the function in place of the op class: ``cls.nondifferentiable`` is True for it (False
    on every ``Function``), and ``apply_below`` runs it through ``fn.apply`` (itself).
    That is how ``vmap`` batches ``x > 0`` instead of rerunning the whole function, and
    ``ember.compile`` replays it. ``data_dependent_shape=True`` marks ops whose output
    shape depends on the input's values (``bincount``): a compiled call breaks there."""
    if fn is None:
        return functools.partial(nondifferentiable, data_dependent_shape=data_dependent_shape)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _interceptors:
            out = _intercept(op, args, kwargs)
            if out is not NotImplemented:
                return out
        return fn(*args, **kwargs)
    op.apply = op
    op.nondifferentiable = True
    op.data_dependent_shape = data_dependent_shape
    return op


def _intercept(cls, args: tuple, kwargs: dict):
    start = _below[0]
    _below[0] = 0
    handlers = _interceptors
    for i in range(start, len(handlers)):
        out = handlers[i](cls, args, kwargs, i)
        if out is not NotImplemented:
            return out
    return NotImplemented


def _translate_value_error(exc: ValueError, args: tuple) -> Exception:
    """NumPy's broadcasting ValueError becomes PyTorch's RuntimeError and message."""
    if "broadcast" not in str(exc):
        return exc
    shapes = [a._data.shape for a in args if isinstance(a, Tensor)]
    if len(shapes) >= 2:
        a, b = shapes[0], shapes[1]
        n = max(len(a), len(b))
        for i in range(1, n + 1):
            da = a[-i] if i <= len(a) else 1
            db = b[-i] if i <= len(b) else 1
            if da != db and da != 1 and db != 1:
                return RuntimeError(f"The size of tensor a ({da}) must match the size of tensor "
                                    f"b ({db}) at non-singleton dimension {n - i}")
    return RuntimeError(str(exc))


def _finish_saved(ctx: Function, arrays: tuple, outputs: tuple) -> None:
    """Swap saved output arrays for markers, so saving an output makes no reference cycle."""
    saved = ctx._saved
    if not saved:
        return
    fixed = list(saved)
    changed = False
    for i, item in enumerate(saved):
        for j, arr in enumerate(arrays):
            if item is arr or (isinstance(item, Tensor) and item is outputs[j]):
                marker = _SavedOutput(arr, j)
                if outputs[j]._vc is None:
                    outputs[j]._vc = [0]
                marker.vc = outputs[j]._vc
                marker.version = outputs[j]._vc[0]
                fixed[i] = marker
                changed = True
    if changed:
        ctx._saved = tuple(fixed)


def _make_view(out: Tensor, src: Tensor, cls, view_args: tuple) -> None:
    """Make ``out`` a view of ``src``'s base: it shares the version counter, and records how
    to replay the view from the base (what an in-place write through it needs)."""
    if src._vc is None:
        src._vc = [0]
    out._vc = src._vc
    if src._base is None:
        out._base = src
        chain = ((cls, view_args),)
    else:
        out._base = src._base
        parent = src._extra.get("view") if src._extra else None
        chain = parent + ((cls, view_args),) if parent is not None else None
    if chain is not None:
        # "view": the chain of view ops that rebuilds the view from its base.
        # "view_version": the version the view's grad_fn was built at (see _view_grad_fn).
        # "view_made_without_grad": a view made with grad mode off of a base that requires
        # grad stays out of the graph for good, as in PyTorch.
        # "base_geometry": the base's (shape, strides), which replaying the chain assumes
        # (see _replay_view).
        out._extra = {"view": chain, "view_version": src._vc[0],
                      "base_geometry": (out._base._data.shape, out._base._data.strides)}
        if not _grad_enabled.get() and out._base._requires_grad:
            out._extra["view_made_without_grad"] = True


def _wrap_outputs(ctx: Function, cls, raw, args: tuple, record: bool):
    """Wrap a tuple (or a custom Function's Tensor) result and connect it to the node."""
    single = not isinstance(raw, tuple)
    items = (raw,) if single else raw
    arrays = []
    outputs = []
    non_diff = ctx._non_diff or ()
    for i, item in enumerate(items):
        if isinstance(item, Tensor):
            arr = item._data
            if record and any(item is a for a in args):
                if ctx._dirty is not None and any(item is d for d in ctx._dirty):
                    # Modified in place (ctx.mark_dirty): the input itself takes the node.
                    if item.grad_fn is None and item._requires_grad:
                        raise RuntimeError("a leaf Variable that requires grad has been used "
                                           "in an in-place operation.")
                else:
                    # An input returned as-is becomes a fresh alias; its history is untouched.
                    item = _make(arr)
        elif isinstance(item, (ndarray, xp.generic)):
            arr = xp.asarray(item) if not _bf16.ACTIVE[0] else _bf16.settle(xp.asarray(item), args)
            item = _make(arr)
        else:
            arrays.append(None)
            outputs.append(item)
            continue
        arrays.append(arr)
        diff = record and id(arr) not in non_diff and arr.dtype.kind in "fc"
        if record:
            if diff:
                item.grad_fn = ctx
                item._requires_grad = True
                item._output_nr = i
            else:
                item.grad_fn = None
                item._requires_grad = False
        outputs.append(item)
    if ctx._dirty is not None:
        del ctx._dirty  # only apply needs it: the node keeps no tensor outside its saved ones
    if record:
        # One output: the (shape, dtype) pair itself; several: a list of pairs.
        metas = [(a.shape, a.dtype) if a is not None else None for a in arrays]
        ctx._out_meta = metas[0] if single else metas
        _finish_saved(ctx, tuple(arrays), tuple(outputs))
        if ctx._pack_hooks is not None:
            _graph._pack_saved(ctx, tuple(outputs))
    if cls._is_view:
        for o in outputs:
            if isinstance(o, Tensor):
                _make_view(o, args[0], cls, args[1:])
    return outputs[0] if single else tuple(outputs)


def once_differentiable(fn):
    """Decorator for a custom backward that is not itself differentiable."""
    def wrapper(ctx, *grads):
        with no_grad():
            return fn(ctx, *grads)
    wrapper.__name__ = getattr(fn, "__name__", "backward")
    return wrapper


class BackwardCFunction(Function):
    """The graph node (and ctx) type of a custom Function ``F``: ``F.apply`` records an
    instance of the generated subclass ``FBackward``, whose backward is ``F.backward``, as
    in PyTorch (``type(y.grad_fn).__name__ == "FBackward"``)."""

    _forward_cls: type


def _node_type(cls) -> type:
    node_type = cls.__dict__.get("_backward_cls")
    if node_type is None:
        def backward(ctx, *grads):
            return cls.backward(ctx, *grads)

        node_type = type(cls.__name__ + "Backward", (BackwardCFunction,), {
            "backward": staticmethod(backward), "_forward_cls": cls,
            "__module__": cls.__module__, "__qualname__": cls.__qualname__ + "Backward"})
        cls._backward_cls = node_type
    return node_type


class _OpType(type):
    """The metaclass of built-in ops: an op's node name and formulas are fixed by its class
    statement. Assigning them afterwards (``Op.node_name = ...``, ``Op.backward = ...``) is
    refused, so what a reader sees in the class body is what runs and what
    ``type(y.grad_fn).__name__`` says; a variant with another node name is a subclass."""

    _FIXED = frozenset({"node_name", "forward", "backward", "jvp", "__name__",
                        "__qualname__"})

    def __setattr__(cls, name: str, value) -> None:
        if name in _OpType._FIXED and "_sealed" in cls.__dict__:
            raise TypeError(f"{cls.__name__}.{name} is set in its class body; define a "
                            f"subclass for a variant (see docs/internals.md, 'Writing an op')")
        super().__setattr__(name, value)


class _InternalOp(Function, metaclass=_OpType):
    """Base of ember's built-in ops (``ember._ops._util.Op``): forward on arrays, backward
    in Tensor ops, one gradient per forward argument. The class attribute ``node_name`` (the
    grad_fn class name PyTorch shows, inherited by subclasses unless they set their own)
    also becomes the class's ``__name__``, so ``type(y.grad_fn).__name__`` reads
    ``MulBackward0`` as in PyTorch. It is the only place a node's name comes from."""

    _array_forward = True
    node_name = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.node_name
        if name:
            short = name.rsplit("::", 1)[-1]
            type.__setattr__(cls, "__name__", short)
            type.__setattr__(cls, "__qualname__", short)
        type.__setattr__(cls, "_sealed", True)

    def name(self) -> str:
        return type(self).node_name or type(self).__name__
