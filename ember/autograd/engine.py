"""The backward pass: one iterative walk of the graph.

1. Count, for every node reachable from the roots, how many edges point at it.
2. Run nodes when all their incoming gradients have arrived, latest-created first (a heap
   on the creation sequence number), so a 100,000-op chain needs no recursion.
3. Each gradient a node returns is reduced to its input's shape and dtype here, in one place
   (``_fit``), summed into the input node's buffer, and the buffer is popped when that node
   runs. Saved tensors are freed as the walk passes, unless ``retain_graph``.

Gradients travel as Tensors, or — between ops that declare ``_array_backward`` while the
backward pass is not recorded — as bare arrays, which saves a Tensor per gradient per op.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from .._backend import ndarray, xp
from .._tensor import Tensor, _make
from .function import AccumulateGrad, Function, gradient_edge
from .grad_mode import _grad_enabled

__all__ = ["backward", "grad"]


def _as_tensor(g):
    return _make(g) if type(g) is ndarray else g


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
        if g.dtype != np_dtype:
            g = g.astype(np_dtype)
        return g
    if g._data.shape != shape:
        from .._ops.shape import sum_to_size
        g = sum_to_size(g, shape)
    if g._data.dtype != np_dtype:
        from .._dtype import _FROM_NP
        g = g.to(_FROM_NP[np_dtype])
    return g


def _make_grads(outputs: Sequence[Tensor], grads: Sequence) -> list[Tensor]:
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


def run_backward(outputs, grad_outputs, retain_graph: bool, create_graph: bool,
                 inputs: Sequence[Tensor] | None = None, accumulate: bool = True,
                 allow_unused: bool = True):
    """The engine. With ``accumulate`` it adds into ``.grad``; else returns input grads."""
    roots = []
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        roots.append(gradient_edge(out))
    grads = _make_grads(outputs, grad_outputs)

    # -- 1. dependency counts --------------------------------------------------------------
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

    # Targets whose gradient is captured (autograd.grad) or alone accumulated (inputs=).
    targets = needed = None
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets.setdefault(gradient_edge(t), []).append(k)
        needed = _needed_nodes(deps, {edge[0] for edge in targets})
    captured: list = [None] * (len(inputs) if inputs is not None else 0)

    buffers: dict = {}
    for (node, nr), g in zip(roots, grads):
        _add_to_buffer(buffers, node, nr, g)
    ready = []
    for node, _ in roots:
        if deps[node] == 0 and all(node is not r[2] for r in ready):
            ready.append((-node._seq, id(node), node))
    if len(ready) > 1:
        heapq.heapify(ready)
    # Root gradients belong to the caller: never hand their arrays to a .grad.
    protected = {id(g._data) for g in grads}
    arrays_ok = not create_graph

    heappop, heappush = heapq.heappop, heapq.heappush
    token = _grad_enabled.set(create_graph)
    try:
        while ready:
            node = heappop(ready)[2]
            buf = buffers.pop(node, None)
            if type(node) is AccumulateGrad:
                leaf = node._variable()
                if buf is not None and buf[0] is not None and leaf is not None and (
                        targets is None or (node, 0) in targets):
                    g = _leaf_hooks(node, leaf, buf[0], protected)
                    for k in targets.get((node, 0), ()) if targets is not None else ():
                        captured[k] = g
                    if accumulate:
                        _accumulate(leaf, g, create_graph, protected)
                continue
            if targets is not None and buf:
                # A non-leaf input's gradient is captured before its tensor hooks run (as in
                # PyTorch); a leaf's, above, after them.
                for nr, g in enumerate(buf):
                    for k in targets.get((node, nr), ()):
                        captured[k] = g
            if buf is not None and node._hooks:
                buf = _run_pre_hooks(node, [_as_tensor(g) for g in buf])
            grads_in = None
            if buf is not None and (needed is None or node in needed):
                grads_in = _run_node(node, buf, retain_graph,
                                     arrays_ok and node._array_backward)
                if grads_in is not None and (node._hooks or not node._array_forward):
                    # User code (a hook, a custom backward) saw or made these gradients and
                    # may still hold them: a leaf must copy, never adopt, their arrays.
                    for r in grads_in:
                        if r is not None:
                            protected.add(id(r if type(r) is ndarray else r._data))
            for i, edge in enumerate(node._edges):
                if edge is None:
                    continue
                nxt = edge[0]
                if grads_in is not None:
                    g = grads_in[i]
                    if g is not None:
                        if type(nxt) is AccumulateGrad:
                            leaf = nxt._variable()
                            meta = (leaf._data.shape, leaf._data.dtype) if leaf is not None \
                                else (None, None)
                        else:
                            meta = nxt._out_meta
                            if type(meta) is list:
                                meta = meta[edge[1]]
                        if meta[0] is not None:
                            data = g if type(g) is ndarray else g._data
                            if data.shape != meta[0] or data.dtype != meta[1]:
                                g = _fit(g, meta[0], meta[1])
                        slot = buffers.get(nxt)
                        if slot is None:
                            if type(nxt) is AccumulateGrad or type(nxt._out_meta) is not list:
                                buffers[nxt] = [g]
                            else:
                                slot = buffers[nxt] = [None] * len(nxt._out_meta)
                                slot[edge[1]] = g
                        else:
                            old = slot[edge[1]]
                            slot[edge[1]] = g if old is None else _sum(old, g)
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    heappush(ready, (-nxt._seq, id(nxt), nxt))
    finally:
        _grad_enabled.reset(token)

    if inputs is not None and accumulate:
        # backward(inputs=[...]): a non-leaf input gets its gradient in .grad too (unless
        # retain_grad already put it there).
        for t, g in zip(inputs, captured):
            if g is not None and t.grad_fn is not None and not t.retains_grad:
                g = _as_tensor(g)
                if t._grad is None:
                    t._grad = g if create_graph else _make(g._data.copy())
                else:
                    t._grad = t._grad + g
    if inputs is not None and not accumulate:
        for g in captured:
            if g is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        return tuple(_as_tensor(g) if g is not None else None for g in captured)
    return None


def _sum(a, b):
    """Add two gradients, either of which may be a bare array."""
    if type(a) is ndarray and type(b) is ndarray:
        s = a + b
        return s if type(s) is ndarray else xp.asarray(s)
    return _as_tensor(a) + _as_tensor(b)


def _needed_nodes(deps: dict, target_nodes: set) -> set:
    """Nodes from which some target is reachable (only those need to run)."""
    needed: set = set()
    order = _topological(deps)
    for node in reversed(order):
        for edge in node._edges:
            if edge is not None and (edge[0] in needed or edge[0] in target_nodes):
                needed.add(node)
                break
    return needed


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


def _add_to_buffer(buffers: dict, node, nr: int, g) -> None:
    buf = buffers.get(node)
    if buf is None:
        n = len(node._out_meta) if type(getattr(node, "_out_meta", None)) is list else 1
        buf = buffers[node] = [None] * n
    buf[nr] = g if buf[nr] is None else _sum(buf[nr], g)


def _run_node(node: Function, buf: list, retain_graph: bool, on_arrays: bool):
    """Call a node's backward on its gathered output gradients (pre-hooks have run)."""
    hooks = node._hooks
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
    if hooks and "post" in hooks:
        for hook in list(hooks["post"].values()):
            r = hook(tuple(_as_tensor(g) if g is not None else None for g in result),
                     tuple(_as_tensor(g) if g is not None else None for g in buf))
            if r is not None:
                result = tuple(r)
    if not retain_graph:
        node._release()
    return result


def _zeros(meta, on_arrays: bool):
    z = xp.zeros(meta[0], dtype=meta[1])
    return z if on_arrays else _make(z)


def _run_pre_hooks(node: Function, buf: list) -> list:
    hooks = node._hooks
    buf = list(buf)
    for nr, table in hooks.get("tensor", {}).items():
        if buf[nr] is not None:
            for hook in list(table.values()):
                r = hook(buf[nr])
                if r is not None:
                    buf[nr] = r
    for nr, ref in hooks.get("retain", {}).items():
        t = ref()
        if t is not None and buf[nr] is not None:
            g = buf[nr]
            if t._grad is None:
                t._grad = _make(g._data.copy()) if not _grad_enabled.get() else g
            else:
                t._grad = t._grad + g
    for hook in list(hooks.get("pre", {}).values()):
        r = hook(tuple(buf))
        if r is not None:
            buf = list(r)
    return buf


def _run_leaf_hooks(leaf: Tensor, g: Tensor) -> Tensor:
    for hook in list(leaf._extra["hooks"].values()):
        r = hook(g)
        if r is not None:
            g = r
    return g


def _leaf_hooks(acc: AccumulateGrad, leaf: Tensor, g, protected: set):
    """Run a leaf's tensor hooks and its sink's pre-hooks on its gradient."""
    if (leaf._extra and leaf._extra.get("hooks")) or (acc._hooks and "pre" in acc._hooks):
        g = _as_tensor(g)
        protected.add(id(g._data))  # the hooks see it (and may keep it)
        if leaf._extra and leaf._extra.get("hooks"):
            g = _run_leaf_hooks(leaf, g)
        if acc._hooks and "pre" in acc._hooks:
            for hook in list(acc._hooks["pre"].values()):
                r = hook((g,))
                if r is not None:
                    g = r[0]
        protected.add(id(g._data))  # or what a hook returned
    return g


def _accumulate(leaf: Tensor, g, create_graph: bool, protected: set) -> None:
    acc = leaf._acc
    old = leaf._grad
    if old is None:
        if create_graph:
            leaf._grad = _as_tensor(g)
        else:
            arr = g if type(g) is ndarray else g._data
            # Take the array over when nothing else can see it; copy it otherwise.
            if arr.base is not None or id(arr) in protected or not arr.flags.writeable:
                arr = arr.copy()
            protected.add(id(arr))
            leaf._grad = _make(arr)
    elif create_graph or old._requires_grad:
        leaf._grad = old + _as_tensor(g)
    else:
        xp.add(old._data, g if type(g) is ndarray else g._data, out=old._data)
    if acc is not None and acc._hooks and "post" in acc._hooks:
        for hook in list(acc._hooks["post"].values()):
            hook((), (_as_tensor(g),))


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
