"""Reverse-mode transforms: ``grad``, ``grad_and_value``, ``vjp``, ``jacrev`` (the forward-mode
ones, ``jvp``/``linearize``/``jacfwd``/``hessian``, are in ``_forward``).

Each call wraps the chosen inputs in fresh differentiable aliases, runs the function with
grad mode on, and asks ember's engine for the derivatives. Nesting works because derivatives
taken inside another transform are recorded (``create_graph``), see ``_level``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from ..autograd.engine import grad as _autograd_grad
from ..autograd.forward_ad import check_reverse_input, copy_tangents
from ..autograd.grad_mode import enable_grad
from . import _batching, _level
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["grad", "grad_and_value", "vjp", "jacrev"]


# -- argument handling ----------------------------------------------------------------------
def _check_argnums(argnums, nargs: int) -> None:
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        nums = (argnums,)
    elif isinstance(argnums, tuple) and all(isinstance(a, int) for a in argnums):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        nums = argnums
    else:
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    for a in nums:
        if not -nargs <= a < nargs:
            raise RuntimeError(f"Got argnum={a}, but only {nargs} positional inputs")
    wrapped = [a % nargs for a in nums]
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {tuple(wrapped)}")


def _alias(t, create_graph: bool) -> Tensor:
    """A differentiable stand-in for ``t`` at this level, still attached to enclosing ones.

    Inside vmap it is batched at every active vmap level (an unbatched ``t`` is expanded),
    and what requires grad is its physical tensor: one reverse pass over the batched graph
    then gives every sample's derivative (samples never mix, and the engine keeps a leaf's
    gradient at the leaf's batched shape)."""
    if not isinstance(t, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
    check_reverse_input(t)
    levels = _batching.active_levels()
    if levels:
        p = _plain_alias(_batching.to_physical(t, levels), create_graph)
        return _batching.from_physical(p, levels)
    return _plain_alias(t, create_graph)


def _plain_alias(t: Tensor, create_graph: bool) -> Tensor:
    if t.requires_grad and create_graph:
        return t.view_as(t)
    # Keeps the tangents of enclosing forward-mode transforms (jacfwd(jacrev(f))).
    return copy_tangents(t, t.detach().requires_grad_())


def _needs_graph(tensors) -> bool:
    return _level.level() > 0 or any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _slice_args(args: tuple, argnums) -> tuple[list, Any, Any]:
    """The flattened leaves of the differentiated arguments, their spec, and the selection."""
    chosen = args[argnums] if isinstance(argnums, int) else tuple(args[a] for a in argnums)
    leaves, spec = tree_flatten(chosen)
    return leaves, spec, chosen


def _replace_args(args: tuple, argnums, new) -> tuple:
    out = list(args)
    if isinstance(argnums, int):
        out[argnums] = new
    else:
        for a, v in zip(argnums, new):
            out[a] = v
    return tuple(out)


def _finish(x, keep_graph: bool):
    """Detach the transform's results when nothing outside it records a graph."""
    if keep_graph:
        return x
    leaves, spec = tree_flatten(x)
    return tree_unflatten([t.detach() if isinstance(t, Tensor) else t for t in leaves], spec)


def _split_aux(out, has_aux: bool, api: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) "
                           "if has_aux is True")
    for a in tree_flatten(out[1])[0]:
        if not isinstance(a, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(a)}")
    return out


def _derivatives(outputs: list, inputs: list, cotangents: list, create_graph: bool) -> list:
    """Vector-Jacobian products; zeros for inputs the outputs do not depend on."""
    if _batching.active_levels() and any(type(t) is _batching.BatchedTensor
                                         for t in (*outputs, *inputs, *cotangents)):
        return _batched_derivatives(outputs, inputs, cotangents, create_graph)
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        grads = [None] * len(inputs)
    else:
        with enable_grad():
            grads = _autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs],
                                   retain_graph=True, create_graph=create_graph,
                                   allow_unused=True)
    return [g if g is not None else x.new_zeros(x.shape) for g, x in zip(grads, inputs)]


def _batched_derivatives(outputs: list, inputs: list, cotangents: list,
                         create_graph: bool) -> list:
    """``_derivatives`` on the physical graph under vmap (inputs made by ``_alias``)."""
    outs, cots, seen = [], [], set()
    for o, c in zip(outputs, cotangents):
        lv = _batching.levels_of(o)
        seen.update(lv)
        outs.append(_batching.physical(o))
        cots.append(_batching.to_physical(c, lv))
    ins, in_levels = [], []
    for x in inputs:
        lv = _batching.levels_of(x)
        if not seen.issubset(lv):
            # A per-sample derivative w.r.t. a tensor shared by the samples (not made by
            # ``_alias``): the batched graph would sum the samples. Run per sample instead.
            raise _batching.Unbatchable("a derivative w.r.t. an unbatched tensor inside vmap")
        ins.append(_batching.physical(x))
        in_levels.append(lv)
    grads = _derivatives(outs, ins, cots, create_graph)
    return [_batching.from_physical(g, lv) for g, lv in zip(grads, in_levels)]


# -- grad -----------------------------------------------------------------------------------
def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0,
                   has_aux: bool = False) -> Callable:
    """Like ``grad``, but the returned function gives ``(gradient, value)`` (and
    ``((gradient, (value, aux))`` with ``has_aux``)."""
    api = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_argnums(argnums, len(args))
        leaves, spec, _ = _slice_args(args, argnums)
        keep = _needs_graph(leaves)
        with _level.enter(), enable_grad():
            inner = [_alias(t, keep) for t in leaves]
            out = func(*_replace_args(args, argnums, tree_unflatten(inner, spec)), **kwargs)
            value, aux = _split_aux(out, has_aux, api)
            if not isinstance(value, Tensor):
                raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got "
                                   f"{type(value)}")
            if value.dim() != 0:
                raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {value.dim()} dims. Maybe you wanted to use "
                                   "the vjp or jacrev APIs instead?")
            grads = _derivatives([value], inner, [value.new_ones(())], keep)
        g = _finish(tree_unflatten(grads, spec), keep)
        value = _finish(value, keep)
        if has_aux:
            return g, (value, _finish(aux, keep))
        return g, value

    return wrapper


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """``grad(f)(*args)`` is the gradient of the scalar ``f(*args)`` w.r.t. ``args[argnums]``
    (a pytree of tensors). With ``has_aux`` ``f`` returns ``(output, aux)`` and the result is
    ``(gradient, aux)``. Composes with the other transforms: ``vmap(grad(f))`` gives
    per-sample gradients.

    Example::

        >>> ember.func.grad(lambda x: x.sin().sum())(x)      # == x.cos()
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# -- vjp ------------------------------------------------------------------------------------
def vjp(func: Callable, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives one vector-Jacobian product
    per primal, and can be called many times. With ``has_aux`` also returns ``aux``."""
    leaves, spec = tree_flatten(primals)
    keep = _needs_graph(leaves)
    with _level.enter(), enable_grad():
        inner = [_alias(t, keep) for t in leaves]
        out = func(*tree_unflatten(inner, spec))
        out, aux = _split_aux(out, has_aux, "vjp(f, *primals)")
    out_leaves, out_spec = tree_flatten(out)
    for o in out_leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError("vjp(f, *primals): expected f(*primals) to return only tensors, "
                               f"got unsupported type {type(o)}")

    def vjp_fn(cotangents, *, retain_graph: bool = True, create_graph: bool | None = None):
        cot_leaves, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{cot_spec}, primal output: {out_spec}")
        for o, c in zip(out_leaves, cot_leaves):
            if tuple(o.shape) != tuple(c.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        record = keep or _needs_graph(cot_leaves) if create_graph is None else create_graph
        with _level.enter():
            grads = _derivatives(out_leaves, inner, cot_leaves, record)
        return _finish(tree_unflatten(grads, spec), record)

    result = (_finish(out, keep), vjp_fn)
    return result + (_finish(aux, keep),) if has_aux else result


# -- Jacobians ------------------------------------------------------------------------------
def _jacobian_rows(outputs: list, inputs: list, keep: bool) -> list[list[Tensor]]:
    """For each output, one Jacobian per input, shaped ``output.shape + input.shape``."""
    from .._ops import stack
    result = []
    for o in outputs:
        flat = o.reshape(-1)
        rows: list[list[Tensor]] = [[] for _ in inputs]
        for k in range(flat.shape[0]):
            seed = flat.new_zeros(flat.shape)
            seed[k] = 1
            grads = _derivatives([flat], inputs, [seed], keep)
            for r, g in zip(rows, grads):
                r.append(g)
        jacs = []
        for r, x in zip(rows, inputs):
            if r:
                j = stack(r).reshape(tuple(o.shape) + tuple(x.shape))
            else:
                j = x.new_zeros(tuple(o.shape) + tuple(x.shape))
            jacs.append(j)
        result.append(jacs)
    return result


def _jac(func: Callable, argnums, has_aux: bool, api: str) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_argnums(argnums, len(args))
        leaves, spec, _ = _slice_args(args, argnums)
        keep = _needs_graph(leaves)
        with _level.enter(), enable_grad():
            inner = [_alias(t, keep) for t in leaves]
            out = func(*_replace_args(args, argnums, tree_unflatten(inner, spec)), **kwargs)
            out, aux = _split_aux(out, has_aux, api)
            out_leaves, out_spec = tree_flatten(out)
            for o in out_leaves:
                if not isinstance(o, Tensor):
                    raise RuntimeError(f"{api}: Expected f to return only tensors, got "
                                       f"unsupported type {type(o)}")
            rows = _jacobian_rows(out_leaves, inner, keep)
        jac = tree_unflatten([tree_unflatten(r, spec) for r in rows], out_spec)
        jac = _finish(jac, keep)
        return (jac, _finish(aux, keep)) if has_aux else jac

    return wrapper


def jacrev(func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, _preallocate_and_copy: bool = False) -> Callable:
    """The Jacobian of ``func`` w.r.t. ``args[argnums]``, by reverse mode: for each output
    (leaf of the output pytree) a tensor of shape ``output.shape + input.shape`` (a pytree of
    them when ``argnums`` is a tuple or selects a pytree).

    All rows come from one batched backward pass (``chunk_size`` rows at a time): ``func``
    runs under vmap over the rows of the identity, as ``vmap(vjp_fn)`` does in PyTorch."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    api = "jacrev(f, ...)(*args)"
    rowwise = _jac(func, argnums, has_aux, api)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_argnums(argnums, len(args))
        try:
            return _jacrev_batched(func, argnums, has_aux, chunk_size, api, args, kwargs)
        except _batching.Unbatchable as exc:
            _batching.performance_warning(exc.what)
            return rowwise(*args, **kwargs)

    return wrapper


def _jacrev_batched(func, argnums, has_aux, chunk_size, api, args, kwargs):
    from .._ops import cat
    from ..autograd.grad_mode import no_grad
    leaves, spec, _ = _slice_args(args, argnums)
    keep = _needs_graph(leaves)
    # A first run gives the outputs (their values, and how many Jacobian rows there are).
    with _level.enter(), (enable_grad() if keep else no_grad()):
        out = func(*_replace_args(args, argnums, tree_unflatten(
            [_alias(t, keep) for t in leaves], spec)), **kwargs)
        out, aux = _split_aux(out, has_aux, api)
    out_leaves, out_spec = tree_flatten(out)
    for o in out_leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: Expected f to return only tensors, got unsupported "
                               f"type {type(o)}")
    sizes = [o.numel() for o in out_leaves]
    total = sum(sizes)
    step = chunk_size or max(total, 1)
    parts: list[list] = [[] for _ in leaves]
    for start in range(0, total, step):
        rows = _jacobian_chunk(func, argnums, args, kwargs, leaves, spec, keep, has_aux, api,
                               out_leaves, sizes, start, min(step, total - start))
        for p, r in zip(parts, rows):
            p.append(r)
    jacs = []
    offset = 0
    for o, n in zip(out_leaves, sizes):
        per_input = []
        for x, p in zip(leaves, parts):
            shape = tuple(o.shape) + tuple(x.shape)
            if not p:
                per_input.append(x.new_zeros(shape))
                continue
            full = p[0] if len(p) == 1 else cat(p)
            per_input.append(full[offset:offset + n].reshape(shape))
        jacs.append(tree_unflatten(per_input, spec))
        offset += n
    jac = _finish(tree_unflatten(jacs, out_spec), keep)
    return (jac, _finish(aux, keep)) if has_aux else jac


def _jacobian_chunk(func, argnums, args, kwargs, leaves, spec, keep, has_aux, api,
                    out_leaves, sizes, start, n) -> list:
    """Rows ``start:start + n`` of the Jacobian (all outputs side by side), for each input:
    ``func`` runs batched over ``n`` copies of the inputs, and one backward pass takes the
    matching rows of the identity as the cotangents."""
    from .._creation import eye
    lvl = _batching.push_level(n, "same")
    try:
        with _level.enter(), enable_grad():
            inner = [_alias(t, keep) for t in leaves]
            out = func(*_replace_args(args, argnums, tree_unflatten(inner, spec)), **kwargs)
            out, _ = _split_aux(out, has_aux, api)
            outs = tree_flatten(out)[0]
            total = sum(sizes)
            basis = eye(total, dtype=out_leaves[0].dtype)[start:start + n] if total else None
            chosen, cots, offset = [], [], 0
            for o, size in zip(outs, sizes):
                if lvl in _batching.levels_of(o):  # else it does not depend on the inputs
                    chosen.append(o)
                    cot = basis[:, offset:offset + size].reshape((n,) + tuple(o.shape))
                    cots.append(_batching.wrap(cot.to(o.dtype), lvl))
                offset += size
            if not chosen:
                return [x.new_zeros((n,) + tuple(x.shape)) for x in leaves]
            grads = _derivatives(chosen, inner, cots, keep)
    finally:
        _batching.pop_level(lvl)
    return [g._value if type(g) is _batching.BatchedTensor and g._level is lvl
            else g.unsqueeze(0).expand((n,) + tuple(g.shape)) for g in grads]

