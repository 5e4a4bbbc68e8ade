"""What the functional optimizer kernels share: in-place primitives and the flag checks.

Each algorithm's kernel (``adam`` in ``adam.py``, ``sgd`` in ``sgd.py``, ...) is written once,
as a per-parameter update in PyTorch's in-place vocabulary (``lerp_``, ``addcmul_``,
``addcdiv_``, ...), against one of two primitive sets:

* :class:`ArrayOps` computes on the parameters' and states' NumPy arrays in place. This is
  the fast path (no graph is recorded; the parameter's version counter is bumped after).
* :class:`TensorOps` calls the Tensor in-place methods, so that with ``differentiable=True``
  (the step runs with grad mode on) autograd records the update, as PyTorch does.

Both take and return whatever they were given (arrays or Tensors), so one kernel body serves
both. :func:`run_kernel` drives a kernel over a parameter group: it bumps the step counters,
and on the array path batches small parameters into one call on their concatenation (the
multi-tensor path ``foreach``/``fused`` ask for; ``foreach=False`` keeps the plain loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make

__all__ = ["ArrayOps", "TensorOps", "primitives", "run_kernel", "direction", "rdiv32",
           "check_capturable", "check_foreach", "check_fused_flags", "unscale_grads"]


class ArrayOps:
    """The primitives on NumPy arrays; ``x_`` forms write into their first argument.

    An instance serves one kernel call: the short-lived temporaries inside a primitive (the
    ``b - a`` of ``lerp_``, ...) reuse one scratch array, which stays in cache between the
    primitives of a parameter's update. :meth:`release` drops it after each parameter, so
    the next parameter's scratch reuses the just-freed (warm) memory."""

    differentiable = False

    def __init__(self) -> None:
        self._buf = None

    def release(self) -> None:
        self._buf = None

    def _tmp(self, a):
        buf = self._buf
        if buf is None or buf.shape != a.shape or buf.dtype != a.dtype:
            buf = self._buf = xp.empty_like(a)
        return buf

    @staticmethod
    def unwrap(t: Tensor | None):
        return None if t is None else t._data

    # -- new values ---------------------------------------------------------------------
    @staticmethod
    def neg(a):
        return xp.negative(a, out=xp.empty_like(a))

    @staticmethod
    def add(a, b, alpha: float = 1.0):
        """``a + alpha*b`` as a new array."""
        if alpha == 1:
            return xp.add(a, b, out=xp.empty_like(a))
        out = xp.multiply(b, alpha, out=xp.empty_like(a))
        return xp.add(out, a, out=out)

    @staticmethod
    def mul(a, b):
        return xp.multiply(a, b, out=xp.empty_like(a))

    @staticmethod
    def div(a, b):
        return xp.divide(a, b, out=xp.empty_like(a))

    @staticmethod
    def sqrt(a):
        return xp.sqrt(a, out=xp.empty_like(a))

    @staticmethod
    def abs(a):
        return xp.abs(a, out=xp.empty_like(a))

    @staticmethod
    def sign(a):
        return xp.sign(a, out=xp.empty_like(a))

    @staticmethod
    def clone(a):
        return a.copy()

    @staticmethod
    def where(cond, a, b):
        return xp.where(cond, a, b)

    # -- in place -----------------------------------------------------------------------
    @staticmethod
    def mul_(a, b):
        return xp.multiply(a, b, out=a)

    @staticmethod
    def div_(a, b):
        return xp.divide(a, b, out=a)

    def add_(self, a, b, alpha: float = 1.0):
        if alpha == 1:
            return xp.add(a, b, out=a)
        return xp.add(a, xp.multiply(b, alpha, out=self._tmp(a)), out=a)

    def addcmul_(self, a, b, c, value: float = 1.0):
        t = xp.multiply(b, c, out=self._tmp(a))
        if value != 1:
            xp.multiply(t, value, out=t)
        return xp.add(a, t, out=a)

    def addcdiv_(self, a, b, c, value: float = 1.0):
        t = self._tmp(a)
        if value != 1:
            xp.divide(xp.multiply(b, value, out=t), c, out=t)
        else:
            xp.divide(b, c, out=t)
        return xp.add(a, t, out=a)

    def lerp_(self, a, b, weight: float):
        t = xp.subtract(b, a, out=self._tmp(a))
        xp.multiply(t, weight, out=t)
        return xp.add(a, t, out=a)

    @staticmethod
    def maximum_(a, b):
        return xp.maximum(a, b, out=a)

    @staticmethod
    def clamp_(a, lo=None, hi=None):
        return xp.clip(a, lo, hi, out=a)

    @staticmethod
    def copy_(a, b):
        a[...] = b
        return a


class TensorOps:
    """The same primitives as Tensor method calls, recorded by autograd under grad mode."""

    differentiable = True

    @staticmethod
    def unwrap(t):
        return t

    @staticmethod
    def release() -> None:
        pass

    neg = staticmethod(lambda a: a.neg())
    mul = staticmethod(lambda a, b: a.mul(b))
    div = staticmethod(lambda a, b: a.div(b))
    # kernels may write into what sqrt returns; sqrt's backward saves its output, so the
    # recorded path hands out a copy
    sqrt = staticmethod(lambda a: a.sqrt().clone())
    abs = staticmethod(lambda a: a.abs())
    sign = staticmethod(lambda a: a.sign())
    clone = staticmethod(lambda a: a.clone())
    mul_ = staticmethod(lambda a, b: a.mul_(b))
    div_ = staticmethod(lambda a, b: a.div_(b))
    # (maximum saves its inputs: compare a copy of ``a``, which the copy_ leaves intact)
    maximum_ = staticmethod(lambda a, b: a.copy_(a.clone().maximum(b)))
    copy_ = staticmethod(lambda a, b: a.copy_(b))

    @staticmethod
    def add(a, b, alpha: float = 1.0):
        return a.add(b, alpha=alpha) if isinstance(b, Tensor) else a.add(b * alpha)

    @staticmethod
    def where(cond, a, b):
        from .. import where

        return where(cond, a, b)

    @staticmethod
    def add_(a, b, alpha: float = 1.0):
        return a.add_(b, alpha=alpha) if isinstance(b, Tensor) else a.add_(b * alpha)

    @staticmethod
    def addcmul_(a, b, c, value: float = 1.0):
        return a.addcmul_(b, c, value=value)

    @staticmethod
    def addcdiv_(a, b, c, value: float = 1.0):
        return a.addcdiv_(b, c, value=value)

    @staticmethod
    def lerp_(a, b, weight: float):
        return a.lerp_(b, weight)

    @staticmethod
    def clamp_(a, lo=None, hi=None):
        return a.clamp_(lo, hi)


def primitives(differentiable: bool) -> ArrayOps | type[TensorOps]:
    """The primitive set a kernel call runs on: Tensors (recorded) when ``differentiable``."""
    return TensorOps if differentiable else ArrayOps()


#: Where PyTorch allows ``capturable=True``; never on CPU, which is all ember has.
_CAPTURABLE_DEVICES = ["cuda", "xpu", "hpu", "privateuseone", "xla"]


def check_capturable(capturable: bool, what: str = "params and state_steps",
                     devices: Sequence[str] = _CAPTURABLE_DEVICES) -> None:
    """PyTorch's check when a step runs with ``capturable=True`` on CPU tensors."""
    if capturable:
        raise AssertionError(f"If capturable=True, {what} must be on supported devices: "
                             f"{list(devices)}.")


def check_foreach(foreach: bool | None, differentiable: bool) -> None:
    """The multi-tensor path has no autograd support (PyTorch's ``_foreach`` ops)."""
    if foreach and differentiable:
        raise AssertionError("_foreach ops don't support autograd")


def check_fused_flags(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """The constructor checks PyTorch makes for ``fused=True``."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def unscale_grads(grads: list[Tensor], grad_scale: Tensor | None,
                  found_inf: Tensor | None) -> list[Tensor] | None:
    """The fused kernels' gradient handling under a GradScaler: ``None`` (skip the step)
    when ``found_inf`` is set, else the gradients divided by ``grad_scale``."""
    if found_inf is not None and float(found_inf._data) != 0:
        return None
    if grad_scale is None:
        return grads
    inv = 1.0 / float(grad_scale._data)
    return [_make((g._data * inv).astype(g._data.dtype, copy=False)) for g in grads]


#: Tensors up to this many elements are batched by the multi-tensor path: below it the
#: per-call overhead of a parameter's ~15 NumPy calls outweighs copying it in and out.
MULTI_TENSOR_MAX_NUMEL = 4096
#: ... and only in batches of at least this many: gathering and scattering a few tensors
#: costs about what their separate updates do.
MULTI_TENSOR_MIN_COUNT = 8


def run_kernel(update: Callable[..., Any], params: list[Tensor], grads: list[Tensor],
               states: Sequence[Sequence], steps: Sequence[Tensor] | None, differentiable: bool,
               extra: Sequence[Sequence] = (), foreach: bool | None = None,
               **hyper: Any) -> None:
    """Apply ``update(K, p, g, step, *states, *extra, **hyper)`` to every parameter.

    ``p``, ``g`` and the ``states`` entries (one list per state entry, empty where the
    algorithm's option leaves it out) arrive as arrays on the fast path and as Tensors when
    ``differentiable``; ``extra`` entries (0-d scalar states such as NAdam's ``mu_product``)
    always arrive as Tensors. Each ``steps`` counter is incremented first and ``step`` is its
    new value as a float (``None`` without counters).

    Unless ``foreach=False`` (or on the recorded path, or with ``extra`` state), small
    parameters sharing a dtype and a step count are updated together by one call on their
    concatenation, then copied back: the update is elementwise, so every element gets
    exactly the value the per-parameter loop gives it."""
    n = len(params)
    if differentiable:
        K, ps, gs = TensorOps, params, grads
        cols = [s if s else [None] * n for s in states]
    else:
        K = ArrayOps()
        ps, gs = [p._data for p in params], [g._data for g in grads]
        cols = [[t._data for t in s] if s else [None] * n for s in states]
    if not differentiable and any(p.dtype.kind == "c" for p in ps):
        # complex numbers are updated as pairs of independent reals, as in PyTorch
        ps, gs = [_as_real(a) for a in ps], [_as_real(a) for a in gs]
        cols = [[None if a is None else _as_real(a) for a in c] for c in cols]
    step_values: list = [None] * n
    if steps is not None:
        for i, t in enumerate(steps):
            data = t._data
            # (an item assignment: ``+= 1`` on a 0-d array costs 20x more)
            data[()] = float(data) + 1.0
            step_values[i] = float(data)
    done: set = set()
    if (foreach is not False and not differentiable and not extra
            and n >= MULTI_TENSOR_MIN_COUNT):
        done = _run_batched(update, K, ps, gs, cols, step_values, hyper)
    cols += list(extra)
    for i, (p, g, step, *entries) in enumerate(zip(ps, gs, step_values, *cols)):
        if i not in done:
            update(K, p, g, step, *entries, **hyper)
            K.release()
    if not differentiable:
        for p in params:
            p._bump_version()


def _as_real(a):
    """A real view of a complex array (real and imaginary parts interleaved)."""
    if a.dtype.kind != "c":
        return a
    if not a.flags.c_contiguous:
        raise RuntimeError("complex parameters, gradients and optimizer state must be "
                           "contiguous")
    return a.reshape(-1).view(a.real.dtype)    # (reshape: a 0-d array cannot change dtype)


def _run_batched(update: Callable[..., Any], K: ArrayOps, ps: list, gs: list, cols: list,
                 step_values: list, hyper: dict) -> set:
    """The multi-tensor path: one ``update`` per (dtype, step) batch of small tensors.
    Returns the indices it updated."""
    batches: dict = {}
    for i, (p, g) in enumerate(zip(ps, gs)):
        if p.size <= MULTI_TENSOR_MAX_NUMEL:
            batches.setdefault((p.dtype, g.dtype, step_values[i]), []).append(i)
    done: set = set()
    for (_, _, step), idx in batches.items():
        if len(idx) < MULTI_TENSOR_MIN_COUNT:
            continue
        flat_p = xp.concatenate([ps[i].reshape(-1) for i in idx])
        flat_g = xp.concatenate([gs[i].reshape(-1) for i in idx])
        flat_states = [xp.concatenate([c[i].reshape(-1) for i in idx])
                       if c[idx[0]] is not None else None for c in cols]
        update(K, flat_p, flat_g, step, *flat_states, **hyper)
        K.release()
        start = 0
        for i in idx:
            p = ps[i]
            stop = start + p.size
            p[...] = flat_p[start:stop].reshape(p.shape)
            for c, flat in zip(cols, flat_states):
                if flat is not None:
                    c[i][...] = flat[start:stop].reshape(p.shape)
            start = stop
        done.update(idx)
    return done


def direction(K, g, p, weight_decay: float, maximize: bool):
    """The gradient an update uses: ``(-g if maximize else g) + weight_decay*p``.

    It is ``g`` itself when neither applies, so kernels must not write into the result."""
    if maximize:
        g = K.neg(g)
    if weight_decay != 0:
        g = K.add(g, p, alpha=weight_decay)
    return g


def rdiv32(num: float, den):
    """``num / den`` for a float32 ``den`` as PyTorch evaluates ``number / tensor`` on its
    recorded (differentiable) path: ``den.reciprocal() * num``, in float32."""
    return (xp.float32(1) / den) * xp.float32(num)
