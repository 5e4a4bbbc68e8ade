"""Batching rules for ``einsum`` and the two-operand solvers of ``linalg``.

- ``einsum``: the batch dim becomes one more letter, leading every batched operand's
  subscripts and the output's, so one einsum computes every sample.
- Solvers (``solve``, ``solve_triangular``, ``triangular_solve``, ``cholesky_solve``) and
  ``cdist``: they
  treat leading dims as batch dims already, so every operand is made batched (unbatched
  ones expanded) and the op runs once. Operands of different logical ranks would line their
  batch dims up differently, so those run per sample, except ``solve``'s matrix-vector form.
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
register(_lu.SolveTriangular, _lu.TriangularSolve, _lu.CholeskySolve,
         importlib.import_module("ember.linalg._norms").Cdist)(_solver(vector_rhs=False))
