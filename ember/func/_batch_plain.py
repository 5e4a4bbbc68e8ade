"""Batching rules for the non-differentiable ops: comparisons, predicates, logical and
bitwise ops, ``all``/``any``/``count_nonzero``, ``argmax``/``argmin``/``argsort``, ``isin``,
``bucketize`` and ``searchsorted``; and PyTorch's refusal of the ops whose output shape
depends on the values (``nonzero``, ``unique``, ``one_hot`` without ``num_classes``).

These are plain functions that ``vmap`` sees through ``nondifferentiable``
(ember/autograd/function.py). Their results are batched tensors like any op's, so
``if (x > 0).all():`` inside ``vmap`` raises PyTorch's data-dependent control-flow error.
Unlike an op class they receive their arguments as the caller wrote them, keywords
included, so the rules with dims bind the call to the function's signature first.
"""

from __future__ import annotations

import inspect

from .._ops import _bitwise as _bw
from .._ops import elementwise as _ew
from .._ops import indexing as _ix
from .._ops import pointwise as _pw
from .._ops import reduction as _rd
from .._ops import sorting as _so
from .._ops import special_functions as _sf
from .._ops import statistics as _st
from .._tensor import Tensor
from ..autograd.function import apply_below
from ._batch_rules import _is_b, _lnd, elementwise, expand_b, shift
from ._batching import _wrap_out, register

register(_ew.eq, _ew.ne, _ew.lt, _ew.le, _ew.gt, _ew.ge,
         _pw.isnan, _pw.isinf, _pw.isfinite, _pw.isposinf, _pw.isneginf, _pw.isreal,
         _pw.signbit, _pw.heaviside,
         _bw.logical_and, _bw.logical_or, _bw.logical_xor, _bw.logical_not,
         _bw.bitwise_and, _bw.bitwise_or, _bw.bitwise_xor, _bw.bitwise_not,
         _bw.bitwise_left_shift, _bw.bitwise_right_shift, _bw.isclose, _st.gcd, _st.lcm,
         *[f for f in vars(_sf).values() if getattr(f, "nondifferentiable", False)]
         )(elementwise)


def _bind(fn, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def _call(lvl, index, fn, bound: inspect.BoundArguments):
    return _wrap_out(apply_below(index, fn, bound.args, bound.kwargs), lvl)


@register(_rd.all, _rd.any, _rd.count_nonzero)
def _reduce(lvl, index, fn, args, kwargs):
    bound = _bind(fn, args, kwargs)
    x = bound.arguments["input"]
    nd = _lnd(x, lvl)
    if nd == 0:
        return NotImplemented  # "dim 0" of a 0-d sample would name the batch dim
    dim = bound.arguments["dim"]
    if dim is None:
        dim = tuple(range(1, nd + 1))
    elif isinstance(dim, int):
        dim = shift(dim)
    else:
        dim = tuple(shift(d) for d in dim)
    bound.arguments["input"] = x._value
    bound.arguments["dim"] = dim
    return _call(lvl, index, fn, bound)


@register(_so.argmax, _so.argmin)
def _arg_extreme(lvl, index, fn, args, kwargs):
    bound = _bind(fn, args, kwargs)
    x = bound.arguments["input"]
    nd, dim = _lnd(x, lvl), bound.arguments["dim"]
    v = x._value
    if dim is None:
        if lvl.size == 0 or v.numel() == 0:
            return NotImplemented  # per sample: the empty-input error, or no sample at all
        out = apply_below(index, fn, (v.reshape(lvl.size, -1), 1), {})
        if bound.arguments["keepdim"]:
            out = out.reshape((lvl.size,) + (1,) * nd)
        return _wrap_out(out, lvl)
    if nd == 0:
        return NotImplemented
    bound.arguments["input"] = v
    bound.arguments["dim"] = shift(dim)
    return _call(lvl, index, fn, bound)


@register(_so.argsort)
def _argsort(lvl, index, fn, args, kwargs):
    bound = _bind(fn, args, kwargs)
    x = bound.arguments["input"]
    if _lnd(x, lvl) == 0:
        return NotImplemented
    bound.arguments["input"] = x._value
    bound.arguments["dim"] = shift(bound.arguments["dim"])
    return _call(lvl, index, fn, bound)


def _first_only(name: str, other: str):
    """A rule for ops elementwise in their argument ``name`` given an unbatched ``other``
    (``isin``'s test elements, ``bucketize``'s boundaries)."""
    def rule(lvl, index, fn, args, kwargs):
        bound = _bind(fn, args, kwargs)
        x = bound.arguments[name]
        if not _is_b(x, lvl) or _is_b(bound.arguments[other], lvl):
            return NotImplemented
        bound.arguments[name] = x._value
        return _call(lvl, index, fn, bound)
    return rule


register(_st.isin)(_first_only("elements", "test_elements"))
register(_so.bucketize)(_first_only("input", "boundaries"))


# -- ops whose output shape depends on the values: PyTorch's vmap refuses them ------------------
_DYNAMIC = ("vmap: We do not support batching operators that can output dynamic shape. "
            "Attempted to vmap over {}. Please file an issue at "
            "https://github.com/pytorch/pytorch/issues if you need this feature.")


def _refuse(aten: str):
    def rule(lvl, index, fn, args, kwargs):
        raise RuntimeError(_DYNAMIC.format(aten))
    return rule


register(_ix.nonzero)(_refuse("aten::nonzero"))
register(_ix._where_indices)(_refuse("aten::where"))


@register(_ix.one_hot)
def _one_hot(lvl, index, fn, args, kwargs):
    bound = _bind(fn, args, kwargs)
    if bound.arguments["num_classes"] <= 0:  # the width would come from the whole batch
        raise RuntimeError("When vmap-ing torch.nn.functional.one_hot, please provide an "
                           "explicit positive num_classes argument.")
    bound.arguments["tensor"] = expand_b(bound.arguments["tensor"], lvl)
    return _call(lvl, index, fn, bound)


@register(_so.unique)
def _unique(lvl, index, fn, args, kwargs):
    dim = _bind(fn, args, kwargs).arguments["dim"]
    raise RuntimeError(_DYNAMIC.format("aten::_unique2" if dim is None else "aten::unique_dim"))


register(_so.unique_consecutive)(_refuse("aten::unique_consecutive"))


@register(_so.searchsorted)
def _searchsorted(lvl, index, fn, args, kwargs):
    bound = _bind(fn, args, kwargs)
    seq, values, sorter = (bound.arguments[k] for k in ("sorted_sequence", "input", "sorter"))
    if not isinstance(values, Tensor):
        return NotImplemented
    rs = _lnd(seq, lvl)
    if rs <= 1 and not _is_b(seq, lvl) and not _is_b(sorter, lvl):
        bound.arguments["input"] = expand_b(values, lvl)  # one sequence: elementwise
        return _call(lvl, index, fn, bound)
    if lvl.size == 0:
        return NotImplemented
    # A sequence per sample: the N-D form, whose leading dims pair sequences with values.
    bound.arguments["sorted_sequence"] = expand_b(seq, lvl)
    if sorter is not None:
        bound.arguments["sorter"] = expand_b(sorter, lvl)
    v = expand_b(values, lvl)
    if rs <= 1:
        bound.arguments["input"] = v.reshape(lvl.size, -1)
        out = apply_below(index, fn, bound.args, bound.kwargs)
        return _wrap_out(out.reshape(tuple(v.shape)), lvl)
    bound.arguments["input"] = v
    return _call(lvl, index, fn, bound)
