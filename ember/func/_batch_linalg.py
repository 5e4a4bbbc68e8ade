"""Batching rules for ``einsum``, the solvers of ``linalg`` and ``matrix_rank``.

- ``einsum``: the batch dim becomes one more letter, leading every batched operand's
  subscripts and the output's, so one einsum computes every sample.
- Solvers (``solve``, ``solve_triangular``, ``triangular_solve``, ``cholesky_solve``) and
  ``cdist``: they
  treat leading dims as batch dims already, so every operand is made batched (unbatched
  ones expanded) and the op runs once. Operands of different logical ranks would line their
  batch dims up differently, so those run per sample, except ``solve``'s matrix-vector form.
  ``lu_solve`` likewise, its pivots one rank below; ``matrix_rank`` runs on the batch.
"""

from __future__ import annotations

import importlib

from .._tensor import Tensor
from ..autograd.function import apply_below
from ._batch_rules import _is_b, _lnd, expand_b
from ._batching import _wrap_out, register

_einsum = importlib.import_module("ember.linalg._einsum")
_solve = importlib.import_module("ember.linalg._solve")
_lu = importlib.import_module("ember.linalg._lu")
_spectral = importlib.import_module("ember.linalg._spectral")


@register(_einsum.Einsum)
def _einsum_rule(lvl, index, cls, args, kwargs):
    plan, operands = args[0], args[1:]
    if not plan.unused:
        return NotImplemented  # every letter taken: no letter left for the batch dim
    b = plan.unused[0]
    inputs = [b + subs if _is_b(o, lvl) else subs for o, subs in zip(operands, plan.inputs)]
    batched = _einsum._Plan(inputs, b + plan.output)
    values = tuple(o._value if _is_b(o, lvl) else o for o in operands)
    return _wrap_out(apply_below(index, cls, (batched,) + values, kwargs), lvl)


def _solver(vector_rhs: bool):
    def rule(lvl, index, cls, args, kwargs):
        ranks = [_lnd(a, lvl) for a in args if isinstance(a, Tensor)]
        same = all(r == ranks[0] for r in ranks) and ranks[0] >= 2
        if not same and not (vector_rhs and ranks == [2, 1]):
            return NotImplemented
        new = tuple(expand_b(a, lvl) if isinstance(a, Tensor) else a for a in args)
        return _wrap_out(apply_below(index, cls, new, kwargs), lvl)
    return rule


register(_solve.Solve)(_solver(vector_rhs=True))


@register(_lu.LuSolve)
def _lu_solve(lvl, index, cls, args, kwargs):
    LU, pivots, B = args[:3]
    r = _lnd(LU, lvl)
    if r < 2 or _lnd(B, lvl) != r or _lnd(pivots, lvl) != r - 1:
        return NotImplemented
    new = tuple(expand_b(a, lvl) for a in (LU, pivots, B)) + tuple(args[3:])
    return _wrap_out(apply_below(index, cls, new, kwargs), lvl)
register(_lu.SolveTriangular, _lu.TriangularSolve, _lu.CholeskySolve,
         importlib.import_module("ember.linalg._norms").Cdist)(_solver(vector_rhs=False))


@register(_spectral.matrix_rank)
def _rank(lvl, index, fn, args, kwargs):
    # Leading dims are batch dims already: one call on the batch, unless a tolerance is
    # batched too.
    A, rest = args[0], args[1:] + tuple(kwargs.values())
    if not _is_b(A, lvl) or _lnd(A, lvl) < 2 or any(_is_b(a, lvl) for a in rest):
        return NotImplemented
    return _wrap_out(apply_below(index, fn, (A._value,) + args[1:], kwargs), lvl)
