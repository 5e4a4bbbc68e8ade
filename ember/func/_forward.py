"""Forward-mode transforms: ``jvp``, ``linearize``, ``jacfwd`` and ``hessian``.

``jvp`` opens a private forward-AD level (``autograd.forward_ad._enter``), makes each primal
a dual tensor carrying its tangent, runs the function once, and reads the outputs' tangents:
one pass, the ops' ``jvp`` rules doing the work. Levels nest, so ``jvp(jvp(f))`` and
``jacfwd(jacfwd(f))`` work, and since the backward formulas are Tensor ops, tangents flow
through a reverse pass run inside (``jacfwd(jacrev(f))``, Hessian-vector products).

``jacfwd`` pushes the standard basis through ``jvp`` under ``vmap``: one batched forward pass
(one pass per column inside another forward-mode transform, and where vmap falls back to
running per sample).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .._tensor import Tensor
from ..autograd import forward_ad as _fwad
from ..autograd.grad_mode import enable_grad
from . import _level
from ._autodiff import _check_argnums, _finish, _needs_graph, _replace_args, _slice_args
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["jvp", "linearize", "jacfwd", "hessian"]

_JVP = "jvp(f, primals, tangents)"


def _check_leaves(leaves: list, what: str) -> None:
    if not leaves:
        raise RuntimeError(f"{_JVP}: Expected {what} to contain at least one Tensor.")
    for t in leaves:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"{_JVP}: Expected {what} to only contain Tensors, got "
                               f"{type(t)}")


def _split_aux(out, has_aux: bool):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{_JVP}: output of function f should be a tuple: (output, aux) "
                           "if has_aux is True")
    for a in tree_flatten(out[1])[0]:
        if not isinstance(a, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(a)}")
    return out


def _strip(tree, level) -> None:
    """Drop ``level``'s tangents from the tensors of ``tree`` (the level is closing)."""
    for t in tree_flatten(tree)[0]:
        if isinstance(t, Tensor):
            _fwad.set_tangent(t, None, level)


def jvp(func: Callable, primals: tuple, tangents: tuple, *, strict: bool = False,
        has_aux: bool = False):
    """``(func(*primals), J @ tangents)``, by forward mode: one pass of ``func`` on dual
    tensors. ``primals`` and ``tangents`` are tuples (of pytrees) of the same structure; with
    ``has_aux`` ``func`` returns ``(output, aux)`` and ``aux`` is returned third.

    Example::

        >>> out, jv = ember.func.jvp(ember.exp, (x,), (v,))      # jv == x.exp() * v
    """
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid "
                           "to call f(*primals).")
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, "
                           "tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    _check_leaves(p_leaves, "primals")
    _check_leaves(t_leaves, "tangents")
    keep = _needs_graph(p_leaves + t_leaves)
    with _level.enter(), enable_grad():
        level = _fwad._enter(public=False)
        try:
            duals = [_fwad._make_dual(p, t, level) for p, t in zip(p_leaves, t_leaves)]
            out = func(*tree_unflatten(duals, p_spec))
            out, aux = _split_aux(out, has_aux)
            out_leaves, out_spec = tree_flatten(out)
            jv = []
            for o in out_leaves:
                if not isinstance(o, Tensor):
                    raise RuntimeError(f"{_JVP}: expected f(*primals) to return only tensors, "
                                       f"got unsupported type {type(o)}")
                t = _fwad._tangent_at(o, level)
                jv.append(t if t is not None else o.new_zeros(o.shape))
            _strip(out, level)
            _strip(aux, level)
        finally:
            _fwad._exit(level)
    result = (_finish(out, keep), _finish(tree_unflatten(jv, out_spec), keep))
    return result + (_finish(aux, keep),) if has_aux else result


def linearize(func: Callable, *primals) -> tuple:
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is ``J @ tangents`` at ``primals``
    (each call runs one forward-mode pass of ``func``)."""
    p_leaves, p_spec = tree_flatten(primals)
    out = jvp(func, primals, tuple(x.new_zeros(x.shape) if isinstance(x, Tensor) else x
                                   for x in primals))[0]

    def jvp_fn(*tangents):
        t_leaves, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argspec as "
                               f"the primals {p_spec}")
        for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
            if tuple(p.shape) != tuple(t.shape):
                raise RuntimeError(f"tangent:{i} with shape {t.shape} in flattened pytree "
                                   f"doesn't match the shape {p.shape} of the corresponding "
                                   "primal.")
            if p.dtype != t.dtype:
                raise RuntimeError(f"tangent:{i} with dtype {t.dtype} in flattened pytree "
                                   f"doesn't match the dtype {p.dtype} of the corresponding "
                                   "primal.")
        return jvp(func, primals, tangents)[1]

    return out, jvp_fn


def _basis(leaves: list) -> list[Tensor]:
    """The standard basis of the inputs' joint space, split per input: leaf ``i`` gets a
    ``(N, *leaf.shape)`` tangent, N the inputs' total size (row k: direction k)."""
    from .._creation import eye
    sizes = [x.numel() for x in leaves]
    n = sum(sizes)
    basis = []
    start = 0
    for x, size in zip(leaves, sizes):
        block = eye(n, dtype=x.dtype)[:, start:start + size]
        basis.append(block.reshape((n,) + tuple(x.shape)))
        start += size
    return basis


def _columns_to_jacobian(batched: Tensor, leaves: list) -> list[Tensor]:
    """Split the pushed-forward basis ``(N, *out.shape)`` into one Jacobian per input, each
    shaped ``out.shape + input.shape``."""
    out_shape = tuple(batched.shape[1:])
    out_numel = batched[0].numel()
    jacs = []
    start = 0
    for x in leaves:
        size = x.numel()
        cols = batched[start:start + size]                  # (size, *out.shape)
        start += size
        cols = cols.reshape((size, out_numel)).t()          # (out numel, size)
        jacs.append(cols.reshape(out_shape + tuple(x.shape)))
    return jacs


def _stack_columns(columns: list):
    """What ``vmap(push)`` gives, from the per-column results: each leaf stacked."""
    from .._ops import stack
    specs = [tree_flatten(c) for c in columns]
    leaves = [stack([s[0][j] for s in specs]) for j in range(len(specs[0][0]))]
    return tree_unflatten(leaves, specs[0][1])


def jacfwd(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable:
    """The Jacobian of ``func`` w.r.t. ``args[argnums]`` by forward mode, laid out like
    ``jacrev``'s: for each output leaf, ``output.shape + input.shape`` (a pytree of them
    when ``argnums`` is a tuple or selects a pytree). The basis tangents go through ``jvp``
    under ``vmap``. ``randomness`` is vmap's.

    Example::

        >>> ember.func.jacfwd(lambda x: x.exp())(x)       # == torch.diag(x.exp())
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError("Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    from ._vmap import vmap

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _check_argnums(argnums, len(args))
        leaves, spec, _ = _slice_args(args, argnums)
        _check_leaves(leaves, "primals")

        def partial(*inputs):
            return func(*_replace_args(args, argnums, tree_unflatten(list(inputs), spec)),
                        **kwargs)

        def push(*basis_rows):
            res = jvp(partial, tuple(leaves), tuple(basis_rows), has_aux=has_aux)
            return (res[1], res[2]) if has_aux else res[1]

        basis = _basis(leaves)
        with _level.enter():
            if _fwad._open[0]:
                # Inside another forward-mode transform (jacfwd(jacfwd(f))): vmap's batched
                # tensors would not carry the outer level's tangents, so one pass per column.
                pushed = _stack_columns([push(*(b[k] for b in basis))
                                         for k in range(basis[0].shape[0])])
            else:
                pushed = vmap(push, randomness=randomness)(*basis)
        columns, aux = pushed if has_aux else (pushed, None)
        col_leaves, out_spec = tree_flatten(columns)    # each (N, *output.shape)
        rows = [_columns_to_jacobian(c, leaves) for c in col_leaves]
        keep = _needs_graph(leaves)
        jac = _finish(tree_unflatten([tree_unflatten(r, spec) for r in rows], out_spec), keep)
        if has_aux:  # the same in every column: the first one's
            aux_leaves, aux_spec = tree_flatten(aux)
            aux = _finish(tree_unflatten([a[0] for a in aux_leaves], aux_spec), keep)
        return (jac, aux) if has_aux else jac

    return wrapper


def hessian(func: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The Hessian of the scalar ``func`` w.r.t. ``args[argnums]``: ``jacfwd(jacrev(f))``,
    forward mode over reverse mode, as in PyTorch."""
    from ._autodiff import jacrev
    return jacfwd(jacrev(func, argnums), argnums)
