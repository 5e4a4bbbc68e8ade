"""The flat-buffer path behind ``foreach=True`` and ``fused=True``.

PyTorch's multi-tensor (``foreach``) and fused kernels update all of a group's parameters with
a handful of kernel launches. On NumPy the cost to remove is the Python around each NumPy
call (a per-parameter update is ~15 calls), so this path keeps each parameter group's
parameters and their optimizer state **permanently viewed into flat buffers**, one per dtype:
``p._data`` (and ``state["exp_avg"]._data``, ...) become reshaped slices of one 1-D array. A
step then concatenates the gradients once and runs the algorithm's per-parameter kernel
(``_adam_update``, ...) once on the whole flat buffers: the update happens in place and every
parameter sees it, with no copy back. (On large buffers the kernel runs in cache-sized
chunks, and a tensor of a chunk or more is stepped with its own gradient, uncopied.) Scalar
state (``step``, NAdam's ``mu_product``) lives the same way in a small float32 array, so the
step counters advance with one NumPy call.

Why permanent views rather than concatenating parameters and state every step: a step then
copies only the gradients (one pass) instead of parameters and every state buffer in and
out (for Adam ~6 passes over the model, plus a Python slice-assignment per tensor and
buffer). Parameters keep their identity, ``requires_grad``, ``grad`` and version counter
(bumped by every step, as in the loop); only the array behind them moves, once, at the first
flat step (and again if the group's membership changes). The one visible consequence: an
array taken from a parameter before that (``p.data``, ``p.numpy()``, a view) no longer
aliases it. See docs/optim.md.

The kernels are elementwise, so every element receives exactly the operations the
per-parameter loop gives it: results are bitwise equal to the loop (tests/optim/test_flat.py).

Each step re-checks, with identity comparisons that loop in C, that the group's parameter
list, each member's array, state dict and state arrays are still the ones the buffers hold
(``p.data = ...``, ``load_state_dict`` and ``module.to`` replace them); a mismatch, a
parameter getting its first gradient or a changed dtype re-sorts the group and, where the
members changed, rebuilds the buffers from the current values (``add_param_group`` makes a
new group, with buffers of its own). Members without a gradient this step are skipped: the
update runs on each maximal contiguous run of members that have a gradient and share their
step counters (one run in the usual case).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter, is_, is_not, itemgetter
from typing import Any

from .._backend import ndarray, xp
from .._tensor import Tensor, _make
from ._kernel import ArrayOps

__all__ = ["flat_step", "use_flat", "check_fused_params", "capturable_error"]

_DATA = attrgetter("_data")
_GRAD = attrgetter("_grad")

#: PyTorch's device list in the ``capturable`` check of its foreach kernels (no ``xla``).
_FOREACH_CAPTURABLE = ["cuda", "xpu", "hpu", "privateuseone"]
_FUSED_DEVICES = ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]


def use_flat(group: dict[str, Any]) -> bool:
    """Whether ``group`` steps on the flat path: ``foreach=True`` or ``fused=True``, and not
    ``differentiable`` (that combination raises PyTorch's error from the loop's checks)."""
    return bool(group.get("foreach") or group.get("fused")) and not group.get("differentiable")


def capturable_error(what: str = "params and state_steps",
                     devices: Sequence[str] = _FOREACH_CAPTURABLE) -> AssertionError:
    """PyTorch's error when its foreach kernels meet ``capturable=True`` on CPU tensors."""
    return AssertionError(f"If capturable=True, {what} must be on supported devices: "
                          f"{list(devices)}.")


def check_fused_params(params: list[Tensor]) -> None:
    """PyTorch's check that ``fused=True`` meets only floating point parameters."""
    for p in params:
        if p._data.dtype.kind != "f":
            raise RuntimeError("`fused=True` requires all the params to be floating point "
                               f"Tensors of supported devices: {_FUSED_DEVICES} but "
                               f"{p.dtype} and cpu")


#: Elements per kernel call on a large run, so that the ~10 arrays a step touches stay in
#: cache (64k float32 elements: 256 KiB each) instead of streaming from memory once per
#: primitive. Measured on a 1.3M-element Adam step: 4k 35 ms (per-call overhead), 16k 18.5,
#: 32k 15.0, 64k 14.4, unchunked 22.8 ms (bench/RESULTS.md, "Optimizers: foreach/fused").
CHUNK = 1 << 16


class _Bucket:
    """The members of one dtype: their flat parameter, state and scalar-state buffers."""

    __slots__ = ("params", "states", "offsets", "flat_p", "flat_s", "flat_c", "views",
                 "ops")

    def __init__(self, params: list[Tensor], states: list[dict], keys: Sequence[str],
                 scalars: Sequence[str]) -> None:
        self.params, self.states = params, states
        self.offsets = _offsets([p._data.size for p in params])
        self.flat_p = _flatten(params)
        self.flat_s = {k: _flatten([s[k] for s in states]) for k in keys}
        self.flat_c = {k: _flatten_scalars([s[k] for s in states]) for k in scalars}
        # what the identity check compares against: each member's array, then per state
        # entry the members' state arrays
        self.views = [list(map(_DATA, params))] + [
            [s[k]._data for s in states] for k in (*keys, *scalars)]
        self.ops = ArrayOps()          # its scratch buffer is kept from step to step

    def valid(self, state: dict, names: Sequence[str]) -> bool:
        """Whether every member's arrays, state dict and state arrays are still the ones
        this bucket holds (``load_state_dict`` makes new state dicts; ``p.data = x`` and
        ``module.to`` new arrays). The loops run in C (``map``), a few µs per 100 tensors."""
        params, states, views = self.params, self.states, self.views
        if not all(map(is_, map(_DATA, params), views[0])):
            return False
        if names and not all(map(is_, map(state.get, params), states)):
            return False
        try:
            return all(all(map(is_, map(_DATA, map(itemgetter(k), states)), v))
                       for k, v in zip(names, views[1:]))
        except (KeyError, AttributeError):     # an entry removed, or not a Tensor
            return False


def _flatten(tensors: list[Tensor]):
    """Copy the tensors into one new 1-D buffer and point each one's array at its slice."""
    flat = xp.concatenate([t._data.reshape(-1) for t in tensors]) if tensors else None
    start = 0
    for t in tensors:
        n = t._data.size
        t._data = flat[start:start + n].reshape(t._data.shape)
        start += n
    return flat


def _flatten_scalars(tensors: list[Tensor]):
    """The same for 0-d scalar state (float32 ``step`` counters, ``mu_product``)."""
    flat = xp.array([t._data for t in tensors], dtype=xp.float32)
    for i, t in enumerate(tensors):
        t._data = flat[i:i + 1].reshape(())
    return flat


class _GroupCache:
    """A group's buckets, and what the fast check needs: the ids of the group's parameter
    list when they were built, and the parameters that are not members."""

    __slots__ = ("group", "ids", "others", "buckets", "all_real", "unique")

    def __init__(self, group: dict, members: list[Tensor], buckets: list[_Bucket]) -> None:
        self.group, self.buckets = group, buckets
        self.ids = list(map(id, group["params"]))
        held = set(map(id, members))
        self.others = [p for p in group["params"] if id(p) not in held]
        self.all_real = all(b.flat_p.dtype.kind == "f" for b in buckets)
        # a parameter listed twice is stepped again by the loop each step: no fast path
        self.unique = len(set(self.ids)) == len(self.ids)

    def still_valid(self, group: dict, state: dict, names: Sequence[str],
                    fused: bool) -> bool:
        """Nothing changed since the last step: the same parameters, none of the
        non-members has a gradient, and every member's arrays are the buffers' views."""
        return (self.unique and self.group is group
                and list(map(id, group["params"])) == self.ids
                and all(map(is_, map(_GRAD, self.others), repeat(None)))
                and (self.all_real or not fused)
                and all(b.valid(state, names) for b in self.buckets))


def _supported(p: Tensor) -> bool:
    """Parameters the flat buffers can hold: real or complex NumPy dtypes (not ember's
    tagged bfloat16), not views of another tensor, with memory that NumPy owns. Memory
    owned by something else (a shared mapping from ``share_memory_()`` for Hogwild
    training, ``frombuffer``) stays where it is: such a parameter takes the loop."""
    a = p._data
    d = a.dtype
    if d.kind not in "fc" or d.metadata is not None or p._base is not None:
        return False
    while isinstance(a.base, ndarray):
        a = a.base
    return a.base is None


def flat_step(opt, group: dict[str, Any], update: Callable[..., Any], keys: Sequence[str | None],
              init: Callable[[Tensor, dict, dict], None] | None, hyper: dict[str, Any], *,
              scalars: Sequence[str] = ("step",), extra: Sequence[str] = (),
              fused: bool = False, scaled: bool = False) -> list[Tensor]:
    """One step of ``group`` on the flat buffers.

    ``update(K, p, g, step, *states, *extra, **hyper)`` is the algorithm's per-parameter
    kernel; ``keys`` name its array-state arguments in order (``None`` for one the group's
    options leave out); ``scalars`` are the float32 0-d counters the driver increments
    (``step`` arrives as its new value); ``extra`` are 0-d states the kernel updates itself
    (it gets them as Tensors). ``init(p, state, group)`` fills a parameter's state before its
    first step (``None``: the state is made elsewhere, see SGD). With ``scaled``, the
    optimizer's ``grad_scale``/``found_inf`` attributes apply, as in the loop of the
    optimizers with a fused kernel.

    Returns the parameters with a gradient that the flat path left for the loop: those whose
    state is not made yet when ``init`` is ``None``, and those it cannot hold (bfloat16,
    views, a gradient of another shape or dtype).
    """
    if group.get("capturable") and not fused:
        raise capturable_error()  # CPU tensors: PyTorch's foreach path refuses it too
    state = opt.state
    names = [k for k in keys if k is not None]
    counters = (*scalars, *extra)
    caches = opt.__dict__.setdefault("_flat_buffers", {})
    cache = caches.get(id(group))
    leftover: list[Tensor] = []
    if cache is None or not cache.still_valid(group, state, (*names, *counters), fused):
        cache, leftover = _rebuild(opt, group, init, names, counters, fused)
    grad_scale = getattr(opt, "grad_scale", None) if scaled else None
    found_inf = getattr(opt, "found_inf", None) if scaled else None
    if found_inf is not None and float(found_inf._data) != 0:
        return []                       # the fused kernels skip the whole step (GradScaler)
    inv = None if grad_scale is None else 1.0 / float(grad_scale._data)
    for bucket in cache.buckets:
        _step_bucket(bucket, update, keys, scalars, extra, hyper, inv)
    return leftover


def _rebuild(opt, group: dict, init, names: list[str], counters: tuple[str, ...],
             fused: bool) -> tuple[_GroupCache, list[Tensor]]:
    """The slow path: make missing state, sort the group's parameters into members and
    leftovers, and rebuild the buffers if the members or their arrays changed."""
    state = opt.state
    active = [p for p in group["params"] if p._grad is not None]
    if fused:
        check_fused_params(active)
    if init is not None:
        for p in active:
            s = state[p]
            if not s:
                init(p, s, group)
    need = (*names, *counters)
    members: list[Tensor] = []
    leftover: list[Tensor] = []
    seen: set = set()
    for p in group["params"]:
        # (a duplicate entry is left to the loop, which updates it a second time)
        ok = id(p) not in seen and _supported(p)
        seen.add(id(p))
        g = p._grad
        if ok and g is not None:
            gd = g._data
            ok = gd.dtype == p._data.dtype and gd.shape == p._data.shape
        if ok and need:
            s = state.get(p)
            ok = s is not None and all(isinstance(s.get(k), Tensor) for k in need)
        if ok:
            members.append(p)
        elif g is not None:
            leftover.append(p)
    by_dtype: dict = {}
    for p in members:
        by_dtype.setdefault(p._data.dtype, []).append(p)
    caches = opt.__dict__["_flat_buffers"]
    live = set(map(id, opt.param_groups))
    for key in [k for k in caches if k not in live]:
        del caches[key]                 # groups replaced by load_state_dict: free their copy
    cache = caches.get(id(group))
    if (cache is not None and cache.group is group
            and [list(map(id, b.params)) for b in cache.buckets]
            == [list(map(id, ps)) for ps in by_dtype.values()]
            and all(b.valid(state, need) for b in cache.buckets)):
        # the same buffers still hold the members (a non-member got a gradient, ...)
        cache = caches[id(group)] = _GroupCache(group, members, cache.buckets)
        return cache, leftover
    buckets = [_Bucket(ps, [state[p] if need else {} for p in ps], names, counters)
               for ps in by_dtype.values()]
    cache = caches[id(group)] = _GroupCache(group, members, buckets)
    return cache, leftover


def _runs(grads: list, cols: list) -> list[tuple[int, int]]:
    """Maximal ranges of members that have a gradient and equal counters (``cols``)."""
    n = len(grads)
    if n == 0:
        return []
    if all(map(is_not, grads, repeat(None))) and all(bool((c == c[0]).all()) for c in cols):
        return [(0, n)]
    values = list(zip(*(c.tolist() for c in cols))) if cols else [()] * n
    runs, start = [], None
    for i, g in enumerate(grads):
        if g is None:
            if start is not None:
                runs.append((start, i))
            start = None
        elif start is None:
            start = i
        elif values[i] != values[start]:
            runs.append((start, i))
            start = i
    if start is not None:
        runs.append((start, n))
    return runs


def _step_bucket(bucket: _Bucket, update: Callable[..., Any], keys: Sequence[str | None],
                 scalars: Sequence[str], extra: Sequence[str], hyper: dict,
                 inv: float | None) -> None:
    params, offsets = bucket.params, bucket.offsets
    grads = list(map(_GRAD, params))
    # a run shares its counters (``step``; NAdam's ``mu_product`` too)
    cols = [bucket.flat_c[k] for k in (*scalars, *extra)]
    K = bucket.ops
    complex_ = bucket.flat_p.dtype.kind == "c"
    for i, j in _runs(grads, cols):
        step = None
        for k in scalars:
            c = bucket.flat_c[k][i:j]
            c += 1                              # float32, as the loop's counters
            step = float(c[0])
        ext = [_make(bucket.flat_c[k][i:i + 1].reshape(())) for k in extra]
        saved = [e._data.copy() for e in ext]
        for a, b, flat_g in _segments(grads, offsets, i, j):
            if inv is not None:
                flat_g = (flat_g * inv).astype(flat_g.dtype, copy=False)
            p = bucket.flat_p[a:b]
            states = [None if k is None else bucket.flat_s[k][a:b] for k in keys]
            if complex_:
                # complex numbers are updated as pairs of independent reals, as in PyTorch
                p, flat_g = p.view(p.real.dtype), flat_g.view(flat_g.real.dtype)
                states = [None if s is None else s.view(s.real.dtype) for s in states]
            for c0 in range(0, max(p.size, 1), CHUNK):
                # chunks keep the kernel's temporaries in cache on large buffers; an
                # ``extra`` state the kernel advances must advance once per step, not once
                # per call
                for e, v in zip(ext, saved):
                    e._data[()] = v
                c1 = c0 + CHUNK
                update(K, p[c0:c1], flat_g[c0:c1], step,
                       *(None if s is None else s[c0:c1] for s in states), *ext, **hyper)
        for k in extra:
            c = bucket.flat_c[k]
            c[i + 1:j] = c[i]                   # the run shares one value
        for q in params[i:j]:
            vc = q._vc                          # (Tensor._bump_version, inlined)
            if vc is None:
                q._vc = [1]
            else:
                vc[0] += 1


def _segments(grads: list, offsets: list[int], i: int, j: int):
    """``(start, stop, flat gradient)`` pieces covering members ``i:j``: consecutive small
    members' gradients concatenated (one copy, one kernel call for many tensors), a member
    of ``CHUNK`` elements or more on its own, its gradient used in place (no copy: for a
    large tensor the copy would cost about as much as a light update such as SGD's)."""
    pending = i
    for m in range(i, j):
        if offsets[m + 1] - offsets[m] < CHUNK:
            if offsets[m + 1] - offsets[pending] >= CHUNK:
                yield _concat(grads, offsets, pending, m + 1)
                pending = m + 1
            continue
        if pending < m:
            yield _concat(grads, offsets, pending, m)
        yield offsets[m], offsets[m + 1], grads[m]._data.reshape(-1)
        pending = m + 1
    if pending < j:
        yield _concat(grads, offsets, pending, j)


def _concat(grads: list, offsets: list[int], i: int, j: int):
    if j - i == 1:
        return offsets[i], offsets[j], grads[i]._data.reshape(-1)
    # (axis=None flattens each input in C, cheaper than a reshape call per grad)
    return offsets[i], offsets[j], xp.concatenate(list(map(_DATA, grads[i:j])), axis=None)


def _offsets(sizes: list[int]) -> list[int]:
    out, total = [0], 0
    for n in sizes:
        total += n
        out.append(total)
    return out
