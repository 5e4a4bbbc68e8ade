"""The backward pass: ``loss.backward()`` and ``autograd.grad`` each run one graph task.

``run_backward`` runs these steps, one function each, in this order:

1. ``_root_edges`` and ``_root_grads``: where the outputs' gradients enter the graph, and
   the gradients themselves (ones for a scalar output).
2. ``_count_dependencies``: for every node reachable from the roots, how many edges point
   at it. A node runs only when all of them have delivered.
3. ``_plan_inputs`` (only with ``inputs=``): which nodes hold the requested inputs, and
   which nodes must run for their gradients to arrive; no other node is run.
4. ``_seed_roots``: put the root gradients in the roots' buffers and make the roots ready.
5. ``_execute``: repeatedly pop the ready node of highest priority — a leaf's
   ``AccumulateGrad`` as soon as it is ready, then the most recently created node, as in
   PyTorch's engine — and
   a. ``_run_leaf`` for an ``AccumulateGrad``: the leaf's hooks, then the sum into ``.grad``
      (``_accumulate``, under a lock: several threads may share a leaf);
   b. ``_evaluate`` for any other node: tensor hooks and ``retain_grad``, pre-hooks, its
      backward (``_call_backward``), post-hooks, then freeing what it saved;
      then ``_check_nan`` when anomaly mode asks for it;
   c. ``_dispatch``: fit each gradient to its input's shape and dtype (``_fit``, the one
      place that does so), add it to the input node's buffer, and make that node ready
      when its last gradient has arrived.
6. ``_finish``: hand the captured gradients back (``autograd.grad``).

Gradients travel as Tensors, or — between ops that declare ``_array_backward`` while the
backward pass is not recorded — as bare arrays, which saves a Tensor per gradient per op.
All of a task's state lives in its ``_GraphTask``, so threads can run backward at once.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
from collections.abc import Sequence

from .. import _bfloat16 as _bf16
from .._backend import ndarray, xp
from .._tensor import Tensor, _make
from . import anomaly_mode
from .function import AccumulateGrad, Function, gradient_edge
from .grad_mode import _grad_enabled

__all__ = ["backward", "grad"]

#: Serialises every write into a ``.grad`` (leaves and retained non-leaves): two threads
#: adding into one leaf's gradient must not lose either sum.
_grad_lock = threading.Lock()

_task_ids = itertools.count(1).__next__

_getrefcount = sys.getrefcount
_heappush = heapq.heappush


class _GraphTask:
    """The state of one backward call."""

    __slots__ = ("id", "deps", "buffers", "ready", "retain_graph", "create_graph", "accumulate",
                 "runnable", "needed", "captures", "captured")

    def __init__(self, retain_graph: bool, create_graph: bool, accumulate: bool) -> None:
        self.id = _task_ids()
        self.deps: dict = {}      # node -> gradients still to arrive
        self.buffers: dict = {}   # node -> [gradient per output] gathered so far
        self.ready: list = []     # heap of (priority, node); see _push
        self.retain_graph = retain_graph
        self.create_graph = create_graph
        self.accumulate = accumulate
        # Set with inputs= only:
        self.runnable = None      # the only nodes that may run
        self.needed = None        # autograd.grad: the nodes whose backward must run
        self.captures = None      # autograd.grad: node -> [(output_nr, input index)]
        self.captured = ()        # autograd.grad: the gradient of each input


def _current_graph_task_id() -> int:
    """The id of the innermost graph task running in this thread, or -1 outside backward.

    Found by looking up this thread's stack for the engine's loop, so that backward spends
    nothing on it: only saved-tensor unpack hooks ask (non-reentrant checkpointing)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _execute.__code__:
            return frame.f_locals["task"].id
        frame = frame.f_back
    return -1


# -- 1. roots ------------------------------------------------------------------------------

def _root_edges(outputs: Sequence[Tensor]) -> list:
    roots = []
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        roots.append(gradient_edge(out))
    return roots


def _root_grads(outputs: Sequence[Tensor], grads: Sequence) -> list:
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind not in "fc":
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out.dtype}")
            g = _make(xp.ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            g = _make(xp.asarray(g, dtype=out._data.dtype))
        elif g._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of "
                               f"{tuple(out.shape)}.")
        result.append(g)
    return result


# -- 2. dependencies -----------------------------------------------------------------------

def _count_dependencies(roots: list) -> dict:
    """For each node reachable from the roots, the number of edges pointing at it (an
    iterative walk: a 100,000-op chain needs no recursion)."""
    deps: dict = {}
    stack = []
    for node, _ in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        for edge in stack.pop()._edges:
            if edge is not None:
                nxt = edge[0]
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    stack.append(nxt)
    return deps


# -- 3. inputs= ----------------------------------------------------------------------------

def _plan_inputs(task: _GraphTask, inputs: Sequence[Tensor]) -> None:
    """Restrict the task to what ``inputs`` need.

    ``backward(inputs=...)`` runs the inputs' nodes and every node from which one is
    reachable; a non-leaf input retains its gradient (``retain_grad``, as PyTorch does).
    ``autograd.grad`` captures each input's gradient as it reaches the input's node, and
    runs only the nodes from which some input's node is reachable.
    """
    targets: dict = {}
    for k, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        node, nr = gradient_edge(t)
        targets.setdefault(node, []).append((nr, k))
        if task.accumulate and t.grad_fn is not None:
            t.retain_grad()
    needed = _ancestors(task.deps, targets)
    task.runnable = needed | targets.keys()
    if not task.accumulate:
        task.needed = needed
        task.captures = targets
        task.captured = [None] * len(inputs)


def _ancestors(deps: dict, targets: dict) -> set:
    """The nodes from which some target node can be reached (by at least one edge)."""
    found: set = set()
    for node in reversed(_topological(deps)):
        for edge in node._edges:
            if edge is not None and (edge[0] in found or edge[0] in targets):
                found.add(node)
                break
    return found


def _topological(deps: dict) -> list:
    counts = dict(deps)
    order = [n for n, c in counts.items() if c == 0]
    i = 0
    while i < len(order):
        for edge in order[i]._edges:
            if edge is not None:
                counts[edge[0]] -= 1
                if counts[edge[0]] == 0:
                    order.append(edge[0])
        i += 1
    return order


# -- 4. roots' gradients -------------------------------------------------------------------

def _seed_roots(task: _GraphTask, roots: list, grads: list) -> None:
    for (node, nr), g in zip(roots, grads):
        _add_to_buffer(task.buffers, node, nr, g)
    runnable = task.runnable
    pushed = set() if len(roots) > 1 else None
    for node, _ in roots:
        # A root that another root reaches waits for its gradient like any other node.
        if task.deps[node] == 0 and (runnable is None or node in runnable):
            if pushed is not None:
                if node in pushed:
                    continue
                pushed.add(node)
            _push(task.ready, node)


def _push(ready: list, node) -> None:
    # Priority: the highest sequence number first, and AccumulateGrad's is the highest of
    # all (as in PyTorch). Ties (several leaves ready at once) compare equal — nodes never
    # order each other, see ``_Node.__lt__`` — so the heap hands them out in the same order
    # as PyTorch's binary heap does.
    _heappush(ready, (-node._seq, node))


# -- 5. the loop ---------------------------------------------------------------------------

def _execute(task: _GraphTask) -> None:
    ready, buffers = task.ready, task.buffers
    heappop = heapq.heappop
    node = None
    anomaly = anomaly_mode._enabled
    try:
        while ready:
            node = heappop(ready)[1]
            if anomaly:
                anomaly_mode._set_current_node(node)
            if type(node) is AccumulateGrad:
                _run_leaf(task, node, buffers.pop(node, None))
                continue
            # (No local keeps the gradients once passed on: see _owned_array.)
            _dispatch(task, node, _evaluate(task, node, buffers.pop(node, None)))
    except Exception:
        if anomaly and node is not None:
            anomaly_mode._warn_forward_trace(node)
        raise
    finally:
        if anomaly:
            anomaly_mode._set_current_node(None)


# -- 5a. leaves ----------------------------------------------------------------------------

def _run_leaf(task: _GraphTask, acc: AccumulateGrad, buf: list | None) -> None:
    """A leaf's gradient: its tensor hooks, its sink's pre-hooks, the sum into ``.grad``,
    then the post-accumulate and post hooks (PyTorch's order)."""
    leaf = acc._variable()
    if buf is None or buf[0] is None or leaf is None:
        return
    g = buf.pop()
    extra = leaf._extra
    if extra and extra.get("hooks"):
        g = _run_hooks(extra["hooks"], _as_tensor(g))
    if task.captures is not None:
        # autograd.grad: the leaf's gradient is captured after its hooks, never accumulated.
        for _, k in task.captures.get(acc, ()):
            task.captured[k] = g
        return
    hooks = acc._hooks
    if hooks and "pre" in hooks:
        g = _as_tensor(g)
        for hook in list(hooks["pre"].values()):
            r = hook((g,))
            if r is not None:
                g = r[0]
    _accumulate(leaf, g, task.create_graph)
    if hooks and "post" in hooks:
        for hook in list(hooks["post"].values()):
            hook((), (_as_tensor(g),))


def _accumulate(leaf: Tensor, g, create_graph: bool) -> None:
    """Add ``g`` into ``leaf.grad``: in place when a gradient is there already; else by
    taking ``g``'s array over when nothing outside the engine can see it, else a copy."""
    with _grad_lock:
        old = leaf._grad
        if old is None:
            if create_graph:
                leaf._grad = _as_tensor(g)
                return
            # PyTorch's rule for stealing a gradient, by reference count: copy a gradient
            # a hook kept, the caller passed in or another buffer still holds; and a view
            # or a read-only array.
            if type(g) is ndarray:
                shared = _getrefcount(g) > _ENGINE_REFS
                arr = g
            else:
                arr = g._data
                shared = _getrefcount(g) > _ENGINE_REFS or _getrefcount(arr) > _ARRAY_REFS
            if shared or arr.base is not None or not arr.flags.writeable:
                arr = arr.copy()
            leaf._grad = _make(arr)
        elif create_graph or old._requires_grad:
            leaf._grad = old + _as_tensor(g)
        else:
            xp.add(old._data, g if type(g) is ndarray else g._data, out=old._data)


# The references to a gradient that the engine itself holds where ``_accumulate`` counts
# them: ``_run_leaf``'s local, ``_accumulate``'s parameter and ``getrefcount``'s argument;
# and to its array when it comes wrapped: the Tensor, the local ``arr`` and the argument.
# tests/test_engine.py checks both the taking over and the copying.
_ENGINE_REFS = 3
_ARRAY_REFS = 3


# -- 5b. other nodes -----------------------------------------------------------------------

def _evaluate(task: _GraphTask, node: Function, buf: list | None):
    """Run one node on its gathered output gradients; returns its input gradients (or None
    when it received none, or is only visited to capture a gradient)."""
    if buf is None:
        return None
    captures = task.captures
    if captures is not None and node in captures:
        if node not in task.needed:
            # Only a gradient to capture here (autograd.grad): PyTorch runs the tensor's
            # hooks first and then captures what they return; the node itself is skipped.
            if node._hooks:
                buf = _run_tensor_hooks(node, buf)
            _capture(task, node, buf)
            return None
        _capture(task, node, buf)  # before the hooks, when the node runs on (PyTorch's order)
    hooks = node._hooks
    if hooks:
        buf = _run_tensor_hooks(node, buf)
        if "pre" in hooks:
            buf = _run_pre_hooks(hooks["pre"], buf)
    grads = _call_backward(node, buf, node._array_backward and not task.create_graph)
    if grads is not None and hooks and "post" in hooks:
        grads = _run_post_hooks(hooks["post"], grads, buf)
    if not task.retain_graph:
        node._release()
    if grads is not None and anomaly_mode._enabled and anomaly_mode._check_nan:
        _check_nan(node, grads)
    return grads


def _capture(task: _GraphTask, node, buf: list) -> None:
    for nr, k in task.captures[node]:
        task.captured[k] = buf[nr]


def _run_tensor_hooks(node: Function, buf: list) -> list:
    """Hooks registered on the node's output tensors, then ``retain_grad``'s copies."""
    hooks = node._hooks
    tensor_hooks = hooks.get("tensor")
    retained = hooks.get("retain")
    if not tensor_hooks and not retained:
        return buf
    buf = [_as_tensor(g) if g is not None else None for g in buf]
    for nr, table in (tensor_hooks or {}).items():
        if buf[nr] is not None:
            buf[nr] = _run_hooks(table, buf[nr])
    for nr, ref in (retained or {}).items():
        t = ref()
        g = buf[nr]
        if t is not None and g is not None:
            with _grad_lock:
                if t._grad is None:
                    t._grad = _make(g._data.copy()) if not _grad_enabled.get() else g
                else:
                    t._grad = t._grad + g
    return buf


def _run_hooks(table: dict, g: Tensor) -> Tensor:
    """Tensor hooks in registration order; each may return a replacement gradient."""
    for hook in list(table.values()):
        r = hook(g)
        if r is not None:
            g = r
    return g


def _run_pre_hooks(table: dict, buf: list) -> list:
    buf = [_as_tensor(g) if g is not None else None for g in buf]
    for hook in list(table.values()):
        r = hook(tuple(buf))
        if r is not None:
            buf = list(r)
    return buf


def _run_post_hooks(table: dict, grads: tuple, buf: list) -> tuple:
    outs = tuple(_as_tensor(g) if g is not None else None for g in buf)
    for hook in list(table.values()):
        r = hook(tuple(_as_tensor(g) if g is not None else None for g in grads), outs)
        if r is not None:
            grads = tuple(r)
    return grads


def _call_backward(node: Function, buf: list, on_arrays: bool):
    """Call a node's backward on its output gradients (as arrays when ``on_arrays``);
    returns one input gradient (or None) per edge."""
    if len(buf) == 1:
        g = buf[0]
        if g is None:
            return None
        if on_arrays:
            if type(g) is not ndarray:
                g = g._data
        elif type(g) is ndarray:
            g = _make(g)
        result = node.backward(node, g)
    else:
        if on_arrays:
            buf = [g._data if type(g) is not ndarray and g is not None else g for g in buf]
        else:
            buf = [_make(g) if type(g) is ndarray else g for g in buf]
        if all(g is None for g in buf):
            return None
        if node._materialize and None in buf:
            buf = [g if g is not None or meta is None else _zeros(meta, on_arrays)
                   for g, meta in zip(buf, node._out_meta)]
        result = node.backward(node, *buf)
    if type(result) is not tuple:
        result = (result,)
    if on_arrays:
        # NumPy returns scalars for 0-d arithmetic: make every gradient an array again.
        for r in result:
            if r is not None and type(r) is not ndarray:
                result = tuple(xp.asarray(r) if r is not None else r for r in result)
                break
    n = len(node._edges)
    if len(result) != n:
        # Trailing non-tensor arguments (dims, flags) may be left out of the result.
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        elif len(result) < n and all(e is None for e in node._edges[len(result):]):
            result = result + (None,) * (n - len(result))
        else:
            raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(result)})")
    return result


def _zeros(meta, on_arrays: bool):
    z = xp.zeros(meta[0], dtype=meta[1])
    return z if on_arrays else _make(z)


# -- 5c. anomaly mode ----------------------------------------------------------------------

def _check_nan(node: Function, grads: tuple) -> None:
    for i, g in enumerate(grads):
        if g is not None:
            data = g if type(g) is ndarray else g._data
            if data.dtype.kind in "fc" and xp.isnan(data).any():
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   "output.")


# -- 5d. passing gradients on --------------------------------------------------------------

def _dispatch(task: _GraphTask, node: Function, grads) -> None:
    """Send each input gradient to the node it belongs to; count that node's dependency
    down, and make it ready when none is left."""
    deps, buffers, runnable = task.deps, task.buffers, task.runnable
    for i, edge in enumerate(node._edges):
        if edge is None:
            continue
        nxt = edge[0]
        if grads is not None:
            g = grads[i]
            if g is not None:
                # The shape and dtype the gradient must have: its input's.
                if type(nxt) is AccumulateGrad:
                    leaf = nxt._variable()
                    meta = (leaf._data.shape, leaf._data.dtype) if leaf is not None else None
                else:
                    meta = nxt._out_meta
                    if type(meta) is list:
                        meta = meta[edge[1]]
                if meta is not None:
                    data = g if type(g) is ndarray else g._data
                    if data.shape != meta[0] or data.dtype != meta[1] or (
                            _bf16.ACTIVE[0] and data.dtype.metadata != meta[1].metadata):
                        g = _fit(g, meta[0], meta[1])
                _add_to_buffer(buffers, nxt, edge[1], g)
        left = deps[nxt] - 1
        deps[nxt] = left
        if left == 0 and (runnable is None or nxt in runnable):
            _heappush(task.ready, (-nxt._seq, nxt))  # _push, inlined: once per node


def _fit(g, shape: tuple, np_dtype):
    """Reduce a gradient (array or Tensor) to the shape and dtype of its tensor."""
    if type(g) is ndarray:
        if g.shape != shape:
            lead = g.ndim - len(shape)
            dims = tuple(range(lead)) + tuple(
                i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
            if lead < 0 or any(s != 1 and s != g.shape[i + lead] for i, s in enumerate(shape)):
                raise RuntimeError(f"gradient of shape {g.shape} does not match its input's "
                                   f"shape {shape}")
            g = g.sum(axis=dims, keepdims=True).reshape(shape) if dims else g.reshape(shape)
        if g.dtype != np_dtype or (_bf16.ACTIVE[0] and g.dtype.metadata != np_dtype.metadata):
            # A real input that reached a complex result gets the real part (PyTorch's rule).
            g = (g.real if g.dtype.kind == "c" and np_dtype.kind != "c" else g).astype(np_dtype)
        return g
    if g._data.shape != shape:
        from .._ops.shape import sum_to_size
        g = sum_to_size(g, shape)
    if g._data.dtype != np_dtype or (_bf16.ACTIVE[0] and g._data.dtype.metadata
                                     != np_dtype.metadata):
        from .._dtype import _FROM_NP, bfloat16
        if g._data.dtype.kind == "c" and np_dtype.kind != "c":
            g = g.real
        g = g.to(_FROM_NP[np_dtype] if np_dtype.metadata is None else bfloat16)
    return g


def _add_to_buffer(buffers: dict, node, nr: int, g) -> None:
    """Sum ``g`` into the gradient gathered for ``node``'s output ``nr``."""
    buf = buffers.get(node)
    if buf is None:
        meta = node._out_meta if type(node) is not AccumulateGrad else None
        if type(meta) is list:
            buf = buffers[node] = [None] * len(meta)
            buf[nr] = g
        else:
            buffers[node] = [g]
    else:
        old = buf[nr]
        buf[nr] = g if old is None else _sum(old, g)


def _sum(a, b):
    """Add two gradients, either of which may be a bare array."""
    if type(a) is ndarray and type(b) is ndarray:
        s = a + b
        return s if type(s) is ndarray else xp.asarray(s)
    return _as_tensor(a) + _as_tensor(b)


def _as_tensor(g):
    return _make(g) if type(g) is ndarray else g


# -- 6. results ----------------------------------------------------------------------------

def _finish(task: _GraphTask, allow_unused: bool):
    """autograd.grad's result: the captured gradients, as Tensors."""
    for g in task.captured:
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the "
                               "desired behavior.")
    return tuple(_as_tensor(g) if g is not None else None for g in task.captured)


#: Node types that can run a whole ``backward()`` from themselves as the one root (the node
#: of an ``ember.compile`` region): ``handler(output, grad, retain_graph)`` returns True
#: when it did the work, False to let the engine run as usual.
_fast_roots: dict = {}


def run_backward(outputs, grad_outputs, retain_graph: bool, create_graph: bool,
                 inputs: Sequence[Tensor] | None = None, accumulate: bool = True,
                 allow_unused: bool = True):
    """The engine. With ``accumulate`` it adds into ``.grad``; else returns the gradients
    of ``inputs`` (``autograd.grad``)."""
    if _fast_roots and len(outputs) == 1 and accumulate and inputs is None and not create_graph:
        fast = _fast_roots.get(type(outputs[0].grad_fn))
        if fast is not None and fast(outputs[0], grad_outputs[0], retain_graph):
            return None
    roots = _root_edges(outputs)
    task = _GraphTask(retain_graph, create_graph, accumulate)
    task.deps = _count_dependencies(roots)
    if inputs is not None:
        _plan_inputs(task, inputs)
    _seed_roots(task, roots, _root_grads(outputs, grad_outputs))
    grad_token = _grad_enabled.set(create_graph)
    try:
        _execute(task)
    finally:
        _grad_enabled.reset(grad_token)
    return None if accumulate else _finish(task, allow_unused)


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables=None, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph leaves.

    Args:
        tensors: the outputs to differentiate (a scalar needs no ``grad_tensors``).
        grad_tensors: the gradient w.r.t. each output (``None`` means 1 for scalars).
        retain_graph: keep saved tensors for another backward (defaults to create_graph).
        create_graph: record the backward pass itself, for higher-order derivatives.
        inputs: accumulate only into these tensors' ``.grad``.
    """
    outputs = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(grads)} tensors and {len(outputs)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    ins = _as_tuple(inputs) if inputs is not None else None
    if ins is not None and len(ins) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, ins, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False):
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` (without touching ``.grad``).

    Example::

        (dx,) = ember.autograd.grad(y, x, create_graph=True)   # dx can be differentiated
    """
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    gouts = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outs, gouts, retain_graph, create_graph, ins, accumulate=False,
                          allow_unused=allow_unused)
    if materialize_grads:
        result = tuple(g if g is not None else _make(xp.zeros_like(t._data))
                       for g, t in zip(result, ins))
    return result
