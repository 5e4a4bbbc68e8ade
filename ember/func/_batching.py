"""Batched tensors: how ``vmap`` carries the batch dimension through every op.

Inside ``vmap`` each mapped input becomes a ``BatchedTensor``: its *value* is an ordinary
tensor holding the whole batch with the mapped dimension moved to the front, and the
wrapper presents the *logical* per-sample tensor (``shape``, ``dim()``, ``dtype`` are a
sample's). A handler on ``Function.apply``'s interception point (one per vmap level,
docs/internals.md "Transforms see every op") sees each op with a batched argument, looks up
the op class's batching rule (``_batch_rules``, ``_batch_nn``) and runs the op once on the
physical values; an op without a rule runs once per sample (with PyTorch's performance
warning) and the results are stacked.

Nested vmaps nest wrappers: the value of a level-2 ``BatchedTensor`` may itself be batched
at level 1. Each level's handler unwraps only its own level and passes the op on with
``apply_below``, so the next (outer) level sees the op on its own batched values.

Code that reads a batched tensor's array directly, without an op (``x._data``), gets a
*stand-in*: an array with the sample's shape and dtype whose values cannot be read. Reading
them raises ``Unbatchable``, and ``vmap`` then runs the whole function once per sample
(again with the warning): slower, never wrong.
"""

from __future__ import annotations

import sys
import threading
import warnings

import numpy as np

from .. import _creation
from .._ops import inplace as _inplace
from .._tensor import Tensor
from ..autograd import function as _function

__all__ = ["BatchedTensor", "Unbatchable", "Level", "active_levels", "wrap", "unwrap",
           "is_batched_at", "performance_warning"]

#: vmap's place among the interceptors: after forward AD (0), before the ONNX tracer (20).
PRIORITY = 10


class Unbatchable(BaseException):
    """Raised where the batched path cannot go on; ``vmap`` reruns per sample. A
    BaseException so that no ``except Exception`` inside ember swallows it."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def performance_warning(what: str) -> None:
    warnings.warn(f"There is a performance drop because we have not yet implemented the "
                  f"batching rule for {what}. Please file us an issue on GitHub so that we can "
                  "prioritize its implementation.", UserWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The stack level of the first frame outside ember (where the warning points)."""
    f, level = sys._getframe(2), 2
    while f is not None and f.f_code.co_filename.startswith(_EMBER_DIR):
        f, level = f.f_back, level + 1
    return level


# -- levels ---------------------------------------------------------------------------------
class Level:
    """One active ``vmap`` call: its batch size and its randomness mode."""

    __slots__ = ("size", "randomness", "depth", "handler", "fell_back", "rng_known", "thread")

    def __init__(self, size: int, randomness: str, depth: int) -> None:
        self.size = size
        self.randomness = randomness
        self.depth = depth
        self.fell_back: list[str] = []
        #: The default generator's fingerprint after the last draw this level accounted for
        #: (a batched random fill); None where draws are not checked ('same').
        self.rng_known = None
        self.thread = threading.get_ident()  # random factories of other threads stay plain
        lvl = self

        def handler(cls, args, kwargs, index):
            return _handle(lvl, cls, args, kwargs, index)
        self.handler = handler


_levels: list[Level] = []


def active_levels() -> list[Level]:
    """The active vmap levels, outermost first."""
    return _levels


def push_level(size: int, randomness: str) -> Level:
    _inplace.batched_writer[0] = _batched_write
    _creation.batched_random[0] = _random_factory
    lvl = Level(size, randomness, len(_levels))
    _levels.append(lvl)
    # An inner level sees each op before the outer ones: it unwraps its dimension first.
    _function.push_interceptor(lvl.handler, PRIORITY - 1e-3 * lvl.depth)
    return lvl


def pop_level(lvl: Level) -> None:
    _function.pop_interceptor(lvl.handler)
    _levels.remove(lvl)
    if not _levels:
        _inplace.batched_writer[0] = None
        _creation.batched_random[0] = None


# -- the stand-in array ---------------------------------------------------------------------
# NumPy functions that look only at shape and dtype: a stand-in answers them as a sample.
_META_FUNCS = {np.full_like, np.zeros_like, np.ones_like, np.empty_like, np.shape, np.ndim,
               np.size, np.result_type, np.can_cast, np.broadcast_shapes, np.may_share_memory,
               np.shares_memory}


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "writeable", "aligned", "owndata")

    def __init__(self, ndim: int) -> None:
        self.c_contiguous = self.writeable = self.aligned = self.owndata = True
        self.f_contiguous = ndim <= 1


class _StandIn:
    """A batched tensor's ``_data``: the shape, dtype and strides of one fresh (C-contiguous)
    sample, and no values. NumPy sees it through ``__array__`` and the dispatch protocols,
    which raise ``Unbatchable`` (so nothing, not even ``np.asarray`` or SciPy, can compute
    on made-up values), except for functions of shape and dtype alone (``zeros_like`` gives
    an unbatched array, as it would be in effect under PyTorch's vmap)."""

    __slots__ = ("shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags",
                 "_owner")
    base = None
    # ``isinstance(s, ndarray)`` holds (code picks the array operand that way); NumPy's own
    # C-level checks still see a foreign object and go through ``__array__``.
    __class__ = property(lambda self: np.ndarray)

    def __init__(self, shape: tuple, dtype, owner) -> None:
        self.shape = shape
        self.dtype = dtype
        self.ndim = len(shape)
        n = 1
        for d in shape:
            n *= d
        self.size = n
        self.itemsize = dtype.itemsize
        self.nbytes = n * dtype.itemsize
        strides, step = [], dtype.itemsize
        for d in reversed(shape):
            strides.append(step)
            step *= max(d, 1)
        self.strides = tuple(reversed(strides))
        self.flags = _Flags(self.ndim)
        self._owner = owner

    def _refuse(self, *a, **k):
        raise Unbatchable(_caller())

    def batched_like(self, make):
        """The ``*_like`` factories of a batched tensor: ``make(physical array)`` gives the
        physical result, batched like the owner (as PyTorch's ``zeros_like`` is)."""
        owner = self._owner
        return from_physical(make(physical(owner)._data), levels_of(owner))

    def fill_batched(self, fill):
        """An in-place random fill of a batched tensor (see ``_fill_batched``)."""
        return _fill_batched(self._owner, fill)

    def alias(self, alias_physical):
        """``_ops.inplace._alias`` of the owner: the same level over an alias of its value
        (same storage, version counter and graph position)."""
        return wrap(alias_physical(self._owner._value), self._owner._level)

    def physical_tensor(self):
        """The plain tensor under all of the owner's levels (what the ops saw)."""
        return physical(self._owner)

    def all_samples(self):
        """Every sample's values, batch dims first: for input checks that hold elementwise
        (index bounds), never for computing (``ember._ops._util.check_values``)."""
        return physical(self._owner)._data

    def __array__(self, dtype=None, copy=None):
        raise Unbatchable(_caller())

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise Unbatchable(_caller())

    def __array_function__(self, func, types, args, kwargs):
        if func in _META_FUNCS:
            args = tuple(np.zeros(a.shape, a.dtype) if type(a) is _StandIn else a
                         for a in args)
            return func(*args, **kwargs)
        raise Unbatchable(_caller())

    def __getattr__(self, name):
        raise Unbatchable(_caller())

    __getitem__ = __setitem__ = __iter__ = __bool__ = __float__ = __int__ = __index__ = _refuse
    __len__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __eq__ = __ne__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __abs__ = _refuse
    __invert__ = __and__ = __or__ = __xor__ = __floordiv__ = __mod__ = _refuse
    __hash__ = object.__hash__


def _fill_batched(owner, fill):
    """``uniform_``, ``bernoulli_``... of a batched tensor (``empty_like(x).bernoulli_(p)`` is
    how dropout draws its mask). With ``randomness='different'``: one draw over the whole
    batch in its physical layout, as PyTorch draws it; with ``'same'``: one sample's draw,
    written to every sample; with ``'error'``: PyTorch's error."""
    from ._vmap import _RANDOM_ERROR, _rng_fingerprint
    levels = levels_of(owner)
    modes = {lv.randomness for lv in levels}
    if "error" in modes:
        raise RuntimeError(_RANDOM_ERROR)
    if len(modes) != 1 or owner._requires_grad:
        raise Unbatchable("a random fill of a batched tensor")
    p = physical(owner)
    if modes == {"same"}:
        sample = p[(0,) * len(levels)].clone()
        fill(sample)
        p._data[...] = sample._data
        p._bump_version()
        return owner
    if any(lv.rng_known is not None and lv.rng_known != _rng_fingerprint() for lv in levels):
        raise Unbatchable("randomness='different'")  # an unbatched draw came before
    fill(p)
    known = _rng_fingerprint()
    for lv in levels:
        lv.rng_known = known
    return owner


def _random_factory(draw, size: tuple):
    """``rand(3)`` and the other random factories inside ``vmap``: with one level, in
    ``randomness='different'`` mode, one draw of shape ``(batch, *size)``, batched, as
    PyTorch draws it. None (a plain draw) otherwise: ``'same'`` wants one sample's numbers,
    ``'error'`` raises when the function returns, and nested levels run per sample."""
    from ._vmap import _rng_fingerprint
    if (len(_levels) != 1 or _levels[0].randomness != "different"
            or _levels[0].thread != threading.get_ident()):
        return None
    lvl = _levels[0]
    if lvl.rng_known != _rng_fingerprint():
        return None  # an unbatched draw came before: the whole function runs per sample
    out = draw((lvl.size,) + tuple(size))
    lvl.rng_known = _rng_fingerprint()
    return wrap(out, lvl)


def _stands_at(a, lvl) -> bool:
    return type(a) is _StandIn and a._owner is not None and a._owner._level is lvl


_EMBER_DIR = __file__.rsplit("/", 2)[0] + "/"


def _caller() -> str:
    """The ember function the user called that read a batched tensor's values (named in the
    fallback warning): the outermost ember frame below the user's code."""
    f = sys._getframe(1)
    name = None
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith(_EMBER_DIR) and "/func/" not in fn:
            name = f.f_code.co_name
        elif name is not None:
            break
        f = f.f_back
    return f"aten::{(name or 'unknown').strip('_')}"


# -- the batched tensor -------------------------------------------------------------------------
_ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
         "calling .item() on a Tensor, please try to rewrite what you're doing with other "
         "operations. If error is occurring somewhere inside PyTorch internals, please file a "
         "bug report.")
_CONTROL = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent "
            "control flow. We don't support that yet, please file an issue at "
            "https://github.com/pytorch/pytorch/issues .")
_STORAGE = "Cannot access data pointer of Tensor that doesn't have storage"


def _get_data(self):
    s = self._stand
    if s is None:
        v = self._value
        s = self._stand = _StandIn(tuple(v.shape)[1:], _dtype_of(v), self)
    return s


def _set_data(self, value) -> None:
    # ``t._data = other._data`` (the in-place view ops: ``squeeze_``, ``t_``...) with
    # ``other`` batched at the same level: ``t`` takes over its values.
    if type(value) is _StandIn and value._owner is not None and value._owner._level is self._level:
        self._value = value._owner._value
        self._stand = None
        return
    raise Unbatchable("a write to a batched tensor's data")


def _dtype_of(v):
    d = v._data
    return d.dtype


class BatchedTensor(Tensor):
    """A tensor batched at one vmap level (see the module docstring)."""

    __slots__ = ("_value", "_level", "_stand")

    _data = property(_get_data, _set_data)

    def __repr__(self) -> str:
        return (f"BatchedTensor(lvl={self._level.depth + 1}, bdim=0, "
                f"value=\n{self._value!r}\n)")

    __str__ = __repr__

    def item(self):
        raise RuntimeError(_ITEM)

    __float__ = __int__ = __complex__ = item

    def __bool__(self) -> bool:
        raise RuntimeError(_CONTROL)

    def __index__(self) -> int:
        raise RuntimeError(_CONTROL)

    def tolist(self):
        raise RuntimeError(_STORAGE)

    def numpy(self, *, force: bool = False):
        raise RuntimeError(_STORAGE)

    def data_ptr(self) -> int:
        raise RuntimeError(_STORAGE)

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError(_STORAGE)

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter([self[i] for i in range(self.shape[0])])

    def detach(self) -> Tensor:
        return wrap(self._value.detach(), self._level)

    def is_contiguous(self, memory_format=None) -> bool:
        return True

    def __reduce_ex__(self, protocol):
        raise RuntimeError(_STORAGE)


def wrap(value: Tensor, lvl: Level) -> BatchedTensor:
    """A tensor batched at ``lvl`` whose batch is ``value``'s dim 0."""
    t = object.__new__(BatchedTensor)
    t._value = value
    t._level = lvl
    t._stand = None
    t._requires_grad = value._requires_grad
    t.grad_fn = value.grad_fn
    t._grad = None
    t._output_nr = value._output_nr
    t._vc = None
    t._base = None
    t._acc = None
    t._extra = None
    return t


def unwrap(t, lvl: Level):
    """``(value, True)`` for a tensor batched at ``lvl``, else ``(t, False)``."""
    if type(t) is BatchedTensor and t._level is lvl:
        return t._value, True
    return t, False


def is_batched_at(t, lvl: Level) -> bool:
    return type(t) is BatchedTensor and t._level is lvl


def _wrap_out(out, lvl: Level):
    if isinstance(out, Tensor):
        return wrap(out, lvl)
    if isinstance(out, tuple):
        return tuple(wrap(o, lvl) if isinstance(o, Tensor) else o for o in out)
    if isinstance(out, list):
        return [wrap(o, lvl) if isinstance(o, Tensor) else o for o in out]
    return out


# -- in-place writes ---------------------------------------------------------------------------
_VMAP_INPLACE = (
    "vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a Tensor "
    "`other` in extra_args that has more elements than `self`. This happened due to `other` "
    "being vmapped over but `self` not being vmapped over in a vmap. Please try to use "
    "out-of-place operators instead of inplace arithmetic. If said operator is being called "
    "inside the PyTorch framework, please file a bug report instead.")


def _copy_physical(dst, src) -> None:
    from .._ops.inplace import copy_
    from ._batch_rules import pad
    dv = dst._value
    if type(src) is BatchedTensor:
        if src._level is not dst._level:
            raise Unbatchable("an in-place operation across vmap levels")
        src = pad(src._value, dv.dim() - 1)
    if src.dtype != dv.dtype and src.dtype.is_floating_point and not dv.dtype.is_floating_point:
        raise Unbatchable("an in-place operation changing dtype")
    copy_(dv, src)


def _batched_write(dst, src, is_copy: bool) -> bool:
    """``_ops.inplace``'s writes (``batched_writer``): a write into a batched tensor is done
    on its physical values; writing batched values into an unbatched tensor is PyTorch's
    error (the broadcast-shape one for arithmetic such as ``y.add_(x)``, which sees the batch
    dim). False: no batched tensor involved, the plain write proceeds."""
    if type(dst) is BatchedTensor:
        _copy_physical(dst, src)
        return True
    if type(src) is not BatchedTensor:
        return False
    if not is_copy:
        shape = np.broadcast_shapes(tuple(physical(src).shape), tuple(dst.shape))
        raise RuntimeError(f"output with shape [{', '.join(map(str, dst.shape))}] doesn't "
                           f"match the broadcast shape [{', '.join(map(str, shape))}]")
    raise RuntimeError(_VMAP_INPLACE)


# -- the handler --------------------------------------------------------------------------------
_RULES: dict = {}


def register(*classes):
    """Decorator: ``rule(lvl, index, cls, args, kwargs)`` is the batching rule of ``classes``."""
    def deco(rule):
        for c in classes:
            _RULES[c] = rule
        return rule
    return deco


_LOADED: list = []


def _load_rules() -> None:
    if not _LOADED:
        _LOADED.append(True)
        from . import _batch_linalg, _batch_nn, _batch_plain, _batch_rules  # noqa: F401


def _mentions(args, lvl: Level) -> bool:
    for a in args:
        t = type(a)
        if t is BatchedTensor:
            if a._level is lvl:
                return True
        elif t is tuple or t is list:
            for b in a:
                if type(b) is BatchedTensor and b._level is lvl or _stands_at(b, lvl):
                    return True
        elif _stands_at(a, lvl):
            return True
    return False


def _handle(lvl: Level, cls, args: tuple, kwargs: dict, index: int):
    if not _mentions(args, lvl) and not (kwargs and _mentions(tuple(kwargs.values()), lvl)):
        return NotImplemented
    rule = _RULES.get(cls)
    if rule is None:
        _load_rules()
        rule = _RULES.get(cls)
    if rule is not None:
        out = rule(lvl, index, cls, args, kwargs)
        if out is not NotImplemented:
            return out
    return loop_op(lvl, index, cls, args, kwargs)


def _op_name(cls) -> str:
    name = cls.__qualname__
    snake = "".join("_" + c.lower() if c.isupper() and i else c.lower()
                    for i, c in enumerate(name))
    return f"aten::{snake}"


def _sample(a, lvl: Level, b: int):
    if type(a) is BatchedTensor and a._level is lvl:
        return a._value.select(0, b) if b >= 0 else a._value.new_zeros(a._value.shape[1:])
    if _stands_at(a, lvl):
        v = a._owner._value
        return (v.select(0, b) if b >= 0 else v.new_zeros(v.shape[1:]))._data
    if type(a) is tuple or type(a) is list:
        return type(a)(_sample(x, lvl, b) for x in a)
    return a


def loop_op(lvl: Level, index: int, cls, args: tuple, kwargs: dict):
    """The fallback: run the op once per sample and stack (with PyTorch's warning)."""
    from .._ops import stack
    name = _op_name(cls)
    if name not in lvl.fell_back:
        lvl.fell_back.append(name)
    performance_warning(name)
    if lvl.size == 0:
        # No sample to run: run on zeros for the output's shape, then keep none of it.
        out = _function.apply_below(index, cls, tuple(_sample(a, lvl, -1) for a in args),
                                    {k: _sample(v, lvl, -1) for k, v in kwargs.items()})
        return _map_out(out, lambda o: wrap(o.unsqueeze(0)[:0], lvl))
    outs = [_function.apply_below(index, cls, tuple(_sample(a, lvl, b) for a in args),
                                  {k: _sample(v, lvl, b) for k, v in kwargs.items()})
            for b in range(lvl.size)]
    first = outs[0]
    if isinstance(first, Tensor):
        return wrap(stack(outs), lvl)
    return type(first)(wrap(stack([o[j] for o in outs]), lvl) if isinstance(f, Tensor) else f
                       for j, f in enumerate(first))


def _map_out(out, fn):
    if isinstance(out, Tensor):
        return fn(out)
    return type(out)(fn(o) if isinstance(o, Tensor) else o for o in out)


# -- between logical and physical, across levels (used by grad/vjp/jacrev under vmap) --------
def levels_of(t) -> list[Level]:
    """The levels ``t`` is batched at, outermost first (the order of its physical dims)."""
    chain = []
    while type(t) is BatchedTensor:
        chain.append(t._level)
        t = t._value
    chain.reverse()
    return chain


def physical(t) -> Tensor:
    """The plain tensor under all of ``t``'s wrappers (its batch dims first, outermost
    first)."""
    while type(t) is BatchedTensor:
        t = t._value
    return t


def to_physical(t, levels: list[Level]) -> Tensor:
    """``t``'s physical tensor with a batch dim for each of ``levels`` (outermost first),
    expanding those it is not batched at; Unbatchable if it is batched at another level."""
    have = levels_of(t)
    if any(lv not in levels for lv in have):
        raise Unbatchable("a transform of a value batched at an enclosing vmap level")
    p = physical(t)
    for i, lv in enumerate(levels):
        if lv not in have:
            p = p.unsqueeze(i)
            p = p.expand(tuple(p.shape[:i]) + (lv.size,) + tuple(p.shape[i + 1:]))
    return p


def from_physical(p: Tensor, levels: list[Level]) -> Tensor:
    """The logical tensor for a physical one with one batch dim per level (outer first)."""
    for lv in levels:
        p = wrap(p, lv)
    return p
