"""``einsum``: Einstein summation with autograd.

Equations are parsed once per (equation, operand ranks) into explicit subscripts: each
ellipsis becomes unused letters (right-aligned, so ellipsis dims broadcast like NumPy's) and
an implicit output is made explicit. The gradient of operand k is again an einsum: of the
output gradient with the other operands, into k's subscripts. Letters only k has (summed
out) come from a ones vector, and a repeated letter (a diagonal) gets a fresh letter tied to
the first by an identity matrix, so the gradient lands on that diagonal.
"""

from __future__ import annotations

import functools
import string

from .._ops._jvp import primal
from .._ops._util import Op, Tensor, _make, xp
from ._common import type_name

__all__ = ["einsum"]

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # ASCII order, like NumPy/torch
_OPTIMIZE_MIN_SIZE = 4096  # below this NumPy's path search costs more than it saves


class _Plan:
    """A parsed equation: explicit input/output subscripts and the NumPy equation."""

    __slots__ = ("inputs", "output", "equation", "unused", "sizes")

    def __init__(self, inputs: list, output: str) -> None:
        self.inputs = inputs
        self.output = output
        self.equation = ",".join(inputs) + "->" + output
        used = set("".join(inputs))
        self.unused = "".join(c for c in _LETTERS if c not in used)
        self.sizes: dict = {}          # operand shapes -> (letter sizes, needs broadcasting)


def _error(msg: str) -> RuntimeError:
    return RuntimeError(f"einsum(): {msg}")


def _parse_term(term: str, start: int, is_output: bool = False):
    """Split one term into (letters before '...', letters after, has_ellipsis)."""
    head, tail, ellipsis, i = [], [], False, 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if ellipsis:
                where = "output" if is_output else "input operand"
                raise _error(f"found '.' for {where} but an ellipsis (...) was already found")
            if term[i:i + 3] != "...":
                raise _error(f"found '.' for {'output' if is_output else 'operand'} that is "
                             "not part of any ellipsis (...)")
            ellipsis = True
            i += 3
            continue
        if c not in _LETTERS:
            raise _error(f"invalid subscript given at index {start + i} in the equation "
                         "string, subscripts must be in [a-zA-Z]")
        (tail if ellipsis else head).append(c)
        i += 1
    return "".join(head), "".join(tail), ellipsis


@functools.lru_cache(maxsize=512)
def _plan(equation: str, ndims: tuple) -> _Plan:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(ndims):
        raise _error("fewer operands were provided than specified in the equation")
    if len(terms) < len(ndims):
        raise _error("more operands were provided than specified in the equation")
    parsed, start = [], 0
    for k, (term, nd) in enumerate(zip(terms, ndims)):
        head, tail, ell = _parse_term(term, start)
        start += len(term) + 1
        n = len(head) + len(tail)
        if not ell and n != nd:
            raise _error(f"the number of subscripts in the equation ({n}) does not match the "
                         f"number of dimensions ({nd}) for operand {k} and no ellipsis was "
                         "given")
        if ell and n > nd:
            raise _error(f"the number of subscripts in the equation ({n}) is more than the "
                         f"number of dimensions ({nd}) for operand {k}")
        parsed.append((head, tail, nd - n if ell else 0))
    letters = "".join(h + t for h, t, _ in parsed)
    free = [c for c in _LETTERS if c not in letters and c not in rhs]
    n_ell = max((e for _, _, e in parsed), default=0)
    if n_ell > len(free):
        raise _error("too many dimensions for the available subscript letters")
    ell_letters = "".join(free[:n_ell])
    inputs = [h + ell_letters[n_ell - e:] + t for h, t, e in parsed]
    if arrow:
        head, tail, ell = _parse_term(rhs, len(lhs) + 2, is_output=True)
        output = head + (ell_letters if ell else "") + tail
        for c in output:
            if output.count(c) > 1:
                raise _error(f"output subscript {c} appears more than once in the output")
            if c not in letters and c not in ell_letters:
                raise _error(f"output subscript {c} does not appear in the equation for any "
                             "input operand")
    else:
        once = sorted(c for c in set(letters) if letters.count(c) == 1)
        output = ell_letters + "".join(once)
    return _Plan(inputs, output)


def _sizes(plan: _Plan, arrays: list) -> tuple:
    """Each letter's size, checking that sizes agree or broadcast (size 1); and the arrays,
    broadcast (as views) where an operand has size 1 against a larger size. Memoised per
    operand shapes on the plan."""
    shapes = tuple(a.shape for a in arrays)
    known = plan.sizes.get(shapes)
    if known is None:
        sizes: dict = {}
        for k, (subs, shape) in enumerate(zip(plan.inputs, shapes)):
            for c, n in zip(subs, shape):
                seen = sizes.get(c)
                if seen is None or seen == 1:
                    sizes[c] = n
                elif n != seen and n != 1:
                    raise _error(f"subscript {c} has size {n} for operand {k} which does not "
                                 f"broadcast with previously seen size {seen}")
        full = tuple(tuple(sizes[c] for c in subs) for subs in plan.inputs)
        if len(plan.sizes) >= 32:
            plan.sizes.clear()
        known = plan.sizes[shapes] = sizes, (full if full != shapes else None)
    sizes, full = known
    if full is not None:
        arrays = [a if f == a.shape else xp.broadcast_to(a, f) for a, f in zip(arrays, full)]
    return sizes, arrays


class Einsum(Op):
    """d einsum(.., X_k, ..) / dX_k = einsum(g, other operands -> subscripts of X_k)"""

    node_name = "EinsumBackward0"

    @staticmethod
    def forward(ctx, plan, *operands):
        arrays = [o._data for o in operands]
        dt = arrays[0].dtype
        for a in arrays[1:]:
            if a.dtype != dt:
                raise RuntimeError(f"expected scalar type {type_name(arrays[0])} but found "
                                   f"{type_name(a)}")
        sizes, arrays = _sizes(plan, arrays)
        big = len(arrays) > 2 or sum(a.size for a in arrays) >= _OPTIMIZE_MIN_SIZE
        out = xp.asarray(xp.einsum(plan.equation, *arrays, optimize="greedy" if big else False))
        if any(xp.may_share_memory(out, a) for a in arrays):
            out = out.copy()  # NumPy returns views for pure transposes/diagonals
        ctx.plan = plan
        ctx.sizes = sizes
        ctx.save_for_backward(*operands)
        return out

    @staticmethod
    def backward(ctx, g):
        operands = ctx.saved_tensors
        need = ctx.needs_input_grad[1:]
        return (None,) + tuple(_operand_grad(ctx.plan, ctx.sizes, g, operands, k) if need[k]
                               else None for k in range(len(operands)))


    @staticmethod
    def jvp(inputs, out, tangents):
        """d einsum(X_1, .., X_n) = sum_k einsum(X_1, .., dX_k, .., X_n)"""
        plan, operands = inputs[0], [primal(o) for o in inputs[1:]]
        total = None
        for k, t in enumerate(tangents[1:]):
            if t is not None:
                term = Einsum.apply(plan, *operands[:k], t, *operands[k + 1:])
                total = term if total is None else total + term
        return total


def _operand_grad(plan: _Plan, sizes: dict, g: Tensor, operands: tuple, k: int) -> Tensor:
    terms = [plan.output] + [s for j, s in enumerate(plan.inputs) if j != k]
    # complex operands: the other factors enter conjugated (PyTorch's convention)
    tensors = [g] + [t.conj() for j, t in enumerate(operands) if j != k]
    dtype = g._data.dtype
    fresh = iter(plan.unused)
    target, seen = [], []
    for c in plan.inputs[k]:
        if c in seen:                  # a diagonal: a fresh letter tied to c by an identity
            d = next(fresh, None)
            if d is None:
                raise _error("too many subscripts to differentiate this equation")
            target.append(d)
            terms.append(c + d)
            tensors.append(_make(xp.eye(sizes[c], dtype=dtype)))
        else:
            seen.append(c)
            target.append(c)
    present = set("".join(terms))
    for c in seen:
        if c not in present:           # summed out in the forward: broadcast the gradient
            terms.append(c)
            tensors.append(_make(xp.ones(sizes[c], dtype=dtype)))
    grad = einsum(",".join(terms) + "->" + "".join(target), *tensors)
    full = tuple(sizes[c] for c in plan.inputs[k])
    # A letter of size 1 in every other operand broadcast against X_k: expand back.
    return grad if grad.shape == full else grad.expand(full)


def _from_sublists(args: tuple) -> tuple:
    """``einsum(op0, sub0, op1, sub1, ..., [out])`` with integer labels, as an equation."""
    def term(sub) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, int) and 0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise _error(f"subscript in subscript list is not within the valid range "
                             f"[0, {len(_LETTERS)})")
        return "".join(out)

    has_out = len(args) % 2 == 1
    pairs = args[:-1] if has_out else args
    equation = ",".join(term(s) for s in pairs[1::2])
    if has_out:
        equation += "->" + term(args[-1])
    return equation, pairs[0::2]


def einsum(equation, *operands) -> Tensor:
    """Sum of products over the subscripts of ``equation`` (NumPy's einsum notation:
    ``'ij,jk->ik'``, ``'ii'``, ``'...ij->...ji'``, implicit outputs; or the sublist form)."""
    if not isinstance(equation, str):
        equation, operands = _from_sublists((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    plan = _plan(equation, tuple(o.ndim for o in operands))
    return Einsum.apply(plan, *operands)
